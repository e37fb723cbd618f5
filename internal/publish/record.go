// Package publish writes per-frame detections as JSON lines, one object per
// frame, to a file or a NATS subject (optionally through JetStream, so that
// nothing is lost while the broker or a consumer is down). It is the pure-Go
// core of the reactpublish element: record formatting (by hand, allocation
// free), a bounded queue between the streaming thread and a publisher
// goroutine, and the file, NATS and JetStream sinks. It has no cgo.
//
// The record schema is documented in elements/reactpublish/SCHEMA.md; Record
// and ParseRecord are its Go form for consumers and tests.
package publish

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/gst-react/gst-react/internal/detection"
)

// SchemaVersion is not written into records; it names this layout in docs.
// Fields may be added in later versions, never renamed or retyped.
const SchemaVersion = 1

// WallTimeLayout is the layout of the wall_time field: RFC 3339 in UTC with
// all nine fraction digits, so every record's timestamp has the same width
// and sorts as a string.
const WallTimeLayout = "2006-01-02T15:04:05.000000000Z07:00"

// NoPTS is the pts_ns value of a buffer without a timestamp.
const NoPTS = -1

// Frame is what one record describes: one video frame and its boxes.
type Frame struct {
	Stream        string    // stream id (same as reactcloud's)
	Frame         uint64    // frame number in the stream (GstReactFrameMeta), 0-based
	PTS           int64     // buffer timestamp in ns, NoPTS (-1) when unset
	Wall          time.Time // when the element saw the frame
	Width, Height int       // frame size in pixels (boxes are in these pixels)
	Boxes         []detection.Detection
	// Labels[i] is the label of Boxes[i]; missing or empty entries are
	// written as "object".
	Labels []string
	// Policy is what reactcloud's schedule did on the frame; written (as
	// "policy") only when HasPolicy, i.e. a reactcloud is upstream.
	HasPolicy bool
	Policy    Policy
}

// Policy is a record's "policy" object: the offload policy's state on the
// frame (see SCHEMA.md). Reasons are internal/policy's names, "" for none.
type Policy struct {
	Name          string  `json:"name"`
	K             float64 `json:"k"`
	M             float64 `json:"m"`
	Detected      bool    `json:"detected"`
	DetectReason  string  `json:"detect_reason"`
	Offloaded     bool    `json:"offloaded"`
	OffloadReason string  `json:"offload_reason"`
}

var sourceNames = [...]string{detection.SourceEdge: "edge", detection.SourceTracked: "tracked", detection.SourceCloud: "cloud"}

// AppendRecord appends f as one JSON object (no trailing newline) to dst and
// returns the extended slice. It allocates only when dst has to grow: reuse
// the returned slice (dst[:0]) for the next frame.
func AppendRecord(dst []byte, f *Frame) []byte {
	dst = append(dst, `{"stream":`...)
	dst = appendString(dst, f.Stream)
	dst = append(dst, `,"frame":`...)
	dst = strconv.AppendUint(dst, f.Frame, 10)
	dst = append(dst, `,"pts_ns":`...)
	pts := f.PTS
	if pts < 0 {
		pts = NoPTS
	}
	dst = strconv.AppendInt(dst, pts, 10)
	dst = append(dst, `,"wall_time":"`...)
	dst = f.Wall.UTC().AppendFormat(dst, WallTimeLayout)
	dst = append(dst, `","width":`...)
	dst = strconv.AppendInt(dst, int64(f.Width), 10)
	dst = append(dst, `,"height":`...)
	dst = strconv.AppendInt(dst, int64(f.Height), 10)
	if f.HasPolicy {
		dst = appendPolicy(dst, &f.Policy)
	}
	dst = append(dst, `,"boxes":[`...)
	for i := range f.Boxes {
		d := &f.Boxes[i]
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"x1":`...)
		dst = appendFloat(dst, d.Box.X1)
		dst = append(dst, `,"y1":`...)
		dst = appendFloat(dst, d.Box.Y1)
		dst = append(dst, `,"x2":`...)
		dst = appendFloat(dst, d.Box.X2)
		dst = append(dst, `,"y2":`...)
		dst = appendFloat(dst, d.Box.Y2)
		dst = append(dst, `,"class_id":`...)
		dst = strconv.AppendInt(dst, int64(d.Class), 10)
		dst = append(dst, `,"label":`...)
		label := "object"
		if i < len(f.Labels) && f.Labels[i] != "" {
			label = f.Labels[i]
		}
		dst = appendString(dst, label)
		dst = append(dst, `,"score":`...)
		dst = appendFloat(dst, d.Score)
		dst = append(dst, `,"source":"`...)
		if int(d.Source) < len(sourceNames) {
			dst = append(dst, sourceNames[d.Source]...)
		} else {
			dst = append(dst, "unknown"...)
		}
		dst = append(dst, `","track_id":`...)
		dst = strconv.AppendInt(dst, int64(d.TrackID), 10)
		dst = append(dst, `,"age":`...)
		dst = strconv.AppendInt(dst, int64(d.Age), 10)
		dst = append(dst, '}')
	}
	return append(dst, "]}"...)
}

