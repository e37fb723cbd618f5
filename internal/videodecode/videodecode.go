// Package videodecode decodes a video file with GStreamer (any container and
// codec decodebin handles) into RGBA frames in presentation order, for
// `gstreact eval` (it implements eval.VideoDecoder). It keeps GStreamer out
// of internal/eval, which stays pure Go.
package videodecode

import (
	"context"
	"errors"
	"fmt"
	"image"
	"os"
	"regexp"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/go-gst/go-gst/gst"
	"github.com/go-gst/go-gst/gst/app"

	"github.com/gst-react/gst-react/internal/frame"
	"github.com/gst-react/gst-react/internal/gstvideo"
)

var initOnce sync.Once

// pipeline decodes the first video stream; other streams (audio) stay
// unlinked, which decodebin tolerates. Every frame is kept (no videorate),
// and the sink never drops: the pull loop sets the pace.
const pipeline = "filesrc name=src ! decodebin ! videoconvert ! video/x-raw,format=RGBA ! appsink name=frames sync=false max-buffers=4"

// pollEvery bounds how long the pull loop waits before looking at the bus
// and the context again.
const pollEvery = 100 * time.Millisecond

// Decode decodes path and calls fn with every frame (img is valid only
// during the call; an error from fn stops decoding and is returned). It
// returns the frame rate the stream declares or, for variable-rate streams
// that declare none, the mean rate of the frames' timestamps.
func Decode(ctx context.Context, path string, fn func(img *image.RGBA) error) (fps float64, err error) {
	st, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	if !st.Mode().IsRegular() {
		return 0, fmt.Errorf("%s is not a regular file", path)
	}
	if st.Size() == 0 {
		return 0, fmt.Errorf("%s is empty (0 bytes)", path)
	}
	initOnce.Do(func() { gst.Init(nil) })
	p, err := gst.NewPipelineFromString(pipeline)
	if err != nil {
		return 0, fmt.Errorf("video decoder pipeline: %w", err)
	}
	defer p.SetState(gst.StateNull)
	src, err := p.GetElementByName("src")
	if err != nil {
		return 0, err
	}
	if err := src.SetProperty("location", path); err != nil {
		return 0, err
	}
	sinkEl, err := p.GetElementByName("frames")
	if err != nil {
		return 0, err
	}
	sink := app.SinkFromElement(sinkEl)
	bus := p.GetPipelineBus()
	if err := p.SetState(gst.StatePlaying); err != nil {
		return 0, decodeError(path, bus, err)
	}

	var (
		vi             gstvideo.VideoInfo
		capsStr        string
		declared       float64
		n              int
		firstPTS, last int64 = -1, -1
		mapping        gstvideo.Mapping
	)
	for {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		sample := sink.TryPullSample(gst.ClockTime(pollEvery))
		if sample == nil {
			if msg := bus.TimedPopFiltered(0, gst.MessageError); msg != nil {
				return 0, decodeError(path, nil, msg.ParseError())
			}
			if sink.IsEOS() {
				break
			}
			continue
		}
		err := func() error {
			// Release the frame now, not at the next garbage collection: the
			// decoder's buffer pool would otherwise run dry on a long video.
			defer func() { runtime.SetFinalizer(sample, nil); sample.Unref() }()
			if caps := sample.GetCaps(); caps != nil && caps.String() != capsStr {
				capsStr = caps.String()
				var err error
				if vi, err = gstvideo.InfoFromCaps(caps); err != nil {
					return err
				}
				if vi.Format != frame.RGBA {
					return fmt.Errorf("decoder delivered %s, want RGBA", vi.Format)
				}
				declared = framerate(capsStr)
			}
			buf := sample.GetBuffer()
			if buf == nil {
				return nil
			}
			defer func() { runtime.SetFinalizer(buf, nil); buf.Unref() }()
			gb := gstvideo.BufferFromGst(buf)
			if pts := gb.PTS(); pts >= 0 {
				if firstPTS < 0 {
					firstPTS = pts
				}
				last = pts
			}
			f, err := mapping.Map(gb, &vi, false)
			if err != nil {
				return err
			}
			defer mapping.Unmap()
			img := &image.RGBA{Pix: f.Data[f.Offset[0]:], Stride: f.Stride[0], Rect: image.Rect(0, 0, f.Width, f.Height)}
			n++
			return fn(img)
		}()
		if err != nil {
			return 0, err
		}
	}
	if n == 0 {
		return 0, fmt.Errorf("%s: no video frames decoded (no video stream?)", path)
	}
	if declared > 0 {
		return declared, nil
	}
	if n > 1 && last > firstPTS {
		return float64(n-1) * 1e9 / float64(last-firstPTS), nil
	}
	return 0, fmt.Errorf("%s: the stream declares no frame rate and its timestamps give none", path)
}

var framerateRE = regexp.MustCompile(`framerate=\(fraction\)(\d+)/(\d+)`)

// framerate reads the caps' frame rate; 0 for variable rate (0/1) or none.
func framerate(caps string) float64 {
	m := framerateRE.FindStringSubmatch(caps)
	if m == nil {
		return 0
	}
	num, err1 := strconv.ParseFloat(m[1], 64)
	den, err2 := strconv.ParseFloat(m[2], 64)
	if err1 != nil || err2 != nil || num <= 0 || den <= 0 {
		return 0
	}
	return num / den
}

// decodeError says that path does not decode, with GStreamer's reason (from
// err, or the first error on the bus).
func decodeError(path string, bus *gst.Bus, err error) error {
	if bus != nil {
		if msg := bus.TimedPopFiltered(gst.ClockTime(time.Second), gst.MessageError); msg != nil {
			err = msg.ParseError()
		}
	}
	var gerr *gst.GError
	if errors.As(err, &gerr) && gerr.DebugString() != "" {
		return fmt.Errorf("%s does not decode as video: %s (%s)", path, gerr.Error(), gerr.DebugString())
	}
	return fmt.Errorf("%s does not decode as video: %w", path, err)
}
