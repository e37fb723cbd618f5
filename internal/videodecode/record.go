package videodecode

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"github.com/go-gst/go-gst/gst"

	"github.com/gst-react/gst-react/internal/launch"
)

// recordTail is what Record puts after the input's source: Motion JPEG at
// high quality in Matroska. Any camera codec works the same way, the
// encoder is cheap, and Matroska keeps the frames' timestamps, from which
// Decode takes the rate of a stream that declares none (RTSP often does not).
const recordTail = " ! videoconvert ! video/x-raw,format=I420 ! jpegenc name=enc quality=90 ! matroskamux ! filesink location=%s"

// Record writes the first duration of input (an rtsp:// URL or any
// gstreact run --input) to path as Motion JPEG in Matroska, counting from
// the first frame, and returns the frames written. An input that delivers
// no frame within firstFrame, fails, or is cancelled is an error, and then
// path is removed: nothing half-written is left behind.
func Record(ctx context.Context, input, path string, duration, firstFrame time.Duration) (frames int, err error) {
	if duration <= 0 || firstFrame <= 0 {
		return 0, errors.New("record: duration and first-frame timeout must be > 0")
	}
	in, err := launch.ResolveInput(input)
	if err != nil {
		return 0, err
	}
	initOnce.Do(func() { gst.Init(nil) })
	p, err := gst.NewPipelineFromString(in.Source(0) + fmt.Sprintf(recordTail, launch.Quote(path)))
	if err != nil {
		return 0, fmt.Errorf("recording pipeline: %w", err)
	}
	defer func() {
		p.SetState(gst.StateNull)
		if err != nil {
			os.Remove(path)
		}
	}()
	enc, err := p.GetElementByName("enc")
	if err != nil {
		return 0, err
	}
	var n, firstAt atomic.Int64 // frames encoded; when the first was (unix ns)
	enc.GetStaticPad("src").AddProbe(gst.PadProbeTypeBuffer, func(*gst.Pad, *gst.PadProbeInfo) gst.PadProbeReturn {
		if n.Add(1) == 1 {
			firstAt.Store(time.Now().UnixNano())
		}
		return gst.PadProbeOK
	})
	bus := p.GetPipelineBus()
	if err := p.SetState(gst.StatePlaying); err != nil {
		return 0, recordError(input, bus, err)
	}
	start := time.Now()
	var eosBy time.Time // set once EOS was sent: the file must be finished by then
	for {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		msg := bus.TimedPopFiltered(gst.ClockTime(pollEvery), gst.MessageError|gst.MessageEOS)
		if msg != nil && msg.Type() == gst.MessageError {
			return 0, recordError(input, nil, msg.ParseError())
		}
		got := int(n.Load())
		if msg != nil { // EOS: the input ended (a file) or our EOS went through
			if got == 0 {
				return 0, fmt.Errorf("%s: the input ended without a video frame", input)
			}
			return got, nil
		}
		now := time.Now()
		switch {
		case got == 0 && now.Sub(start) > firstFrame:
			return 0, fmt.Errorf("%s: no video frame within %s (is the camera streaming? check the URL, credentials and that the stream has video)", input, firstFrame)
		case !eosBy.IsZero() && now.After(eosBy):
			return 0, fmt.Errorf("%s: the recording did not finish within 10 s of its end", input)
		case eosBy.IsZero() && got > 0 && now.Sub(time.Unix(0, firstAt.Load())) >= duration:
			// EOS at the source end lets the muxer finish the file.
			p.SendEvent(gst.NewEOSEvent())
			eosBy = now.Add(10 * time.Second)
		}
	}
}

// recordError is err, or the bus's error message when there is one.
func recordError(input string, bus *gst.Bus, err error) error {
	if bus != nil {
		if msg := bus.TimedPopFiltered(gst.ClockTime(time.Second), gst.MessageError); msg != nil {
			err = msg.ParseError()
		}
	}
	var gerr *gst.GError
	if errors.As(err, &gerr) && gerr.DebugString() != "" {
		return fmt.Errorf("recording %s: %s (%s)", input, gerr.Error(), gerr.DebugString())
	}
	return fmt.Errorf("recording %s: %w", input, err)
}
