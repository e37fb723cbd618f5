// Package mot reads MOTChallenge-style ground truth (gt/gt.txt) and computes
// the simple recall/precision figures the detector tests and tools report.
// Pure Go.
package mot

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/gst-react/gst-react/internal/detection"
)

// GTBox is one ground-truth row.
type GTBox struct {
	Frame   int // 1-based, as in MOT files
	TrackID int
	Box     detection.Rect
	// Eval marks rows that count (MOT rule: flag==1 and class==1, pedestrian);
	// the others are ignore regions or other classes.
	Eval       bool
	Class      int // MOT class id
	Visibility float32
}

// GroundTruth is a sequence's ground truth by frame.
type GroundTruth struct {
	Frames map[int][]GTBox
	Last   int
}

// LoadGT reads a MOT gt.txt (frame,id,left,top,width,height,flag,class,visibility).
// dir may be the sequence folder or the gt.txt path itself.
func LoadGT(path string) (*GroundTruth, error) {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		path = filepath.Join(path, "gt", "gt.txt")
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("ground truth: %w", err)
	}
	defer f.Close()
	gt := &GroundTruth{Frames: map[int][]GTBox{}}
	sc := bufio.NewScanner(f)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" {
			continue
		}
		fields := strings.Split(text, ",")
		if len(fields) < 6 {
			return nil, fmt.Errorf("%s:%d: want at least 6 comma-separated fields, got %d", path, line, len(fields))
		}
		nums := make([]float64, len(fields))
		for i, s := range fields {
			v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
			if err != nil {
				return nil, fmt.Errorf("%s:%d: field %d %q is not a number", path, line, i+1, s)
			}
			nums[i] = v
		}
		b := GTBox{Frame: int(nums[0]), TrackID: int(nums[1]), Eval: true, Class: 1, Visibility: 1}
		l, t, w, h := float32(nums[2]), float32(nums[3]), float32(nums[4]), float32(nums[5])
		// MOT boxes are 1-based pixel coordinates.
		b.Box = detection.Rect{X1: l - 1, Y1: t - 1, X2: l - 1 + w, Y2: t - 1 + h}
		if len(nums) >= 8 {
			b.Class = int(nums[7])
			b.Eval = nums[6] == 1 && b.Class == 1
		}
		if len(nums) >= 9 {
			b.Visibility = float32(nums[8])
		}
		if b.Frame < 1 {
			return nil, fmt.Errorf("%s:%d: frame %d, want >= 1", path, line, b.Frame)
		}
		gt.Frames[b.Frame] = append(gt.Frames[b.Frame], b)
		gt.Last = max(gt.Last, b.Frame)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return gt, nil
}

// Matches counts, for one frame, how many Eval ground-truth boxes are matched
// one-to-one (greedy by descending score) by detections with IoU >= iou.
func Matches(dets []detection.Detection, gts []GTBox, iou float32) (matched, total int) {
	used := make([]bool, len(gts))
	order := make([]int, len(dets))
	for i := range order {
		order[i] = i
	}
	for i := 1; i < len(order); i++ { // insertion sort by score, stable
		for j := i; j > 0 && dets[order[j]].Score > dets[order[j-1]].Score; j-- {
			order[j], order[j-1] = order[j-1], order[j]
		}
	}
	for _, g := range gts {
		if g.Eval {
			total++
		}
	}
	for _, di := range order {
		best, bi := iou, -1
		for gi, g := range gts {
			if used[gi] || !g.Eval {
				continue
			}
			if v := detection.IoU(dets[di].Box, g.Box); v >= best {
				best, bi = v, gi
			}
		}
		if bi >= 0 {
			used[bi] = true
			matched++
		}
	}
	return matched, total
}
