package offload

import (
	"github.com/gst-react/gst-react/internal/frame"
	"github.com/gst-react/gst-react/internal/tracker"
)

// What an offload costs, measured with the engine's own code so that
// `gstreact eval` reports what reactcloud would really send, without a NATS
// connection or an Engine running.

// RequestEncoder builds the request the engine's sender publishes for a
// frame: the same frame copy, YCbCr conversion, area-average downscale to
// JPEGMaxWidth, JPEG quality and wire framing (Engine.encodeRequest). Not
// safe for concurrent use; it reuses its buffers from call to call.
type RequestEncoder struct {
	eng *Engine // only cfg is used: encodeRequest reads the stream id, timeout and limits
	enc encoder
	j   job
}

// NewRequestEncoder encodes with cfg's JPEG and wire settings (start from
// DefaultConfig, as reactcloud does).
func NewRequestEncoder(cfg Config) *RequestEncoder {
	return &RequestEncoder{
		eng: &Engine{cfg: cfg},
		enc: encoder{quality: cfg.JPEGQuality, maxWidth: cfg.JPEGMaxWidth, fullRange: cfg.FullRangeYUV},
	}
}

// Encode returns the request message for frame frameNum and the size of the
// JPEG inside it. msg is valid until the next call.
func (r *RequestEncoder) Encode(f *frame.Frame, frameNum uint64) (msg []byte, jpegBytes int, err error) {
	if err := f.Validate(); err != nil {
		return nil, 0, err
	}
	r.j.copyFrame(f)
	r.j.frameNum = frameNum
	msg, err = r.eng.encodeRequest(&r.enc, &r.j)
	if err != nil {
		return nil, 0, err
	}
	r.j.msg = msg
	return msg, r.enc.out.Len(), nil
}

// SceneThumb is the small grey thumbnail the engine compares to decide a
// scene-change offload (Config.ChangeThreshold).
type SceneThumb [thumbW * thumbH]uint8

// From fills t from a frame's tracking pyramid, as Process does.
func (t *SceneThumb) From(p *tracker.Pyramid) {
	thumbnail((*[thumbW * thumbH]uint8)(t), &p.Levels[0])
}

// SceneDifference is the mean absolute difference of two thumbnails as a
// fraction of full scale, the value compared with Config.ChangeThreshold.
func SceneDifference(a, b *SceneThumb) float64 {
	return thumbDiff((*[thumbW * thumbH]uint8)(a), (*[thumbW * thumbH]uint8)(b))
}
