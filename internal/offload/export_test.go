package offload

// cloudSet is what the fast-forward has published for Process to fuse: the
// frame the boxes were detected on, the frame they have been tracked to, and
// how many there are (0: no reply being followed in this generation).
func (e *Engine) cloudSet() (origin, frame uint64, boxes int) {
	e.pubMu.Lock()
	defer e.pubMu.Unlock()
	if e.pub.gen != e.gen.Load() {
		return 0, 0, 0
	}
	return e.pub.origin, e.pub.frame, len(e.pub.dets)
}
