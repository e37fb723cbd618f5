package tracker

import (
	"math"

	"github.com/gst-react/gst-react/internal/detection"
)

// KCF tracks one box at a time with a kernelized correlation filter
// (Henriques, Caseiro, Martins, Batista, "High-Speed Tracking with Kernelized
// Correlation Filters", TPAMI 2015): a ridge regression over every cyclic
// shift of a grey template, with a Gaussian kernel, solved and evaluated in
// the Fourier domain. The object's model (template and dual coefficients)
// lives in a KCFModel the caller keeps per object; KCF itself only holds
// scratch buffers and the FFT plans, so one instance serves every object of
// a stream. Boxes keep their size: only the centre is tracked, as OpenCV's
// TrackerKCF does and as Median Flow does with FollowScale off. Not safe for
// concurrent use; steady-state calls allocate nothing.
type KCF struct {
	p     kcfParams
	plans [kcfMaxLog + 1]*fftPlan
	shape [kcfMaxLog + 1][kcfMaxLog + 1]*kcfShape

	feat []float32   // template features, spatial
	zf   []complex64 // their spectrum
	kf   []complex64 // kernel correlation (spatial, then spectrum)
	col  []complex64 // column scratch of the 2-D FFT

	last KCFStats
}

// kcfParams are KCF's few parameters. They are not Config fields: they were
// tuned once, on TUD-Stadtmitte and OxfordTownCentre together (see the
// defaults in defaultKCFParams for what was measured), and the element
// exposes only the choice of tracker.
type kcfParams struct {
	padding float32 // the template spans the box times (1 + padding)
	side    int     // template pixels along the padded box's longer side (power of two)
	rate    float32 // model learning rate per tracked frame
	sigma   float32 // Gaussian kernel bandwidth (features in grey levels / 255)
	lambda  float32 // ridge regularisation
	outSig  float32 // label Gaussian sigma, as a fraction of the box's size in template pixels
	minPeak float32 // tracking fails when the response peak is below this
	// keepModel: a detection that keeps a track's id retrains its filter at
	// the learning rate instead of replacing it.
	keepModel bool
	// levelUp: the template is sampled from the coarsest pyramid level whose
	// pixel is at most levelUp cells (1: never coarser than the cell).
	levelUp float32
	// refine: a shift above this fraction of the template's side is
	// measured again from the new centre (0: never).
	refine float32
	// detRate: the learning rate of a retraining on a detection (Retrain).
	detRate float32
}

// defaultKCFParams: Henriques et al.'s grey-feature settings (rate, sigma,
// lambda, outSig) unless noted. Measured with `gstreact eval --tracker kcf`
// on TUD-Stadtmitte and OxfordTownCentre played once, k=5, m=10, latency 0,
// 300 ms and 1 s; "fused" is the mean fused mAP@0.5 of the three latencies,
// TUD / Oxford:
//   - padding 1 (the template spans twice the box, as in OpenCV's
//     TrackerKCF): fused 81.8 / 86.5; 1.5 (Henriques): 80.4 / 85.6; 0.5:
//     79.7 / 86.1. Walking people stand on a static background; the more
//     of it the window holds, the more it holds the filter still.
//   - side 64: 128 (half the cell) gave 80.7 / 86.5 at four times the cost.
//   - minPeak 0.3: GT boxes of both sequences tracked five frames from a
//     fresh filter (2021 steps) never peaked below 0.3, white noise peaks
//     at about 0.12 and a flat image at 0.02; 0.2 and 0.3 gave the same
//     mAP within 0.05. An unrelated texture of the same kind can peak at
//     0.4-0.5, so the peak alone misses some losses; coasting and the
//     next detection bound the damage. Stricter tests traded fused for
//     cloud-only: minPeak 0.4 gave 81.1 / 87.1, 0.5 80.9 / 87.1 (TUD
//     cloud-only after 1 s 30.7 -> 35.6), failing below 0.5-0.75 of the
//     track's running mean peak 81.0-81.2 / 86.3-87.0.
//   - rate 0.075: 0.15 gave 80.6 / 87.0 (cloud-only after 1 s on TUD
//     30.7 -> 29.1).
//   - detRate 0.5 with keepModel: a re-detected track's filter half keeps
//     what it learnt and is re-centred on the detection: 81.3 / 87.0, edge
//     only 79.8 / 79.7; a fresh filter on every detection (keepModel
//     false) 81.1 / 87.1, edge 79.7 / 79.8; detRate 0.25 81.6 / 86.9 but
//     edge-only on Oxford 79.4 (the old centre lingers and the box lags).
//   - levelUp 1: sampling the level nearest the cell in ratio (1.41)
//     measured the same (81.1 / 87.1).
//   - grey only: adding x and y gradient channels of the grey template
//     (three channels, 1.5-2 times the cost) gave 80.9 / 87.1 with sigma
//     0.2 and 80.7 / 87.1 with 0.5, TUD cloud-only at 300 ms 57.9 -> 53.8.
func defaultKCFParams() kcfParams {
	return kcfParams{
		padding:   1,
		side:      64,
		rate:      0.075,
		sigma:     0.2,
		lambda:    1e-4,
		outSig:    0.1,
		minPeak:   0.3,
		keepModel: true,
		levelUp:   1,
		refine:    0.1,
		detRate:   0.5,
	}
}

