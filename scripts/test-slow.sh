#!/usr/bin/env bash
# The timing-sensitive tests on a slow machine: each test binary runs pinned
# to one core (taskset -c 0) with a CPU hog pinned beside it, so everything
# runs at a fraction of its usual speed with scheduling hiccups. The suite
# must pass like this as it does on an idle fast machine (make test).
#   HOGS=4 scripts/test-slow.sh    # a harder squeeze (default 1 hog)
#   COUNT=3 scripts/test-slow.sh   # each test three times
# Needs the plugin built (make plugin) and the models installed (make setup).
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
HOGS=${HOGS:-1}
COUNT=${COUNT:-1}
export GSTREACT_PLUGIN_DIR=${GSTREACT_PLUGIN_DIR:-$PWD/build}

command -v taskset >/dev/null || { echo "test-slow: taskset (util-linux) is needed" >&2; exit 1; }

# package and -run pattern: soak, cloud loss and recovery, slow cloud, cloud
# state cycles, RTSP camera outages, worker SIGKILL, late replies, bench,
# NATS node loss, the shaped and cut link, loadtest steps, batching, streams
# overloading one worker (adaptive policy), queue waits in replies; and the
# rest of the timing audit (issue 11): replies over TLS, JetStream across a
# consumer or server restart, NATS restarts, worker concurrency, drain and
# reconnects, publisher outages, the input bridge, RTSP recording, two
# streams on one worker, the recipe with an external worker.
TESTS=(
  "./elements|^(TestSoak|TestCloudLossAndRecovery|TestSlowCloudDoesNotDelayFrames|TestCloudStateCycleWithRequestsInFlight|TestCloudFusionBeatsEdgeOnly|TestAdaptivePolicyDrivesTheDetector)$"
  "./elements/reactcloud|^TestTokenOverTLS$"
  "./elements/reactpublish|^TestPublishJetStreamNothingLost$"
  "./internal/offload|^(TestSlowCloudNeverDelaysFrames|TestCloudDownThenUp|TestLateRepliesFastForwardedAndFused|TestBadRepliesIgnoredAndCounted|TestReplyBeyondRingDropped|TestAdaptivePolicyBacksOffASlowingCloud|TestNATSRestart|TestSceneChangeTrigger|TestDuplicateRepliesIgnored)$"
  "./internal/runner|^(TestRunRTSPCameraLateStart|TestRunRTSPCameraStallReconnects|TestRunRTSPCameraOutageRTSPOut|TestRunAdaptiveStatusLineAndMetrics|TestRunStreamsShareOneWorker)$"
  "./pipelines|^(TestWorkerSIGKILLMidStream|TestClusterEdgeNodeDies|TestClusterWorkerNodeDies|TestClusterJetStreamPublishAcrossNodeLoss|TestLinkShapedAndCut|TestAdaptiveEdgesShareAnOverloadedWorker|TestRecipeReactWithExternalNATSAndWorker)$"
  "./internal/loadtest|."
  "./cloudworker|^(TestWorkerBatchesRequests|TestFixedBatchModelServesUnbatched|TestRepliesCarryTheQueueWait|TestConcurrentRequestsOverlap|TestStopDrainsInFlight|TestWorkerBeforeServerAndRestart|TestExtraLatencyDelaysReplies)$"
  "./internal/publish|^(TestDropWhenFull|TestJetStreamSurvivesServerRestart|TestJetStreamServerLate|TestJetStreamNotEnabled)$"
  "./internal/gstbridge|."
  "./internal/videodecode|^TestRecord"
  "./cmd/gstreact|^(TestBenchQuickJSON|TestCloudworkerCommand|TestCloudworkerBinarySIGTERM)$"
)

bin=$(mktemp -d)
hogs=()
cleanup() {
  [ ${#hogs[@]} -gt 0 ] && kill "${hogs[@]}" 2>/dev/null || true
  rm -rf "$bin"
}
trap cleanup EXIT

# Build first, at full speed: compiling is not what is being tested.
for t in "${TESTS[@]}"; do
  pkg=${t%%|*}
  "$GO" test -c -o "$bin/$(echo "$pkg" | tr -c 'a-z0-9\n' '_').test" "$pkg"
done

for _ in $(seq "$HOGS"); do
  taskset -c 0 sh -c 'while :; do :; done' &
  hogs+=($!)
done
echo "test-slow: $HOGS CPU hog(s) on core 0; every test pinned to core 0"

failed=0
for t in "${TESTS[@]}"; do
  pkg=${t%%|*} run=${t#*|}
  exe="$bin/$(echo "$pkg" | tr -c 'a-z0-9\n' '_').test"
  start=$(date +%s)
  # A test binary runs in its package folder, as go test runs it.
  if (cd "$pkg" && taskset -c 0 "$exe" -test.count="$COUNT" -test.timeout 60m -test.run "$run" -test.v > "$bin/out.log" 2>&1); then
    echo "ok    $pkg $(grep -c '^--- PASS' "$bin/out.log") passed ($(( $(date +%s) - start )) s)"
  else
    failed=1
    echo "FAIL  $pkg ($(( $(date +%s) - start )) s)"
    grep -E '^(---|\s+\S+_test\.go:)' "$bin/out.log" | tail -40
  fi
done
exit $failed
