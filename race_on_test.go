//go:build race

package hub_test

// raceEnabled is true under the race detector, which slows modernc.org/sqlite (SQLite
// translated to Go) about twentyfold; the heaviest SQLite cases shrink accordingly.
const raceEnabled = true