// kcfMaxLog bounds the template side at 1<<kcfMaxLog pixels; kcfMinLog is the
// shortest side a template gets (a narrower box is padded more across).
const (
	kcfMaxLog = 7
	kcfMinLog = 4
)

// kcfShape holds what depends only on a template's size: the cosine window
// and the spectrum of the Gaussian regression target.
type kcfShape struct {
	w, h int
	win  []float32
	yf   []complex64
}

// KCFModel is one object's filter: the learnt template (as a spectrum) and
// dual coefficients, the template geometry chosen when it was initialised,
// and whether it holds a model at all. The zero value is an empty model;
// buffers are allocated on first use and reused.
type KCFModel struct {
	w, h  int     // template size, powers of two
	cell  float32 // level-0 pixels per template pixel
	level int     // pyramid level sampled (the one nearest the cell size)
	xf    []complex64
	af    []complex64
	ok    bool
}

// Valid reports whether m holds a trained filter.
func (m *KCFModel) Valid() bool { return m.ok }

// Clear empties m, keeping its buffers.
func (m *KCFModel) Clear() { m.ok = false }

// KCFStats describes the last KCF call.
type KCFStats struct {
	Peak   float32 // maximum of the correlation response (about 1 on the training frame)
	DX, DY float32 // centre displacement, level-0 px
	Fail   string  // why tracking failed, "" on success
}

// FailPeak: the response peak of KCF is below its threshold.
const FailPeak = "correlation peak too low"

// NewKCF makes a KCF tracker with the tuned parameters.
func NewKCF() *KCF { return newKCF(defaultKCFParams()) }

func newKCF(p kcfParams) *KCF {
	side := 1 << kcfMinLog
	for side < p.side && side < 1<<kcfMaxLog {
		side <<= 1 // a power of two for the FFT
	}
	p.side = side
	k := &KCF{p: p}
	n := p.side * p.side
	k.feat = make([]float32, n)
	k.zf = make([]complex64, n)
	k.kf = make([]complex64, n)
	k.col = make([]complex64, p.side)
	for l := 1; l <= log2(p.side); l++ {
		k.plans[l] = newFFTPlan(1 << l)
	}
	// Every template shape up front, so no call allocates later.
	for a := min(kcfMinLog, log2(p.side)); a <= log2(p.side); a++ {
		for b := min(kcfMinLog, log2(p.side)); b <= log2(p.side); b++ {
			k.shape[a][b] = k.newShape(1<<a, 1<<b)
		}
	}
	return k
}

func (k *KCF) newShape(w, h int) *kcfShape {
	s := &kcfShape{w: w, h: h, win: make([]float32, w*h), yf: make([]complex64, w*h)}
	hann := func(i, n int) float64 { return 0.5 * (1 - math.Cos(2*math.Pi*float64(i)/float64(n-1))) }
	// Target: a Gaussian peak at zero shift (wrapped), its width a fraction
	// of the box's size in template pixels.
	sig := math.Sqrt(float64(w*h)) / float64(1+k.p.padding) * float64(k.p.outSig)
	for y := range h {
		dy := float64(y)
		if y >= h/2 {
			dy -= float64(h)
		}
		for x := range w {
			dx := float64(x)
			if x >= w/2 {
				dx -= float64(w)
			}
			s.win[y*w+x] = float32(hann(x, w) * hann(y, h))
			s.yf[y*w+x] = complex(float32(math.Exp(-0.5*(dx*dx+dy*dy)/(sig*sig))), 0)
		}
	}
	fft2(s.yf, w, h, k.plans[log2(w)], k.plans[log2(h)], k.col, false)
	return s
}