func appendPolicy(dst []byte, p *Policy) []byte {
	dst = append(dst, `,"policy":{"name":`...)
	dst = appendString(dst, p.Name)
	dst = append(dst, `,"k":`...)
	dst = appendInterval(dst, p.K)
	dst = append(dst, `,"m":`...)
	dst = appendInterval(dst, p.M)
	dst = append(dst, `,"detected":`...)
	dst = strconv.AppendBool(dst, p.Detected)
	dst = append(dst, `,"detect_reason":`...)
	dst = appendString(dst, p.DetectReason)
	dst = append(dst, `,"offloaded":`...)
	dst = strconv.AppendBool(dst, p.Offloaded)
	dst = append(dst, `,"offload_reason":`...)
	dst = appendString(dst, p.OffloadReason)
	return append(dst, '}')
}

// appendInterval writes an effective interval (frames) with at most three
// decimals; NaN, infinite or negative values as 0 (none).
func appendInterval(dst []byte, v float64) []byte {
	if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
		return append(dst, '0')
	}
	return strconv.AppendFloat(dst, math.Round(v*1000)/1000, 'f', -1, 64)
}

// appendFloat writes the shortest decimal that reads back as the same
// float32. JSON has no NaN or infinity: those are written as 0.
func appendFloat(dst []byte, v float32) []byte {
	f := float64(v)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(dst, '0')
	}
	return strconv.AppendFloat(dst, f, 'f', -1, 32)
}

const hexDigits = "0123456789abcdef"

// appendString writes s as a JSON string: quotes, backslashes and control
// characters escaped, invalid UTF-8 replaced by U+FFFD, and U+2028/U+2029
// escaped (as encoding/json does) so a line is also valid JavaScript.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// Record is one decoded JSON line (see SCHEMA.md).
type Record struct {
	Stream   string    `json:"stream"`
	Frame    uint64    `json:"frame"`
	PTSNs    int64     `json:"pts_ns"`
	WallTime time.Time `json:"wall_time"`
	Width    int       `json:"width"`
	Height   int       `json:"height"`
	Boxes    []Box     `json:"boxes"`
	// Policy is absent (nil) when no reactcloud was upstream.
	Policy *Policy `json:"policy,omitempty"`
}

// Box is one object of a Record.
type Box struct {
	X1      float32 `json:"x1"`
	Y1      float32 `json:"y1"`
	X2      float32 `json:"x2"`
	Y2      float32 `json:"y2"`
	ClassID int     `json:"class_id"`
	Label   string  `json:"label"`
	Score   float32 `json:"score"`
	Source  string  `json:"source"`
	TrackID int     `json:"track_id"`
	Age     int     `json:"age"`
}

var recordFields = map[string]string{
	"stream": "string", "frame": "uint", "pts_ns": "int", "wall_time": "time",
	"width": "uint", "height": "uint", "boxes": "array",
}

