package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ehg/hub/store"
)

// listenerAppName, followed by the schema, marks the listener connections in
// pg_stat_activity.
const listenerAppName = "hub-store-listener"

// Channel returns the NOTIFY channel the store's triggers signal: the schema name.
func (s *Store) Channel() string { return s.channel }

// Notifications implements [store.Notifier]. It opens a dedicated connection (outside the
// pool, configured like it) that LISTENs on the schema's channel, and returns a channel
// receiving a value, coalesced, after every notification: events were inserted or put back
// in the queue (requeued, released, retried), here or by another process using this
// package on the same schema. Writers send at most one NOTIFY per Options.NotifyInterval,
// after their transaction commits. When the connection dies it reconnects, waiting
// Options.ListenRetry and doubling up to MaxListenRetry, and sends a value once listening
// again, since notifications may have been missed meanwhile. The returned channel is closed
// when ctx ends or the store is closed. The first connection's error is returned; later
// ones are logged. Safe for concurrent use; each call has its own connection.
func (s *Store) Notifications(ctx context.Context) (<-chan struct{}, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	conn, err := s.listen(ctx)
	if err != nil {
		return nil, err
	}
	// Register the listener under the lock Close takes, so Close either sees it in the
	// WaitGroup or this call sees the store closed.
	s.mu.Lock()
	if s.closed.Load() {
		s.mu.Unlock()
		_ = conn.Close(context.WithoutCancel(ctx))
		return nil, store.ErrClosed
	}
	s.wg.Add(1)
	s.mu.Unlock()
	ch := make(chan struct{}, 1)
	lctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(s.done, cancel)
	go func() {
		defer s.wg.Done()
		defer stop()
		defer cancel()
		defer close(ch)
		s.listenLoop(lctx, conn, ch)
	}()
	return ch, nil
}

// listen opens a connection and LISTENs on the store's channel.
func (s *Store) listen(ctx context.Context) (*pgx.Conn, error) {
	cfg := s.pool.Config().ConnConfig.Copy()
	cfg.RuntimeParams["application_name"] = listenerAppName + " " + s.channel
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, mapError(fmt.Errorf("postgres: notifications: connect: %w", err))
	}
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{s.channel}.Sanitize()); err != nil {
		_ = conn.Close(context.WithoutCancel(ctx))
		return nil, mapError(fmt.Errorf("postgres: notifications: listen: %w", err))
	}
	return conn, nil
}

// listenLoop forwards notifications from conn to ch until ctx ends, reconnecting when the
// connection fails.
func (s *Store) listenLoop(ctx context.Context, conn *pgx.Conn, ch chan<- struct{}) {
	signal := func() {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	delay := s.opts.ListenRetry
	defer func() {
		if conn != nil {
			_ = conn.Close(context.Background())
		}
	}()
	for {
		if conn == nil {
			t := time.NewTimer(delay)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			var err error
			if conn, err = s.listen(ctx); err != nil {
				if ctx.Err() != nil {
					return
				}
				s.opts.Logger.Warn("postgres store: notification listener reconnect failed",
					"schema", s.opts.Schema, "retry_in", delay, "error", err)
				delay = min(2*delay, MaxListenRetry)
				continue
			}
			s.opts.Logger.Info("postgres store: notification listener reconnected", "schema", s.opts.Schema)
			delay = s.opts.ListenRetry
			signal()
		}
		if _, err := conn.WaitForNotification(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			s.opts.Logger.Warn("postgres store: notification listener lost its connection",
				"schema", s.opts.Schema, "error", err)
			_ = conn.Close(context.Background())
			conn = nil
			continue
		}
		signal()
	}
}

// wake asks the notifier to announce that events may have become claimable. It never blocks.
func (s *Store) wake() {
	select {
	case s.poke <- struct{}{}:
	default:
	}
}

// notifier sends one NOTIFY per wake request, at most one per Options.NotifyInterval:
// requests arriving meanwhile are announced by one notification when the interval ends.
// It runs from New until Close.
func (s *Store) notifier() {
	defer s.wg.Done()
	for {
		select {
		case <-s.done.Done():
			return
		case <-s.poke:
		}
		ctx, cancel := context.WithTimeout(s.done, 10*time.Second)
		_, err := s.pool.Exec(ctx, "SELECT pg_notify($1, '')", s.channel)
		cancel()
		if err != nil && s.done.Err() == nil {
			s.opts.Logger.Warn("postgres store: notify failed; listeners will rely on polling",
				"schema", s.opts.Schema, "error", err)
		}
		t := time.NewTimer(s.opts.NotifyInterval)
		select {
		case <-s.done.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}