// LastStats describes the most recent Init or Track call.
func (k *KCF) LastStats() KCFStats { return k.last }

// Init trains m afresh on box (frame pixels) in the frame of p, choosing the
// template geometry from the box's size. It reports false (and leaves m
// empty) when the box is empty or mostly outside the frame.
func (k *KCF) Init(m *KCFModel, p *Pyramid, box detection.Rect, minVisible float32) bool {
	k.last = KCFStats{}
	m.ok = false
	b, ok := k.level0(p, box, minVisible)
	if !ok {
		return false
	}
	long, short := b.W(), b.H()
	wide := long >= short
	if !wide {
		long, short = short, long
	}
	side := k.p.side
	m.cell = long * (1 + k.p.padding) / float32(side)
	// The shorter side: the power of two nearest (in ratio) to the padded box.
	s := short * (1 + k.p.padding) / m.cell
	sl := int(math.Round(math.Log2(float64(max(s, 1)))))
	sl = max(min(sl, log2(side)), min(kcfMinLog, log2(side)))
	m.w, m.h = side, 1<<sl
	if !wide {
		m.w, m.h = m.h, m.w
	}
	// The level whose pixel is nearest the cell (in ratio): coarser levels
	// are box-filtered, so sampling them is not aliased.
	m.level = 0
	for m.level+1 < len(p.Levels) && float32(int(1)<<(m.level+1)) <= m.cell*k.p.levelUp {
		m.level++
	}
	n := m.w * m.h
	m.xf = resize(m.xf, n)
	m.af = resize(m.af, n)
	k.train(m, p, (b.X1+b.X2)/2, (b.Y1+b.Y2)/2, 1)
	m.ok = true
	return true
}

// Retrain updates m with box (frame pixels) in the frame of p at the model's
// learning rate, keeping its geometry: a fresh detection re-centres a
// filter that has learnt the object's look. An empty m, or one whose
// template no longer fits the box (its longer side changed by more than a
// quarter, or the template's shape would change), is initialised instead.
func (k *KCF) Retrain(m *KCFModel, p *Pyramid, box detection.Rect, minVisible float32) bool {
	if !m.ok || !k.p.keepModel {
		return k.Init(m, p, box, minVisible)
	}
	k.last = KCFStats{}
	b, ok := k.level0(p, box, minVisible)
	if !ok {
		return false
	}
	if r := max(b.W(), b.H()) * (1 + k.p.padding) / float32(k.p.side) / m.cell; r > 1.25 || r < 0.8 || (b.W() >= b.H()) != (m.w >= m.h) {
		return k.Init(m, p, box, minVisible)
	}
	k.train(m, p, (b.X1+b.X2)/2, (b.Y1+b.Y2)/2, k.p.detRate)
	return true
}

// level0 converts box to level-0 pixels and checks it is worth tracking.
func (k *KCF) level0(p *Pyramid, box detection.Rect, minVisible float32) (detection.Rect, bool) {
	if p == nil || p.Empty() {
		k.last.Fail = FailGeometry
		return box, false
	}
	if box.Empty() {
		k.last.Fail = FailEmptyBox
		return box, false
	}
	sc := float32(p.Scale)
	b := detection.Rect{X1: box.X1 / sc, Y1: box.Y1 / sc, X2: box.X2 / sc, Y2: box.Y2 / sc}
	if visibleFraction(b, float32(p.Levels[0].W), float32(p.Levels[0].H)) < minVisible {
		k.last.Fail = FailOutside
		return b, false
	}
	return b, true
}

