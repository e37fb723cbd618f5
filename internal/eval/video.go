package eval

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
)

// VideoDecoder decodes the video file at path in presentation order and
// calls frame with each decoded frame (img is valid only during the call;
// an error from frame stops decoding and is returned). It returns the
// stream's frame rate in frames per second. This package has no GStreamer in
// it: the command passes internal/videodecode.Decode, tests may pass fakes.
type VideoDecoder func(ctx context.Context, path string, frame func(img *image.RGBA) error) (fps float64, err error)

// VideoFrameQuality is the JPEG quality of frames extracted from a video.
// Frames are stored as files so that the rest of the harness (detector cache
// keyed by image sha256, pure-Go decoding, pyramids) works on them exactly as
// on a MOT folder; 95 keeps the re-encoding far below the detectors' noise
// at about a tenth of the size of lossless PNG.
const VideoFrameQuality = 95

// videoFramesVersion is part of the extraction's cache key: change it when
// the way frames are extracted or stored changes.
const videoFramesVersion = "gstreact-eval-frames/1 rgba jpeg-q95"

// VideoOptions tunes LoadVideo.
type VideoOptions struct {
	// Dir holds the extracted frames, one folder per video content
	// (Dir/<key>/seqinfo.ini, img1/000001.jpg, …), reused by later runs.
	Dir string
	// Decode decodes the file; required when the frames are not in Dir yet.
	Decode VideoDecoder
	// Jobs encodes this many frames at once; 0 = GOMAXPROCS.
	Jobs int
	// Progress, when set, is told the frames extracted so far.
	Progress func(frames int)
}

// LoadVideo returns the video file at path as a sequence: its frames are
// decoded once into opts.Dir (keyed by the file's sha256, so a renamed or
// copied file is not decoded again, a changed one is) and the frame rate is
// the stream's. The sequence is named after the file and has no ground
// truth. A half-extracted video never stays in Dir: frames go to a temporary
// folder renamed into place once complete.
func LoadVideo(ctx context.Context, path string, opts VideoOptions) (*Sequence, error) {
	name := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	sha, err := fileSHA256(path)
	if err != nil {
		return nil, fmt.Errorf("video %s: %w", path, err)
	}
	if opts.Dir == "" {
		return nil, fmt.Errorf("video %s: no folder to extract its frames into", path)
	}
	key := sha256.Sum256([]byte(videoFramesVersion + "\n" + sha))
	final := filepath.Join(opts.Dir, hex.EncodeToString(key[:]))
	if _, err := os.Stat(filepath.Join(final, "seqinfo.ini")); err != nil {
		if err := extractVideo(ctx, path, name, sha, final, opts); err != nil {
			return nil, err
		}
	}
	s, err := LoadSequence(final)
	if err != nil {
		return nil, fmt.Errorf("video %s (frames in %s; delete that folder to extract them again): %w", path, final, err)
	}
	s.Name, s.Video = name, path
	return s, nil
}

// extractVideo decodes path into a temporary folder beside final and renames
// it to final once every frame and seqinfo.ini are written.
func extractVideo(ctx context.Context, path, name, sha, final string, opts VideoOptions) (err error) {
	if opts.Decode == nil {
		return fmt.Errorf("video %s: its frames are not extracted yet and no video decoder is available", path)
	}
	if err := os.MkdirAll(filepath.Dir(final), 0o755); err != nil {
		return fmt.Errorf("video frame cache: %w", err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(final), ".tmp-"+filepath.Base(final)[:16]+"-")
	if err != nil {
		return fmt.Errorf("video frame cache: %w", err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(tmp)
		}
	}()
	imgDir := filepath.Join(tmp, "img1")
	if err := os.Mkdir(imgDir, 0o755); err != nil {
		return fmt.Errorf("video frame cache: %w", err)
	}
	n, fps, size, err := writeFrames(ctx, path, imgDir, opts)
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("video %s: no video frames decoded (an empty or audio-only file?)", path)
	}
	if !(fps > 0 && fps <= 1000) {
		return fmt.Errorf("video %s: the stream gives no usable frame rate (%g fps)", path, fps)
	}
	ini := fmt.Sprintf("[Sequence]\nname=%s\nframeRate=%s\nseqLength=%d\nimWidth=%d\nimHeight=%d\nimDir=img1\nimExt=.jpg\n; extracted by gstreact eval (%s) from %s, sha256 %s\n",
		name, strconv.FormatFloat(fps, 'g', -1, 64), n, size.X, size.Y, videoFramesVersion, path, sha)
	if err := os.WriteFile(filepath.Join(tmp, "seqinfo.ini"), []byte(ini), 0o644); err != nil {
		return fmt.Errorf("video frame cache: %w", err)
	}
	if err := os.Rename(tmp, final); err != nil {
		if _, serr := os.Stat(filepath.Join(final, "seqinfo.ini")); serr == nil {
			os.RemoveAll(tmp) // another run extracted the same video first
			return nil
		}
		return fmt.Errorf("video frame cache: %w", err)
	}
	return nil
}

// writeFrames decodes path and writes each frame as imgDir/%06d.jpg,
// encoding on opts.Jobs goroutines while the decoder runs ahead.
func writeFrames(ctx context.Context, path, imgDir string, opts VideoOptions) (n int, fps float64, size image.Point, err error) {
	jobs := opts.Jobs
	if jobs <= 0 {
		jobs = runtime.GOMAXPROCS(0)
	}
	type work struct {
		num int
		img *image.RGBA
	}
	queue := make(chan work, jobs)
	free := make(chan *image.RGBA, 2*jobs) // decoded-frame buffers, reused
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		written int
	)
	for range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for w := range queue {
				if ctx.Err() == nil {
					if err := writeJPEG(filepath.Join(imgDir, fmt.Sprintf("%06d.jpg", w.num)), w.img); err != nil {
						cancel(err)
					}
					mu.Lock()
					written++
					if opts.Progress != nil {
						opts.Progress(written)
					}
					mu.Unlock()
				}
				select {
				case free <- w.img:
				default:
				}
			}
		}()
	}
	fps, err = opts.Decode(ctx, path, func(img *image.RGBA) error {
		if err := ctx.Err(); err != nil {
			return context.Cause(ctx)
		}
		b := img.Bounds()
		if n == 0 {
			size = b.Size()
		} else if b.Size() != size {
			return fmt.Errorf("frame %d is %dx%d, the first one %dx%d; all frames must have one size", n+1, b.Dx(), b.Dy(), size.X, size.Y)
		}
		var c *image.RGBA
		select {
		case c = <-free:
		default:
			c = image.NewRGBA(image.Rectangle{Max: size})
		}
		for y := range size.Y {
			copy(c.Pix[y*c.Stride:y*c.Stride+4*size.X], img.Pix[img.PixOffset(b.Min.X, b.Min.Y+y):])
		}
		n++
		select {
		case queue <- work{n, c}:
			return nil
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	})
	close(queue)
	wg.Wait()
	if cause := context.Cause(ctx); err == nil && cause != nil && !errors.Is(cause, context.Canceled) {
		err = cause // a write failed
	}
	if err != nil {
		return 0, 0, size, fmt.Errorf("video %s: %w", path, err)
	}
	return n, fps, size, nil
}

func writeJPEG(path string, img *image.RGBA) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(f, 256<<10)
	err = jpeg.Encode(bw, img, &jpeg.Options{Quality: VideoFrameQuality})
	if err == nil {
		err = bw.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
