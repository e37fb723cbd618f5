package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/gst-react/gst-react/internal/eval"
	"github.com/gst-react/gst-react/internal/labels"
	"github.com/gst-react/gst-react/internal/models"
	"github.com/gst-react/gst-react/internal/videodecode"
)

// What `gstreact eval` replays (MOT folders and video files) and what it
// scores against (--reference, --classes).

// parseReferences reads --reference: gt and/or cloud; empty = per sequence.
func parseReferences(vals []string) ([]string, error) {
	var out []string
	for _, v := range vals {
		v = strings.ToLower(v)
		if v != eval.ReferenceGT && v != eval.ReferenceCloud {
			return nil, fmt.Errorf("--reference %q: want %s (ground truth) or %s (the cloud model on every frame)", v, eval.ReferenceGT, eval.ReferenceCloud)
		}
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out, nil
}

// parseClasses reads --classes: COCO class names or ids, comma-separated.
func parseClasses(vals []string) ([]int, error) {
	names := labels.COCO()
	var out []int
	for _, v := range vals {
		id, err := strconv.Atoi(v)
		if err != nil {
			id = slices.IndexFunc(names, func(n string) bool { return strings.EqualFold(n, v) })
			if id < 0 {
				return nil, fmt.Errorf("--classes %q: not a COCO class name (e.g. person, car, bicycle) or a class id", v)
			}
		} else if id < 0 || id > 10000 {
			return nil, fmt.Errorf("--classes %d: class ids are 0 or more", id)
		}
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out, nil
}

// modelClassCount is the number of classes a model's head predicts, from the
// manifest entry with the file's name; COCO's 80 for other files.
func modelClassCount(path string) int {
	m := models.Embedded()
	for i := range m.Models {
		if m.Models[i].File == filepath.Base(path) {
			if n := m.Models[i].Output.NumClasses(); n > 0 {
				return n
			}
		}
	}
	return len(labels.COCO())
}

// sharedClasses are the class ids both models predict: the cloud reference's
// default.
func sharedClasses(edgePath, cloudPath string) []int {
	n := min(modelClassCount(edgePath), modelClassCount(cloudPath))
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

// loadSequences loads each path FindSequences returned: a folder as a MOT
// sequence, a file as a video whose frames are extracted once into
// framesDir.
func loadSequences(ctx context.Context, paths []string, framesDir string, jobs int, logf func(string, ...any)) ([]*eval.Sequence, error) {
	seqs := make([]*eval.Sequence, len(paths))
	for i, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if st.IsDir() {
			if seqs[i], err = eval.LoadSequence(p); err != nil {
				return nil, err
			}
			continue
		}
		name := filepath.Base(p)
		seqs[i], err = eval.LoadVideo(ctx, p, eval.VideoOptions{Dir: framesDir, Decode: videodecode.Decode, Jobs: jobs,
			Progress: func(n int) {
				if n == 1 || n%250 == 0 { // a first run only: later runs reuse the frames
					logf("  %s: decoding the video into the frame cache %s: %d frames", name, framesDir, n)
				}
			}})
		if err != nil {
			return nil, err
		}
	}
	return seqs, nil
}