// Track finds m's object in the frame of p near box (frame pixels, where it
// was on the model's last frame) and returns the box moved there, same size.
// On success the model learns the new frame; on failure (see LastStats) it is
// left as it was, so the object can be found again later.
func (k *KCF) Track(m *KCFModel, p *Pyramid, box detection.Rect, minVisible float32) (detection.Rect, bool) {
	k.last = KCFStats{}
	if !m.ok || m.level >= len(p.Levels) {
		k.last.Fail = FailGeometry
		return box, false
	}
	b, ok := k.level0(p, box, minVisible)
	if !ok {
		return box, false
	}
	cx, cy := (b.X1+b.X2)/2, (b.Y1+b.Y2)/2
	dx, dy, ok := k.detect(m, p, cx, cy)
	if ok && k.p.refine > 0 && (abs32(dx) > k.p.refine*float32(m.w)*m.cell || abs32(dy) > k.p.refine*float32(m.h)*m.cell) {
		// A shift that is a large part of the window is underestimated (the
		// cosine window pulls the peak towards the centre): look again from
		// where the first look put the object.
		peak := k.last.Peak
		if ex, ey, ok2 := k.detect(m, p, cx+dx, cy+dy); ok2 {
			dx, dy = dx+ex, dy+ey
		}
		k.last.Peak = peak
	}
	if !ok {
		return box, false
	}
	k.last.DX, k.last.DY = dx, dy
	nb := detection.Rect{X1: b.X1 + dx, Y1: b.Y1 + dy, X2: b.X2 + dx, Y2: b.Y2 + dy}
	if visibleFraction(nb, float32(p.Levels[0].W), float32(p.Levels[0].H)) < minVisible {
		k.last.Fail = FailLeftFrame
		return box, false
	}
	k.train(m, p, cx+dx, cy+dy, k.p.rate)
	sc := float32(p.Scale)
	return detection.Rect{X1: nb.X1 * sc, Y1: nb.Y1 * sc, X2: nb.X2 * sc, Y2: nb.Y2 * sc}, true
}

// detect evaluates m's filter on the template centred on (cx, cy) (level-0
// px) and returns where the object moved (level-0 px) and whether the
// response peak clears the threshold (k.last says how high it was).
func (k *KCF) detect(m *KCFModel, p *Pyramid, cx, cy float32) (dx, dy float32, ok bool) {
	w, h, n := m.w, m.h, m.w*m.h
	sh := k.shape[log2(w)][log2(h)]
	pw, ph := k.plans[log2(w)], k.plans[log2(h)]

	zz := k.features(m, p, sh, cx, cy)
	zf := k.zf[:n]
	for i, v := range k.feat[:n] {
		zf[i] = complex(v, 0)
	}
	fft2(zf, w, h, pw, ph, k.col, false)
	kzf := k.kf[:n]
	k.correlate(kzf, zf, m.xf, zz, spectrumEnergy(m.xf), w, h)
	// Response: the filter evaluated at every cyclic shift.
	for i := range kzf {
		kzf[i] *= m.af[i]
	}
	fft2(kzf, w, h, pw, ph, k.col, true)
	best, bi := float32(math.Inf(-1)), 0
	for i, v := range kzf {
		if r := real(v); r > best {
			best, bi = r, i
		}
	}
	k.last.Peak = best
	if best < k.p.minPeak {
		k.last.Fail = FailPeak
		return 0, 0, false
	}
	px, py := bi%w, bi/w
	at := func(x, y int) float32 { return real(kzf[((y+h)%h)*w+(x+w)%w]) }
	dx = float32(px) + parabolaPeak(at(px-1, py), best, at(px+1, py))
	dy = float32(py) + parabolaPeak(at(px, py-1), best, at(px, py+1))
	if px >= w/2 {
		dx -= float32(w)
	}
	if py >= h/2 {
		dy -= float32(h)
	}
	return dx * m.cell, dy * m.cell, true
}

// parabolaPeak is the offset in (-0.5, 0.5) of the vertex of the parabola
// through (-1, l), (0, c), (1, r), c being the largest: the sub-pixel peak.
func parabolaPeak(l, c, r float32) float32 {
	d := l - 2*c + r
	if d >= 0 {
		return 0
	}
	return max(-0.5, min(0.5, 0.5*(l-r)/d))
}

