package sqlite

import (
	"context"
	"database/sql/driver"
	"errors"
	"math/rand/v2"
	"time"

	sqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// busyConnector opens the connections of the pools Open builds, retrying an open that fails
// with SQLITE_BUSY or SQLITE_LOCKED until timeout has passed. SQLite's busy_timeout does not
// cover every lock taken while a connection is set up: switching a new file to WAL upgrades
// a read lock to a write lock, and SQLite reports SQLITE_BUSY at once rather than wait when
// another connection holds one (it would deadlock), and a connection meeting another's WAL
// recovery gets SQLITE_BUSY_RECOVERY. Several processes opening one new file together meet
// both. The returned connection is the driver's own, so its optional interfaces survive.
type busyConnector struct {
	driver.Connector
	timeout time.Duration
}

// Connect opens a connection, retrying while the file is busy.
func (c busyConnector) Connect(ctx context.Context) (driver.Conn, error) {
	return retryBusy(ctx, c.timeout, func() (driver.Conn, error) { return c.Connector.Connect(ctx) })
}

// retryBusy runs fn until it succeeds, fails with an error other than SQLITE_BUSY or
// SQLITE_LOCKED, timeout has passed since the first attempt, or ctx is done (its error is
// then returned with the last busy error). The waits grow from 1 ms to 50 ms, with jitter
// so processes starting together do not retry in step.
func retryBusy[T any](ctx context.Context, timeout time.Duration, fn func() (T, error)) (T, error) {
	deadline := time.Now().Add(timeout)
	wait := time.Millisecond
	for {
		v, err := fn()
		if err == nil || !isBusy(err) {
			return v, err
		}
		left := time.Until(deadline)
		if left <= 0 {
			return v, err
		}
		d := min(wait/2+rand.N(wait), left)
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return v, errors.Join(ctx.Err(), err)
		case <-t.C:
		}
		wait = min(2*wait, 50*time.Millisecond)
	}
}

// isBusy reports whether err is SQLite's SQLITE_BUSY or SQLITE_LOCKED (any extended code).
func isBusy(err error) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	switch se.Code() & 0xff {
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
		return true
	}
	return false
}
