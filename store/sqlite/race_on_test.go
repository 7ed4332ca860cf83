//go:build race

package sqlite_test

// raceEnabled is true under the race detector, which slows modernc.org/sqlite (SQLite
// translated to Go) about twentyfold; the heaviest cases shrink accordingly.
const raceEnabled = true