// optionalRecordFields may be absent; present, they are checked.
var optionalRecordFields = map[string]string{"policy": "object"}

var policyFields = map[string]string{
	"name": "string", "k": "number", "m": "number", "detected": "bool", "detect_reason": "string",
	"offloaded": "bool", "offload_reason": "string",
}

var boxFields = map[string]string{
	"x1": "number", "y1": "number", "x2": "number", "y2": "number", "class_id": "int",
	"label": "string", "score": "number", "source": "source", "track_id": "int", "age": "int",
}

// ParseRecord decodes one line and checks it against the schema strictly:
// every field present with its JSON type, no unknown fields, integers where
// integers belong, wall_time in RFC 3339, source one of edge, tracked, cloud.
// The error names the first offending field.
func ParseRecord(line []byte) (Record, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(line, &raw); err != nil {
		return Record{}, fmt.Errorf("not a JSON object: %w", err)
	}
	if err := checkFields(raw, recordFields, optionalRecordFields, ""); err != nil {
		return Record{}, err
	}
	if p, ok := raw["policy"]; ok {
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(p, &fields); err != nil {
			return Record{}, fmt.Errorf("policy: %w", err)
		}
		if err := checkFields(fields, policyFields, nil, "policy."); err != nil {
			return Record{}, err
		}
	}
	var boxes []map[string]json.RawMessage
	if err := json.Unmarshal(raw["boxes"], &boxes); err != nil {
		return Record{}, fmt.Errorf("boxes: %w", err)
	}
	for i, b := range boxes {
		if err := checkFields(b, boxFields, nil, fmt.Sprintf("boxes[%d].", i)); err != nil {
			return Record{}, err
		}
	}
	var r Record
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return Record{}, err
	}
	if r.WallTime.Location() != time.UTC {
		return Record{}, fmt.Errorf("wall_time %v is not in UTC", r.WallTime)
	}
	return r, nil
}

func checkFields(raw map[string]json.RawMessage, want, optional map[string]string, prefix string) error {
	for k, v := range raw {
		if _, ok := want[k]; ok {
			continue
		}
		typ, ok := optional[k]
		if !ok {
			return fmt.Errorf("unknown field %s%s", prefix, k)
		}
		if err := checkType(v, typ); err != nil {
			return fmt.Errorf("field %s%s = %s: %w", prefix, k, v, err)
		}
	}
	for k, typ := range want {
		v, ok := raw[k]
		if !ok {
			return fmt.Errorf("field %s%s is missing", prefix, k)
		}
		if err := checkType(v, typ); err != nil {
			return fmt.Errorf("field %s%s = %s: %w", prefix, k, v, err)
		}
	}
	return nil
}

func checkType(v json.RawMessage, typ string) error {
	var x any
	if err := json.Unmarshal(v, &x); err != nil {
		return err
	}
	switch typ {
	case "string", "source", "time":
		s, ok := x.(string)
		if !ok {
			return fmt.Errorf("want a string")
		}
		if typ == "source" {
			if _, err := detection.ParseSource(s); err != nil {
				return err
			}
		}
		if typ == "time" {
			if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
				return err
			}
		}
	case "number":
		if _, ok := x.(float64); !ok {
			return fmt.Errorf("want a number")
		}
	case "int", "uint":
		if _, ok := x.(float64); !ok {
			return fmt.Errorf("want an integer")
		}
		if _, err := strconv.ParseInt(string(v), 10, 64); err != nil {
			if _, err := strconv.ParseUint(string(v), 10, 64); err != nil {
				return fmt.Errorf("want an integer")
			}
		}
		if typ == "uint" && len(v) > 0 && v[0] == '-' {
			return fmt.Errorf("want a non-negative integer")
		}
	case "array":
		if _, ok := x.([]any); !ok {
			return fmt.Errorf("want an array")
		}
	case "object":
		if _, ok := x.(map[string]any); !ok {
			return fmt.Errorf("want an object")
		}
	case "bool":
		if _, ok := x.(bool); !ok {
			return fmt.Errorf("want true or false")
		}
	}
	return nil
}
