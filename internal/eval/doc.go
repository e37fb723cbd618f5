// Package eval is the accuracy harness behind `gstreact eval`: it replays a
// MOT-format sequence or a video file through REACT on a simulated clock,
// scores edge-only, cloud-only and fused output with package evalmetrics
// against the ground truth or the cloud model, and reports what each
// configuration spends.
//
// # Replay
//
// Nothing is reimplemented: the replay drives the same cores the GStreamer
// elements run, frame by frame, in one goroutine per replay:
//
//   - Edge path (reactdetect + reacttrack), EdgeStream: on every replayed
//     frame i with i mod k = 0 the edge detector's boxes go to
//     tracker.Tracks.Update, on every other frame tracker.Tracks.Step moves
//     the previous boxes; reacttrack's defaults (tracker.DefaultConfig).
//   - Cloud path (reactcloud's offload and fast-forward), CloudStream: every
//     frame t with t mod m = 0 is sent; the cloud detector's boxes for t are
//     delivered on frame t + DelayFrames(latency, fps) = t + ceil(latency × fps).
//     Delivery seeds an offload.Follower on frame t's pyramid and steps it to
//     the delivery frame in jumps of at most MaxJump (2) frames, as the
//     engine's fast-forward goroutine catches up over its ring; afterwards it
//     follows frame by frame until the next reply replaces it. The engine's
//     other rules apply too: at most MaxInflight (2) requests outstanding
//     (a frame due while two wait is skipped), replies older than the ring
//     (60 frames) are dropped, and a reply is followed for at most
//     MaxCloudAge (150) frames.
//   - Fusion, Fuse: fusion.Fuser.Fuse(local, cloud, cloudFresh, dst) on every
//     frame, cloudFresh on the first frame a reply's set is used.
//
// The simulated fast-forward is never late: on frame j the cloud set has been
// tracked to frame j. (The live engine runs it beside the streaming thread,
// so its set can trail by a frame or two; MaxLag does not arise here.) The
// cloud sees the decoded image, not the engine's JPEG re-encode at 1280
// columns; for the 736x1280 model that only changes the resampling.
//
// Modes: edge-only is the edge path's output; cloud-only is the cloud path's
// output (the followed cloud boxes with their scores, nothing before the
// first reply); fused is Fuse of the two. The edge path depends only on k and
// the cloud path only on (m, delay), so Sweep replays each once and fuses per
// grid point, which keeps fusion-parameter sweeps cheap.
//
// Pyramids are built once per source image with tracker.Pyramid.Build at
// offload.AutoScale(width) (480 columns or more) and 3 levels, the same as
// both elements, and kept in memory (about 170 KB per 1080p frame).
//
// # Policies
//
// The replay above is the fixed policy (REACT's k and m). With
// --policy adaptive, PolicyReplay replays the edge path, the cloud path and
// package policy's controller together on the same clock, as reactcloud
// policy=adaptive runs them live: on every frame the policy sees the edge
// path's boxes, whether the detector ran, the scene-change test, requests
// in flight, replies and their round trip (the simulated latency) and the
// bytes of each request sent (reactcloud's encoder, counted the frame after
// it is sent, as the engine's counters report them), and decides whether
// the frame is offloaded and whether the edge detector runs on the next
// one. Under a fixed policy PolicyReplay reproduces EdgeStream and
// CloudStream exactly. SweepAdaptive scores one adaptive replay per latency
// and fuses it per fusion setting; its rows report what was spent, measured
// as for fixed rows, and CompareAdaptive sets each against the fixed rows
// that spend no more uplink and no more edge runs.
//
// # Scoring
//
// Person class (COCO 0) against MOT ground truth: rows with eval=1
// (flag 1, class pedestrian) count, every other row is an ignore region
// (evalmetrics.FromMOT), detections of other classes are left out. Every
// replayed frame is one image; mAP@0.5 and mAP@[.5:.95] are COCO-style
// (101-point) from evalmetrics.Accumulator.COCO, as fractions.
//
// # References
//
// Reference (Options.Reference) chooses what is scored against: ReferenceGT
// is the scoring above; ReferenceCloud takes the cloud detector's boxes on
// every replayed frame (its output at latency 0, from the same cache) as the
// truth, every box of the scored classes counting, each class one term of
// the mean, with the same Accumulator. It needs no labels, so it scores
// unlabelled footage, but it measures agreement with the cloud model, not
// truth (cloud-only at m=1 and latency 0 scores 1 by construction).
// RankAgreement and Spearman compare the rankings two references give.
//
// # Video files
//
// LoadVideo turns a video file into a Sequence without ground truth: a
// VideoDecoder (internal/videodecode, GStreamer; the package itself has no
// GStreamer) decodes it once into a cache folder of JPEG frames (quality 95)
// with a seqinfo.ini holding the stream's frame rate, keyed by the file's
// sha256 and written through a temporary folder renamed into place. From
// there on it is a MOT folder like any other.
//
// # Cost
//
// Every Result carries a Cost per second of video: edge detector runs
// (every k-th frame), cloud requests (CloudSets.SentFrames: every m-th frame
// and scene changes, decided as offload.Engine decides them, less frames
// skipped for MaxInflight) and uplink kbit/s, each sent frame encoded once by
// offload.RequestEncoder, reactcloud's own JPEG encoder and wire format
// (Prepared.RequestBytes remembers the sizes).
//
// # Tuning
//
// Candidates, MarkFront and Choose (`gstreact tune`) turn a sweep into
// configurations with an accuracy and three costs, mark the Pareto front
// and pick the most accurate one inside a Budget.
//
// # Short sequences: ping-pong
//
// The shared sequences are tiny (MOT17-04-FRCNN-mini: 8 frames). PingPong
// extends one to the --loop length by playing it forward and backward
// (1..8, 7..2, 1..8, …): consecutive replayed frames are always neighbours in
// the original, so motion stays continuous for the trackers, and each
// replayed frame is a real frame with its own ground truth. Detector outputs
// for repeated frames come from memory (and the disk cache). Caveat: objects
// never move further than they do within the original frames, so a stale box
// stays roughly right however old it is; on such replays k and m matter less
// than on real, longer video.
//
// # Detector cache
//
// Prepare runs each detector once per source image and stores its boxes
// (score, class, box as exact float32) under <gst-react cache>/eval/dets
// (~/.cache/gst-react/eval), one JSON file per sha256 of (cache format
// version, model file sha256, image file sha256, score threshold, NMS
// threshold). Changing the model file, an image, or a threshold misses the
// cache; anything else (k, m, latency, fusion, --loop) reuses it, so sweeps
// run without ONNX Runtime. Delete the folder to clear it.
//
// # Determinism
//
// Same inputs, same numbers, byte for byte: there is no wall clock in the
// replay (latency is a frame count), each replay runs on one goroutine with
// its own tracker and fuser, parallel replays write only their own result
// slot, results are ordered by the grid, JPEG decoding is pure Go, and a run
// from the cache gives exactly the numbers of the run that filled it. The
// tracker is float32 Go arithmetic, identical on every amd64 machine; on
// arm64 and other architectures where Go fuses multiply-adds, the last bits
// can differ. ONNX Runtime's output can differ in the last bits between CPU
// types, so results are reproducible across machines for the same cache
// contents (copy ~/.cache/gst-react/eval along) rather than for every
// re-detection.
package eval
