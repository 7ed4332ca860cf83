//go:build race

package transform_test

// raceEnabled is true under the race detector, which slows evaluation severalfold: timing
// figures are printed but not required then.
const raceEnabled = true
