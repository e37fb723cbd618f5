package eval

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	"github.com/gst-react/gst-react/internal/detection"
	"github.com/gst-react/gst-react/internal/frame"
	"github.com/gst-react/gst-react/internal/models"
	"github.com/gst-react/gst-react/internal/offload"
	"github.com/gst-react/gst-react/internal/tracker"
)

// FrameDetector runs one model on frames; *detector.Detector is one. The
// eval package itself never loads ONNX Runtime: the command opens detectors
// and passes them in, and tests may pass fakes.
type FrameDetector interface {
	Detect(f *frame.Frame) ([]detection.Detection, error)
	Close()
}

// Model is one detector of the replay (edge or cloud) and what identifies its
// outputs in the cache.
type Model struct {
	// Role names it in messages: "edge" or "cloud".
	Role string
	// Path is the model file; its sha256 is part of the cache key.
	Path string
	// ScoreThreshold and NMSThreshold are the decoder's; part of the key.
	ScoreThreshold, NMSThreshold float32
	// Preprocess is a preprocessing override (preprocess.ParseSpec form);
	// part of the key when set.
	Preprocess string
	// Open loads the detector. It is called at most once, on the first frame
	// whose outputs are not in the cache, so a fully cached run never loads
	// ONNX Runtime.
	Open func() (FrameDetector, error)

	sha string
}

// cacheVersion changes whenever the cached content or the way frames are
// decoded for the detector changes, so old entries are never misread.
const cacheVersion = "gstreact-eval-dets/1 decode=jpeg-bgrx"

// DefaultCacheDir is <gst-react cache>/eval (~/.cache/gst-react/eval).
func DefaultCacheDir() (string, error) {
	d, err := models.CacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(d, "eval"), nil
}

// Cache stores detector outputs on disk, one small JSON file per (model file
// sha256, image file sha256, score threshold, NMS threshold), under
// Dir/dets/<2 hex>/<sha256 of that key>.json. A zero Cache (Dir "") stores
// nothing. Entries are written to a temporary file and renamed, so concurrent
// runs never see half a file; a corrupt entry is recomputed.
type Cache struct {
	Dir string
}

type cachedBox struct {
	B [4]float32 `json:"b"` // x1, y1, x2, y2 in frame pixels
	S float32    `json:"s"`
	C int        `json:"c"`
}

type cacheEntry struct {
	Version        string      `json:"version"`
	Role           string      `json:"role"`
	Model          string      `json:"model"`
	ModelSHA256    string      `json:"model_sha256"`
	Image          string      `json:"image"`
	ImageSHA256    string      `json:"image_sha256"`
	ScoreThreshold float32     `json:"score_threshold"`
	NMSThreshold   float32     `json:"nms_threshold"`
	Boxes          []cachedBox `json:"boxes"`
}

func (c *Cache) key(m *Model, imageSHA string) string {
	key := fmt.Appendf(nil, "%s\nmodel=%s\nimage=%s\nscore=%g\nnms=%g\n",
		cacheVersion, m.sha, imageSHA, m.ScoreThreshold, m.NMSThreshold)
	if m.Preprocess != "" { // only then: the keys of existing entries stay valid
		key = fmt.Appendf(key, "preprocess=%s\n", m.Preprocess)
	}
	h := sha256.Sum256(key)
	return hex.EncodeToString(h[:])
}

func (c *Cache) path(key string) string {
	return filepath.Join(c.Dir, "dets", key[:2], key+".json")
}

func (c *Cache) load(m *Model, imageSHA string) ([]detection.Detection, bool) {
	if c == nil || c.Dir == "" {
		return nil, false
	}
	data, err := os.ReadFile(c.path(c.key(m, imageSHA)))
	if err != nil {
		return nil, false
	}
	var e cacheEntry
	if json.Unmarshal(data, &e) != nil || e.Version != cacheVersion || e.ModelSHA256 != m.sha || e.ImageSHA256 != imageSHA {
		return nil, false
	}
	out := make([]detection.Detection, 0, len(e.Boxes))
	for _, b := range e.Boxes {
		out = append(out, detection.Detection{
			Box:   detection.Rect{X1: b.B[0], Y1: b.B[1], X2: b.B[2], Y2: b.B[3]},
			Score: b.S, Class: b.C, Source: detection.SourceEdge,
		})
	}
	return out, true
}

