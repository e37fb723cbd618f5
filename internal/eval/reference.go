package eval

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/gst-react/gst-react/internal/detection"
	"github.com/gst-react/gst-react/internal/evalmetrics"
)

// References a replay can be scored against.
const (
	// ReferenceGT is the sequence's MOT ground truth, person class.
	ReferenceGT = "gt"
	// ReferenceCloud is the cloud model run on every frame at latency 0: the
	// most expensive configuration, as the "golden configuration" of
	// Chameleon and AWStream (SIGCOMM 2018). Scores against it measure
	// agreement with the cloud model, not truth.
	ReferenceCloud = "cloud"
)

// CloudReferenceNote is said wherever cloud-reference numbers are printed.
const CloudReferenceNote = "cloud-reference scores measure agreement with the cloud model run on every frame at latency 0, not truth"

// Reference is what a replay's output is scored against.
type Reference struct {
	// Kind is ReferenceGT or ReferenceCloud ("" counts as ReferenceGT).
	Kind string
	// Classes are the COCO class ids scored against the cloud reference, each
	// a class of its own in the mean (ReferenceGT always scores the person
	// class: MOT ground truth labels pedestrians).
	Classes []int
	// AP is how precision/recall curves become AP: evalmetrics.Interp101
	// (COCO, the zero value) or EveryPoint (PASCAL VOC 2010+, the metric of
	// the Python/OpenCV REACT reference in ../shared/tools), for comparing
	// with tools that report it. Both matchings are COCO's.
	AP evalmetrics.Interpolation
}

// DefaultReference is the ground truth where the sequence has one, else the
// cloud reference over classes.
func DefaultReference(s *Sequence, classes []int) Reference {
	if s.Labelled() {
		return Reference{Kind: ReferenceGT}
	}
	return Reference{Kind: ReferenceCloud, Classes: classes}
}

func (r Reference) kind() string {
	if r.Kind == "" {
		return ReferenceGT
	}
	return r.Kind
}

// apName is Result.AP: empty for COCO's interpolation, else its name.
func (r Reference) apName() string {
	if r.AP == evalmetrics.Interp101 {
		return ""
	}
	return r.AP.String()
}

// ScoredClasses are the class ids the reference scores.
func (r Reference) ScoredClasses() []int {
	if r.kind() == ReferenceGT {
		return []int{PersonClass}
	}
	return r.Classes
}

// String names the reference for notes: "gt (person)", "cloud (classes 0-79)".
func (r Reference) String() string {
	if r.kind() == ReferenceGT {
		return "gt (MOT ground truth, person class)"
	}
	return fmt.Sprintf("cloud (the cloud model on every frame at latency 0, classes %s)", FormatClasses(r.Classes))
}

// Check reports why r cannot score s, if it cannot.
func (r Reference) Check(s *Sequence) error {
	switch r.kind() {
	case ReferenceGT:
		if !s.Labelled() {
			what := "has no gt/gt.txt"
			if s.Video != "" {
				what = "is a video without ground truth"
			}
			return fmt.Errorf("sequence %s %s: use --reference cloud to score it against the cloud model", s.Name, what)
		}
	case ReferenceCloud:
		if len(r.Classes) == 0 {
			return fmt.Errorf("the cloud reference needs at least one class to score")
		}
	default:
		return fmt.Errorf("reference %q: want %s or %s", r.Kind, ReferenceGT, ReferenceCloud)
	}
	return nil
}

// FrameScorer scores a replay frame by frame against a reference.
type FrameScorer interface {
	// Add records replayed frame i's boxes.
	Add(i int, ds []detection.Detection) error
	// Score is the accuracy so far.
	Score() Score
}

// NewScorer starts scoring a replay of p in the given frame order. The
// ground truth uses the person-class Scorer; the cloud reference takes the
// cloud detector's boxes on each replayed frame as the truth, every box of a
// scored class counting (no ignore regions), with the same mAP code.
func (r Reference) NewScorer(p *Prepared, order []int) FrameScorer {
	if r.kind() == ReferenceGT {
		s := NewScorer(p, order)
		s.ap = r.AP
		return s
	}
	return &cloudScorer{p: p, order: order, acc: evalmetrics.New(r.Classes...), ap: r.AP}
}

// ScoreStream scores per-frame boxes against the reference.
func (r Reference) ScoreStream(p *Prepared, order []int, frames [][]detection.Detection) (Score, error) {
	s := r.NewScorer(p, order)
	for i, ds := range frames {
		if err := s.Add(i, ds); err != nil {
			return Score{}, err
		}
	}
	return s.Score(), nil
}

type cloudScorer struct {
	p     *Prepared
	order []int
	acc   *evalmetrics.Accumulator
	ap    evalmetrics.Interpolation
	gts   []evalmetrics.GT
	dets  []evalmetrics.Det
}

func (s *cloudScorer) Add(i int, ds []detection.Detection) error {
	s.gts = s.gts[:0]
	for _, d := range s.p.Cloud[s.order[i]] { // the accumulator drops unscored classes
		s.gts = append(s.gts, evalmetrics.GT{Class: d.Class, Box: d.Box})
	}
	s.dets = evalmetrics.FromDetections(s.dets[:0], ds)
	return s.acc.Add(i+1, s.gts, s.dets)
}

func (s *cloudScorer) Score() Score { return scoreOf(s.acc, s.ap) }

// scoreOf evaluates acc at COCO's IoU thresholds with interpolation ap.
func scoreOf(acc *evalmetrics.Accumulator, ap evalmetrics.Interpolation) Score {
	r := acc.Evaluate(evalmetrics.COCOIoUs(), ap)
	return Score{MAP50: r.MAP50, MAP5095: r.MAP}
}

// FormatClasses writes class ids compactly, runs as ranges: "0-79", "0,2,5-7".
func FormatClasses(classes []int) string {
	c := slices.Clone(classes)
	slices.Sort(c)
	c = slices.Compact(c)
	var b strings.Builder
	for i := 0; i < len(c); {
		j := i
		for j+1 < len(c) && c[j+1] == c[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(c[i]))
		if j > i {
			b.WriteByte('-')
			b.WriteString(strconv.Itoa(c[j]))
		}
		i = j + 1
	}
	return b.String()
}
