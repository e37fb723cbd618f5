// Package tracker carries detection boxes between detector frames for REACT
// (IoTDI 2023): the edge detector runs on every k-th frame and Median Flow
// (pyramidal Lucas–Kanade with forward–backward error filtering) moves the
// boxes on the frames in between. A second Tracks instance fast-forwards late
// cloud detections from their frame to the present over buffered pyramids.
//
// Per frame the element builds one Pyramid (luma at 1/Scale of the frame,
// e.g. 960x540 for 1080p at Scale 2) and shares it between all objects and both
// Tracks instances. Boxes are always in frame pixels. Everything is pure Go and
// allocation-free in steady state: buffers are reused from frame to frame.
package tracker