func (c *Cache) store(m *Model, image, imageSHA string, dets []detection.Detection) error {
	if c == nil || c.Dir == "" {
		return nil
	}
	e := cacheEntry{Version: cacheVersion, Role: m.Role, Model: filepath.Base(m.Path), ModelSHA256: m.sha,
		Image: image, ImageSHA256: imageSHA, ScoreThreshold: m.ScoreThreshold, NMSThreshold: m.NMSThreshold,
		Boxes: make([]cachedBox, 0, len(dets))}
	for _, d := range dets {
		e.Boxes = append(e.Boxes, cachedBox{B: [4]float32{d.Box.X1, d.Box.Y1, d.Box.X2, d.Box.Y2}, S: d.Score, C: d.Class})
	}
	data, err := json.Marshal(&e)
	if err != nil {
		return err
	}
	p := c.path(c.key(m, imageSHA))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("detection cache: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), ".tmp-*")
	if err != nil {
		return fmt.Errorf("detection cache: %w", err)
	}
	_, err = tmp.Write(data)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), p)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("detection cache: %w", err)
	}
	return nil
}

// Prepared is a sequence ready to replay: per source frame, the tracking
// pyramid and both detectors' outputs. Replays only read it, so any number
// may run on it at once.
type Prepared struct {
	Seq    *Sequence
	Width  int // frame size
	Height int
	// Scale and Levels of the pyramids: offload.AutoScale(Width) and 3, as
	// reacttrack and reactcloud build them.
	Scale, Levels int
	Pyr           []tracker.Pyramid
	Edge, Cloud   [][]detection.Detection
	Stats         PrepareStats

	requests requestSizes // offload request bytes per frame (RequestBytes)
}

// PrepareStats says where the detector outputs came from.
type PrepareStats struct {
	Frames              int
	EdgeCached, EdgeRun int
	CloudCached         int
	CloudRun            int
}

// PyramidLevels is the number of pyramid levels built per frame, the
// tracker's default (reacttrack's "levels" and the fast-forward's).
var PyramidLevels = tracker.DefaultConfig().Levels

// PrepareOptions tunes Prepare.
type PrepareOptions struct {
	Cache *Cache
	// Jobs decodes this many frames at once; 0 = GOMAXPROCS. Results do not
	// depend on it.
	Jobs int
	// Progress, when set, is told about each frame done: stage "decode"
	// (every frame), then "detect" (the frames the cache lacks).
	Progress func(stage string, done, total int)
}

