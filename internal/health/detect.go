package health

import (
	"math"
	"time"
)

// EWMA flags values that leave a band around an exponentially weighted moving average:
// the z-score of a value is its distance from the average in units of the exponentially
// weighted standard deviation. A value is anomalous when |z| exceeds Band for Consecutive
// observations in a row, after Warmup observations have set the baseline. The zero value is
// not usable; build one with NewEWMA. Not safe for concurrent use.
type EWMA struct {
	alpha       float64
	band        float64
	warmup      int
	consecutive int
	minStd      float64

	n      int
	m2     float64 // sum of squared deviations during warm-up
	mean   float64
	vari   float64
	streak int
}

// NewEWMA returns a detector with smoothing alpha in (0,1], a band in standard deviations,
// warmup observations before judging, consecutive out-of-band values needed to flag, and
// minStd as the smallest standard deviation assumed (so a perfectly flat series does not
// flag tiny changes). Out-of-range arguments take defaults 0.1, 4, 20, 2 and 1e-9.
func NewEWMA(alpha, band float64, warmup, consecutive int, minStd float64) *EWMA {
	if alpha <= 0 || alpha > 1 {
		alpha = 0.1
	}
	if band <= 0 {
		band = 4
	}
	if warmup < 2 {
		warmup = 20
	}
	if consecutive < 1 {
		consecutive = 2
	}
	if minStd <= 0 {
		minStd = 1e-9
	}
	return &EWMA{alpha: alpha, band: band, warmup: warmup, consecutive: consecutive, minStd: minStd}
}

// Observe adds x and returns its z-score against the baseline before x, and whether the
// series is anomalous at x. Values out of band are folded into the baseline at a quarter of
// the usual weight, so one burst does not hide the next.
func (d *EWMA) Observe(x float64) (z float64, anomalous bool) {
	d.n++
	if d.n <= d.warmup {
		// Warm-up: the plain mean and variance (Welford) of the first values set the
		// baseline, which an exponential average would underestimate from few points.
		diff := x - d.mean
		d.mean += diff / float64(d.n)
		d.m2 += diff * (x - d.mean)
		d.vari = d.m2 / float64(d.n)
		return 0, false
	}
	std := math.Max(math.Sqrt(d.vari), d.minStd)
	z = (x - d.mean) / std
	out := math.Abs(z) > d.band
	if out {
		d.streak++
	} else {
		d.streak = 0
	}
	a := d.alpha
	if out {
		a /= 4
	}
	// The variance is smoothed at a quarter of the mean's rate: a noisy estimate of the spread is
	// what makes ordinary noise look anomalous.
	b := a / 4
	diff := x - d.mean
	d.mean += a * diff
	d.vari = (1 - b) * (d.vari + b*diff*diff)
	return z, d.streak >= d.consecutive
}

// Mean returns the current baseline average.
func (d *EWMA) Mean() float64 { return d.mean }

// StdDev returns the current baseline standard deviation.
func (d *EWMA) StdDev() float64 { return math.Sqrt(d.vari) }

// Point is one observation of a series.
type Point struct {
	At    time.Time
	Value float64
}

// LinearFit returns the least-squares slope (per second) and intercept (at the first point's
// time) of points, and false when fewer than two points or no time spread make a line.
func LinearFit(points []Point) (slope, intercept float64, ok bool) {
	if len(points) < 2 {
		return 0, 0, false
	}
	t0 := points[0].At
	var sx, sy, sxx, sxy float64
	n := float64(len(points))
	for _, p := range points {
		x := p.At.Sub(t0).Seconds()
		sx += x
		sy += p.Value
		sxx += x * x
		sxy += x * p.Value
	}
	den := n*sxx - sx*sx
	if den == 0 {
		return 0, 0, false
	}
	slope = (n*sxy - sx*sy) / den
	intercept = (sy - slope*sx) / n
	return slope, intercept, true
}

// TimeToReach returns how long after the last point the fitted line of points reaches
// target, and false when the line does not move toward it or cannot be fitted.
func TimeToReach(points []Point, target float64) (time.Duration, bool) {
	slope, intercept, ok := LinearFit(points)
	if !ok {
		return 0, false
	}
	last := points[len(points)-1]
	x := last.At.Sub(points[0].At).Seconds()
	now := intercept + slope*x
	rising := target >= now
	if now == target {
		return 0, true
	}
	if (rising && slope <= 0) || (!rising && slope >= 0) {
		return 0, false
	}
	return time.Duration((target - now) / slope * float64(time.Second)), true
}
