# gst-react: two commands for a newcomer on a fresh Debian machine:
#   make demo   # install everything, build, run REACT on the sample video
#   make test   # the test suite (what CI runs)

SHELL := /bin/bash
CACHE ?= $(or $(GSTREACT_CACHE),$(or $(XDG_CACHE_HOME),$(HOME)/.cache)/gst-react)
# A Go found on PATH, else the one install-deps.sh fetched into the cache.
GO ?= $(if $(wildcard $(CACHE)/go-1.26.0/bin/go),$(CACHE)/go-1.26.0/bin/go,$(or $(shell command -v go 2>/dev/null),$(CACHE)/go-1.26.0/bin/go))
BUILD := build
# Local folders with the model files, the default models and the optional zoo
# (this workplace has no internet); set-up
# verifies every file's sha256 either way.
MODELS_FROM ?= $(wildcard ../shared/assets/models ../shared/assets/models-zoo)
ORT_LIB ?=
# A handheld walk through a busy street (people, bicycles, cars); the
# synthetic test source where the shared clips are missing.
DEMO_INPUT ?= $(or $(firstword $(wildcard ../shared/assets/clips/tokyo_street_walk_handheld_moving.mp4 ../shared/assets/video/birds_1280x720_nogt.mp4)),test)
DEMO_OUTPUT ?= $(BUILD)/demo.mp4
# -p 1: the pipeline tests each use several threads; on 2 cores parallel
# packages only slow each other down.
TEST_FLAGS ?= -count=1 -p 1 -timeout 20m

export CGO_ENABLED := 1

.PHONY: setup deps build plugin cli demo test test-slow vet fmt bench clean fuzz soak

setup: deps cli
	$(BUILD)/gstreact setup $(foreach d,$(MODELS_FROM),--models-from $(d)) $(if $(ORT_LIB),--ort-lib $(ORT_LIB))

deps:
	./scripts/install-deps.sh

build: plugin cli

cli:
	@mkdir -p $(BUILD)
	$(GO) build -o $(BUILD)/gstreact ./cmd/gstreact

plugin:
	@mkdir -p $(BUILD)
	$(GO) build -buildmode=c-shared -o $(BUILD)/libgstreact.so ./plugin
	@rm -f $(BUILD)/libgstreact.h

demo: setup build
	$(BUILD)/gstreact run --input $(DEMO_INPUT) --output $(DEMO_OUTPUT)
	@echo "Open $(DEMO_OUTPUT) to see the boxes. gst-inspect-1.0 --gst-plugin-path=$(BUILD) react lists the elements."

test: setup plugin vet
	GSTREACT_PLUGIN_DIR=$(CURDIR)/$(BUILD) $(GO) test $(TEST_FLAGS) ./...
	$(MAKE) --no-print-directory fuzz

# The timing-sensitive tests (soak, cloud loss and recovery, slow cloud, RTSP
# outages, worker SIGKILL, bench) pinned to one core beside a CPU hog: they
# must pass on a slow, loaded machine as on a fast idle one (HOGS=4 squeezes
# harder, COUNT=3 repeats).
test-slow: setup plugin
	GO=$(GO) ./scripts/test-slow.sh

# The wire decoders face the network: fuzz each for a bounded number of
# inputs (FUZZTIME=5m or 50000000x for a longer hunt). New crashers land in
# testdata/fuzz. A count, not a duration: with a duration, Go 1.26's fuzz
# coordinator can fail a clean run with "context deadline exceeded" at the
# deadline (golang/go#75804, fixed in Go 1.27), and a count also does the same
# work on a slow machine as on a fast one (~3 s each here, idle).
FUZZTIME ?= 300000x
fuzz:
	for f in FuzzDecodeRequest FuzzDecodeReply FuzzJPEGDims; do \
	  $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) ./internal/wire || exit 1; done

# The long soak: 20000 frames through the full REACT chain while the cloud
# flaps, with leak checks (the short form, 600 frames, runs in make test).
SOAK_FRAMES ?= 20000
soak: setup plugin
	GSTREACT_PLUGIN_DIR=$(CURDIR)/$(BUILD) GSTREACT_SOAK_FRAMES=$(SOAK_FRAMES) $(GO) test -count=1 -run TestSoak -v -timeout 3h ./elements/

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || { gofmt -l .; echo "gofmt needed"; exit 1; }
	$(GO) vet ./...

# The Go benchmarks, then `gstreact bench`: every stage against its floor in
# one run (BENCH_FLAGS=--quick for a short one, --format json for JSON).
bench: setup cli
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 20x ./...
	$(BUILD)/gstreact bench $(BENCH_FLAGS)

clean:
	rm -rf $(BUILD)

# ARM64 edges (Jetson, Raspberry Pi 5, Rockchip boards), cross-built here; not
# part of `make test`. The first run installs the aarch64 cross gcc, an arm64
# sysroot of Debian's GStreamer packages and ONNX Runtime's arm64 library
# (all under $(CACHE), no :arm64 package in dpkg), then only rebuilds.
# smoke-arm64 runs the result under qemu-user: a few minutes at most.
.PHONY: deps-arm64 build-arm64 smoke-arm64
deps-arm64:
	./scripts/install-arm64-deps.sh --with-qemu

build-arm64:
	GO=$(GO) ./scripts/build-arm64.sh

smoke-arm64: build-arm64
	MODELS_FROM="$(MODELS_FROM)" ./scripts/smoke-arm64.sh
