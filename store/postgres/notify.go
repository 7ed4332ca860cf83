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
// in the queue, here or by another process. When the connection dies it reconnects, waiting
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
