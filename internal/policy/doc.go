// Package policy is Adaptive REACT's controller: on every frame it reads what
// the pipeline observed (the live boxes, whether the edge detector ran, a scene
// change, the cloud's state, round trip, timeouts and load, the bytes sent) and
// decides whether this frame goes to the cloud and whether the edge detector
// runs on the next frame, within budgets it never exceeds.
//
// The same Policy runs inside the reactcloud element (which tells reactdetect
// upstream when to detect) and inside `gstreact eval` on its simulated clock,
// so what the eval measures is what ships. It imports neither GStreamer nor
// cgo, keeps no wall clock (time is the frame count at Config.FPS), and
// allocates nothing per frame once its buffers have grown.
//
// # Modes
//
// Fixed is REACT as published and as the elements run without a policy: the
// edge detector on every K-th frame, every M-th frame and scene changes to the
// cloud, whatever happens. Budgets are not applied.
//
// Adaptive spends where the scene needs it. The edge detector runs early when
// tracks are lost or failing (a coasting track's score falls) or the last
// detection found objects no track explained (new tracks are fragile); the
// cloud gets a frame early on a scene change, on edge boxes the edge model is
// unsure of, on new objects and lost tracks; otherwise both fall back to base
// intervals derived from the budgets. It backs off the cloud when replies slow
// towards the request timeout, when requests time out, or when the worker
// reports queueing (replies carry its queue wait: over half a service time,
// and the edge keeps one request at a time there and waits about as long as
// it queued before the next), and probes a cloud that is down only at the
// floor rate.
//
// # Budgets and floors
//
// Budgets hold over every window of Budgets.Window (frames at Config.FPS): the
// edge detector runs, the requests and the request bytes in any window ending
// at a frame stay within EdgeFPS, CloudRPS and UplinkKbps times the window. A
// request's size is known only once it is encoded, so the uplink check uses
// the largest of the recent requests as the estimate for the next one, and a
// request counts at that estimate until its bytes are reported (Signals.SentBytes).
// Floors keep anything from starving: a detection at least every MaxInterval
// frames and, while the cloud is up, an offload at least every OffloadEvery;
// a budget still wins over a floor (Validate rejects floors the budgets
// cannot pay for).
package policy