// Prepare decodes every source frame once, builds its tracking pyramid, and
// gets both detectors' outputs, from the cache when it has them, else by
// running the detector (one frame at a time, in frame order) and storing the
// result. Detectors are opened only when needed and closed before returning.
func Prepare(ctx context.Context, seq *Sequence, edge, cloud *Model, opts PrepareOptions) (*Prepared, error) {
	for _, m := range []*Model{edge, cloud} {
		if m.sha == "" {
			sha, err := fileSHA256(m.Path)
			if err != nil {
				return nil, fmt.Errorf("%s model: %w", m.Role, err)
			}
			m.sha = sha
		}
	}
	n := len(seq.Frames)
	p := &Prepared{Seq: seq, Levels: PyramidLevels, Pyr: make([]tracker.Pyramid, n),
		Edge: make([][]detection.Detection, n), Cloud: make([][]detection.Detection, n)}
	p.Stats.Frames = n
	shas := make([]string, n)
	edgeHit, cloudHit := make([]bool, n), make([]bool, n)
	sizes := make([][2]int, n)

	// Pass 1, in parallel: hash, look up the cache, decode, build the pyramid.
	var (
		mu   sync.Mutex
		done int
	)
	err := parallel(ctx, opts.Jobs, n, func(i int) error {
		err := p.prepareFrame(i, shas, edgeHit, cloudHit, sizes, edge, cloud, opts.Cache)
		mu.Lock()
		done++
		if opts.Progress != nil {
			opts.Progress("decode", done, n)
		}
		mu.Unlock()
		return err
	})
	if err != nil {
		return nil, err
	}
	p.Width, p.Height = sizes[0][0], sizes[0][1]
	p.Scale = offload.AutoScale(p.Width)
	for i, sz := range sizes {
		if sz != sizes[0] {
			return nil, fmt.Errorf("sequence %s: frame %s is %dx%d, the first one %dx%d; all frames must have one size",
				seq.Name, seq.Frames[i].Path, sz[0], sz[1], p.Width, p.Height)
		}
	}

	// Pass 2, in order: run the detectors on the frames the cache lacks.
	var dets [2]FrameDetector
	defer func() {
		for _, d := range dets {
			if d != nil {
				d.Close()
			}
		}
	}()
	misses := 0
	for i := range n {
		if !edgeHit[i] || !cloudHit[i] {
			misses++
		}
	}
	done = 0
	for i := range n {
		if edgeHit[i] && cloudHit[i] {
			p.Stats.EdgeCached++
			p.Stats.CloudCached++
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		f, err := DecodeImage(seq.Frames[i].Path)
		if err != nil {
			return nil, err
		}
		for r, m := range []*Model{edge, cloud} {
			hit, out := edgeHit, p.Edge
			if r == 1 {
				hit, out = cloudHit, p.Cloud
			}
			if hit[i] {
				if r == 0 {
					p.Stats.EdgeCached++
				} else {
					p.Stats.CloudCached++
				}
				continue
			}
			if dets[r] == nil {
				if m.Open == nil {
					return nil, fmt.Errorf("%s detections for %s are not cached and no %s detector is available", m.Role, seq.Frames[i].Path, m.Role)
				}
				d, err := m.Open()
				if err != nil {
					return nil, fmt.Errorf("%s model %s: %w", m.Role, m.Path, err)
				}
				dets[r] = d
			}
			ds, err := dets[r].Detect(&f)
			if err != nil {
				return nil, fmt.Errorf("%s detector on %s: %w", m.Role, seq.Frames[i].Path, err)
			}
			ds = normalize(ds)
			if err := opts.Cache.store(m, seq.Frames[i].Path, shas[i], ds); err != nil {
				return nil, err
			}
			out[i] = ds
			if r == 0 {
				p.Stats.EdgeRun++
			} else {
				p.Stats.CloudRun++
			}
		}
		done++
		if opts.Progress != nil {
			opts.Progress("detect", done, misses)
		}
	}
	return p, nil
}

// normalize copies a detector's reused output and keeps only what the cache
// stores (box, score, class), so a fresh run and a cached run are identical.
func normalize(ds []detection.Detection) []detection.Detection {
	out := make([]detection.Detection, 0, len(ds))
	for _, d := range ds {
		out = append(out, detection.Detection{Box: d.Box, Score: d.Score, Class: d.Class, Source: detection.SourceEdge})
	}
	return out
}

func (p *Prepared) prepareFrame(i int, shas []string, edgeHit, cloudHit []bool, sizes [][2]int, edge, cloud *Model, cache *Cache) error {
	path := p.Seq.Frames[i].Path
	sha, err := fileSHA256(path)
	if err != nil {
		return err
	}
	shas[i] = sha
	p.Edge[i], edgeHit[i] = cache.load(edge, sha)
	p.Cloud[i], cloudHit[i] = cache.load(cloud, sha)
	f, err := DecodeImage(path)
	if err != nil {
		return err
	}
	sizes[i] = [2]int{f.Width, f.Height}
	if err := p.Pyr[i].Build(&f, offload.AutoScale(f.Width), PyramidLevels); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