// train fits the filter to the template centred on (cx, cy) (level-0 px) and
// blends it into m at rate (1: replace).
func (k *KCF) train(m *KCFModel, p *Pyramid, cx, cy, rate float32) {
	w, h, n := m.w, m.h, m.w*m.h
	sh := k.shape[log2(w)][log2(h)]
	pw, ph := k.plans[log2(w)], k.plans[log2(h)]
	xx := k.features(m, p, sh, cx, cy)
	xf := k.zf[:n]
	for i, v := range k.feat[:n] {
		xf[i] = complex(v, 0)
	}
	fft2(xf, w, h, pw, ph, k.col, false)
	kf := k.kf[:n]
	k.correlate(kf, xf, xf, xx, xx, w, h)
	lambda := k.p.lambda
	keep := 1 - rate
	for i := range kf {
		// alpha = y / (k + lambda); k's spectrum is real (an autocorrelation
		// of a real signal through a symmetric kernel), up to rounding.
		a := sh.yf[i] * complex(1/(real(kf[i])+lambda), 0)
		m.af[i] = complex(keep, 0)*m.af[i] + complex(rate, 0)*a
		m.xf[i] = complex(keep, 0)*m.xf[i] + complex(rate, 0)*xf[i]
	}
}

// features samples the template centred on (cx, cy) (level-0 px) from m's
// pyramid level into k.feat: grey in [0, 1], mean removed, cosine-windowed.
// It returns the features' energy (sum of squares).
func (k *KCF) features(m *KCFModel, p *Pyramid, sh *kcfShape, cx, cy float32) float32 {
	w, h := m.w, m.h
	g := &p.Levels[m.level]
	f := float32(1) / float32(int(1)<<m.level)
	step := m.cell * f
	// Edge coordinates of template pixel (0, 0)'s centre at the level, minus
	// the half pixel that turns them into sample indices.
	x0 := cx*f - (float32(w)/2-0.5)*step - 0.5
	y0 := cy*f - (float32(h)/2-0.5)*step - 0.5
	feat := k.feat[:w*h]
	var sum float32
	for y := range h {
		sampleRow(g, x0, y0+float32(y)*step, step, feat[y*w:(y+1)*w])
	}
	for _, v := range feat {
		sum += v
	}
	mean := sum / float32(len(feat))
	var e float32
	for i, v := range feat {
		v = (v - mean) * sh.win[i]
		feat[i] = v
		e += v * v
	}
	return e
}

// sampleRow fills out with bilinear samples of g (scaled to [0, 1]) at
// sample coordinates (x0 + i·step, y), clamped to the image.
func sampleRow(g *Gray, x0, y, step float32, out []float32) {
	const s = 1.0 / 255
	W, H := g.W, g.H
	y = max(0, min(y, float32(H-1)))
	iy := int(y)
	fy := y - float32(iy)
	iy1 := min(iy+1, H-1)
	r0, r1 := g.Pix[iy*W:(iy+1)*W], g.Pix[iy1*W:(iy1+1)*W]
	for i := range out {
		x := max(0, min(x0+float32(i)*step, float32(W-1)))
		ix := int(x)
		fx := x - float32(ix)
		ix1 := min(ix+1, W-1)
		a := float32(r0[ix]) + fx*(float32(r0[ix1])-float32(r0[ix]))
		b := float32(r1[ix]) + fx*(float32(r1[ix1])-float32(r1[ix]))
		out[i] = (a + fy*(b-a)) * s
	}
}

// spectrumEnergy is the energy of the signal whose 2-D DFT is xf (Parseval).
func spectrumEnergy(xf []complex64) float32 {
	var e float32
	for _, v := range xf {
		e += real(v)*real(v) + imag(v)*imag(v)
	}
	return e / float32(len(xf))
}

// correlate sets out to the spectrum of the Gaussian kernel correlation of the
// signals with spectra af and bf and energies aa and bb (Henriques et al.,
// eq. 31): k = exp(-max(0, aa + bb - 2·IFFT(af ⊙ conj(bf))) / (σ²·n)).
func (k *KCF) correlate(out, af, bf []complex64, aa, bb float32, w, h int) {
	n := w * h
	pw, ph := k.plans[log2(w)], k.plans[log2(h)]
	for i := range out {
		b := bf[i]
		out[i] = af[i] * complex(real(b), -imag(b))
	}
	fft2(out, w, h, pw, ph, k.col, true)
	scale := -1 / (k.p.sigma * k.p.sigma * float32(n))
	for i, v := range out {
		d := max(0, aa+bb-2*real(v))
		out[i] = complex(float32(math.Exp(float64(d*scale))), 0)
	}
	fft2(out, w, h, pw, ph, k.col, false)
}
