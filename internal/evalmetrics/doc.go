// Package evalmetrics measures object-detection accuracy: COCO-style mAP@0.5 and
// mAP@[.5:.95] with 101-point interpolation, and PASCAL VOC-style AP (every-point
// or 11-point interpolation) at any IoU threshold. Pure Go, standard library only
// (plus internal/detection for boxes and internal/mot for a ground-truth adapter).
//
// # Usage
//
// An [Accumulator] takes one frame at a time and keeps only boxes, never images:
//
//	acc := evalmetrics.New(0) // evaluate class 0 only; New() evaluates every class seen
//	var gts []evalmetrics.GT
//	var dets []evalmetrics.Det
//	for n := 1; n <= truth.Last; n++ { // truth from mot.LoadGT
//		gts = evalmetrics.FromMOT(gts[:0], truth.Frames[n], 0)
//		dets = evalmetrics.FromDetections(dets[:0], detectorOutput(n))
//		if err := acc.Add(n, gts, dets); err != nil {
//			return err
//		}
//	}
//	coco := acc.COCO()                          // coco.MAP is mAP@[.5:.95]; coco.MAP50, coco.MAP75
//	voc := acc.VOC(0.5, evalmetrics.EveryPoint) // voc.MAP is mAP@0.5, VOC 2010+ style
//
// All values are fractions in [0,1]. Results list classes in the order given to
// [New] (ascending class id when New had no arguments); a class without any
// countable ground truth has NumGT 0 and AP 0 and is left out of every mean,
// as pycocotools does (it reports -1 there). Evaluating does not consume the
// accumulator: frames can be added after COCO/VOC and the results recomputed.
// Output is deterministic: it depends only on the frames and the order they
// were added in, never on map order or timing.
//
// # Matching
//
// Every method matches the same way, once per IoU threshold t, per image and class:
//
//   - IoU is computed in float64 from the float32 corners. Boxes are continuous
//     (width x2-x1), as in pycocotools and [detection.IoU], unless
//     [Accumulator.Inclusive] selects the PASCAL devkit's and Padilla tool's
//     pixel-inclusive rule (width x2-x1+1).
//   - Detections are visited by descending score; equal scores keep the order
//     they were given to Add (stable), images in Add order.
//   - A detection takes the unmatched, non-ignored ground truth with the highest
//     IoU ≥ t (on equal IoU the later one, exactly as pycocotools). Only when no
//     such ground truth exists does it take an unmatched ignored one, and then it
//     is neither a true nor a false positive: it is dropped from the
//     precision/recall curve. Otherwise it is a false positive, so a second
//     detection on an already matched object is a false positive.
//   - Each ground truth is matched at most once, except a [GT] with Crowd set:
//     a crowd region absorbs any number of detections, and its IoU is the
//     intersection over the detection's area (pycocotools' iscrowd).
//   - Ignored (and crowd) ground truths do not count in recall's denominator.
//     Use them for MOT rows with the "considered" flag 0, distractor classes,
//     or whatever else the caller wants neither rewarded nor punished.
//   - The threshold is inclusive (IoU ≥ t, capped at 1-1e-10), as in
//     pycocotools and the Padilla tool; the PASCAL devkit uses IoU > t.
//
// # Interpolation
//
//   - [Interp101] (COCO): precision is made monotone (each value is the maximum
//     precision at any higher recall), sampled at the recall thresholds
//     linspace(0,1,101) with a left-sided search, unreached thresholds count as
//     0, and AP is the mean of the 101 samples. [Accumulator.COCO] uses the IoU
//     thresholds linspace(0.5,0.95,10) and reports AP@[.5:.95] (their mean),
//     AP@0.5 and AP@0.75.
//   - [EveryPoint] (VOC 2010+): the area under the monotone precision envelope
//     of the curve extended with (recall 0, precision 0) and (recall 1,
//     precision 0), summed over the points where recall changes.
//   - [ElevenPoint] (VOC 2007): the mean over r in {0, 0.1, …, 1} of the
//     maximum precision at recall ≥ r (0 when recall never reaches r).
//
// Recall thresholds are generated the way numpy does (i*0.01 and i*0.1, the
// last one exactly 1), so a recall that sits exactly on a threshold compares
// the way the reference tools compare it: 3*0.1 is 0.30000000000000004, so a
// recall of exactly 3/10 does not reach the 0.3 point, here as in
// pycocotools, pascalvoc.py and voc_eval.py.
//
// # Relation to the reference tools
//
// With these rules the COCO numbers equal pycocotools' COCOeval (bbox, area
// range "all") up to floating-point rounding (it adds 2.2e-16 to precision
// denominators and sums in a different order), provided no image has more than
// maxDets=100 detections of one class (pycocotools keeps only the 100 best;
// cap them before Add to reproduce that) and images are added in ascending id
// order (pycocotools sorts image ids, which decides ties across images).
//
// The VOC numbers equal Rafael Padilla's Object-Detection-Metrics tool
// (pascalvoc.py) and the PASCAL devkit when Inclusive is set and the matching
// agrees. The interpolation is identical; the matching differs in one corner
// case: those tools take the ground truth with the best IoU overall and call
// the detection a false positive when that one is already taken, where this
// package moves on to the best free one (the COCO rule). On the tool's
// published example (the test fixture, IoU ≥ 0.30) both give every-point AP
// 24.5687 % (published as 24.56 %, 24.57 % in the tool's own output) and
// 11-point AP 26.8398 %. The +1 matters there: with continuous boxes one
// detection's IoU drops from 0.3034 to 0.2953 and every-point AP to 22.54 %.
package evalmetrics
