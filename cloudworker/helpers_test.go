package cloudworker

import (
	"bytes"
	"context"
	"encoding/binary"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/gst-react/gst-react/internal/natsserver"
	"github.com/gst-react/gst-react/internal/natsserver/natsservertest"
	"github.com/gst-react/gst-react/internal/testassets"
	"github.com/gst-react/gst-react/internal/wire"
)

// Models: the cloud model where the boxes matter; the edge model (about 8x
// cheaper per inference on these 2-core machines) where only plumbing is tested.
const (
	cloudModel = "yolox_nano_736x1280"
	fastModel  = "yolox_nano_416x416"
)

func testLogger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func startNATS(t testing.TB) *natsserver.Server {
	t.Helper()
	return natsservertest.Start(t, natsserver.Options{NoLog: true})
}

// newWorker makes and starts a worker on url with the given model; mod
// adjusts the options. Stopped at cleanup.
func newWorker(t testing.TB, url, model string, mod func(*Options)) *Worker {
	t.Helper()
	testassets.InitORT(t)
	o := Options{
		NATSURL:       url,
		ModelPath:     testassets.Model(t, model),
		Logger:        testLogger(),
		ReconnectWait: 50 * time.Millisecond,
		DrainTimeout:  10 * time.Second,
	}
	if mod != nil {
		mod(&o)
	}
	w, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(context.Background()); err != nil {
		w.Stop()
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Stop() })
	return w
}

func connect(t testing.TB, url string) *nats.Conn {
	t.Helper()
	return natsservertest.Connect(t, url, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond), nats.RetryOnFailedConnect(true))
}

var (
	assetOnce sync.Once
	assetJPEG []byte
	assetErr  error
)

// frameJPEG is MOT17-04 frame 1, 1920x1080.
func frameJPEG(t testing.TB) []byte {
	t.Helper()
	dir := testassets.SharedAssets(t)
	assetOnce.Do(func() {
		assetJPEG, assetErr = os.ReadFile(filepath.Join(dir, "video", "MOT17-04-FRCNN-mini", "img1", "000001.jpg"))
	})
	if assetErr != nil {
		t.Fatal(assetErr)
	}
	return assetJPEG
}

// request builds a valid request for j (its header decides JPEG dims), frame
// size = JPEG size unless given.
func request(t testing.TB, j []byte, frameW, frameH int) wire.Request {
	t.Helper()
	w, h, err := wire.JPEGDims(j)
	if err != nil {
		t.Fatal(err)
	}
	if frameW == 0 {
		frameW, frameH = w, h
	}
	return wire.Request{StreamID: "cam-test", Frame: 42, PTS: wire.NoPTS, SentAt: time.Now().UnixNano(), TimeoutMS: 0,
		Width: frameW, Height: frameH, JPEGWidth: w, JPEGHeight: h, JPEG: j}
}

func encode(t testing.TB, r *wire.Request) []byte {
	t.Helper()
	msg, err := wire.AppendRequest(nil, r, wire.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

// ask sends msg and decodes the reply.
func ask(t testing.TB, nc *nats.Conn, msg []byte, timeout time.Duration) wire.Reply {
	t.Helper()
	return askOn(t, nc, wire.DefaultRequestSubject, msg, timeout)
}

// askOn is ask on another subject.
func askOn(t testing.TB, nc *nats.Conn, subject string, msg []byte, timeout time.Duration) wire.Reply {
	t.Helper()
	m, err := nc.Request(subject, msg, timeout)
	if err != nil {
		t.Fatalf("request: %v", err)
	}
	rep, err := wire.DecodeReply(m.Data, wire.Limits{})
	if err != nil {
		t.Fatalf("reply does not decode: %v", err)
	}
	return rep
}

// downscale resizes img to w x h by averaging the source pixels under each
// destination pixel (a box filter: good enough for factor-of-2 tests).
func downscale(img image.Image, w, h int) *image.RGBA {
	b := img.Bounds()
	sw, sh := b.Dx(), b.Dy()
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		y0, y1 := y*sh/h, max((y+1)*sh/h, y*sh/h+1)
		for x := range w {
			x0, x1 := x*sw/w, max((x+1)*sw/w, x*sw/w+1)
			var r, g, bl, n uint32
			for sy := y0; sy < y1; sy++ {
				for sx := x0; sx < x1; sx++ {
					cr, cg, cb, _ := img.At(b.Min.X+sx, b.Min.Y+sy).RGBA()
					r, g, bl, n = r+cr>>8, g+cg>>8, bl+cb>>8, n+1
				}
			}
			dst.SetRGBA(x, y, color.RGBA{uint8(r / n), uint8(g / n), uint8(bl / n), 255})
		}
	}
	return dst
}

func encodeJPEG(t testing.TB, img image.Image, quality int) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: quality}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// setSOF patches the width and height in j's frame header (SOF0).
func setSOF(t testing.TB, j []byte, w, h int) {
	t.Helper()
	for i := 2; i+9 < len(j); {
		if j[i] != 0xFF {
			t.Fatal("no SOF found")
		}
		m, n := j[i+1], int(binary.BigEndian.Uint16(j[i+2:]))
		if m == 0xC0 || m == 0xC2 {
			binary.BigEndian.PutUint16(j[i+5:], uint16(h))
			binary.BigEndian.PutUint16(j[i+7:], uint16(w))
			return
		}
		i += 2 + n
	}
	t.Fatal("no SOF found")
}

// sosEnd is the offset just past j's first SOS segment: where scan data starts.
func sosEnd(t testing.TB, j []byte) int {
	t.Helper()
	for i := 2; i+4 < len(j); {
		m, n := j[i+1], int(binary.BigEndian.Uint16(j[i+2:]))
		if m == 0xDA {
			return i + 2 + n
		}
		i += 2 + n
	}
	t.Fatal("no SOS found")
	return 0
}

// waitFor polls cond until true or the timeout.
func waitFor(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	end := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
