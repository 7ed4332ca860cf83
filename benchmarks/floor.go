package benchmarks

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// FloorConfig sizes a run of the PostgreSQL queue floor (see RunQueueFloor).
type FloorConfig struct {
	PostgresURL string
	// Events is the timed round (default 3,000); Warmup the round before it (default 200).
	Events, Warmup int
	// Producers insert Batch events per COPY (defaults 8 and 100: the hub's batch run).
	Producers, Batch int
	// Workers claim up to Claim events each per statement (defaults 16 and 256: the hub's
	// BenchmarkEndToEnd settings).
	Workers, Claim int
}

func (c FloorConfig) withDefaults() FloorConfig {
	c.Events = cmpOr(c.Events, 3000)
	c.Warmup = cmpOr(c.Warmup, 200)
	c.Producers = cmpOr(c.Producers, 8)
	c.Batch = cmpOr(c.Batch, 100)
	c.Workers = cmpOr(c.Workers, 16)
	c.Claim = cmpOr(c.Claim, 256)
	return c
}

// Variant describes the floor's settings.
func (c FloorConfig) Variant() string {
	return fmt.Sprintf("floor: COPY %d x %d producers, claim %d x %d workers, complete", c.Batch, c.Producers, c.Claim, c.Workers)
}

// floorSchema is the least a durable queue that keeps a record of each outcome stores: the
// payload as received, a state, an attempt count and a lease, the outcome; a primary key
// and one partial index on the due queue. The hub's table carries more (service, contract
// and mapping documents, idempotency, subject, expiry and retention indexes, error
// details); nothing here is less durable than the hub (logged table, synchronous commit).
// The payload is kept out of the row (toast_tuple_target) and the pages half empty
// (fillfactor), as the hub's own table does, so a claim or a completion writes a short row
// version next to the old one instead of copying the payload.
const floorSchema = `
CREATE TABLE %[1]s.floor_events (
	id          uuid PRIMARY KEY,
	payload     text NOT NULL,
	state       smallint NOT NULL DEFAULT 0,
	attempts    int NOT NULL DEFAULT 0,
	due_at      timestamptz NOT NULL DEFAULT now(),
	lease_until timestamptz,
	result      text
) WITH (toast_tuple_target = 512, fillfactor = 50);
CREATE INDEX floor_events_due ON %[1]s.floor_events (due_at) WHERE state = 0;
`

// RunQueueFloor measures the floor of a durable PostgreSQL queue on the server at
// cfg.PostgresURL: producers COPY the shared event in batches, workers claim due events
// with one UPDATE ... FOR UPDATE SKIP LOCKED ... RETURNING, read the payload, and record
// each batch's outcome with one UPDATE. Nothing is transformed, validated or delivered, so
// the rate is what the database alone allows any queue with these guarantees on this
// machine, and ServerCPU (when the server is local) is the database's share of the cost.
func RunQueueFloor(ctx context.Context, w *Workload, cfg FloorConfig) (*Result, error) {
	cfg = cfg.withDefaults()
	if cfg.PostgresURL == "" {
		return nil, ErrNoPostgres
	}
	schema := freshSchema("hubfloor")
	defer func() { _ = dropSchema(context.WithoutCancel(ctx), cfg.PostgresURL, schema) }()
	pc, err := pgxpool.ParseConfig(cfg.PostgresURL)
	if err != nil {
		return nil, err
	}
	pc.MaxConns = int32(cfg.Producers + cfg.Workers + 2)
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, err
	}
	defer pool.Close()
	ident := pgx.Identifier{schema}.Sanitize()
	if _, err := pool.Exec(ctx, `CREATE SCHEMA `+ident); err != nil {
		return nil, err
	}
	if _, err := pool.Exec(ctx, fmt.Sprintf(floorSchema, ident)); err != nil {
		return nil, err
	}
	table := pgx.Identifier{schema, "floor_events"}
	claimSQL := `UPDATE ` + table.Sanitize() + ` SET state = 1, attempts = attempts + 1, lease_until = now() + interval '30 seconds'
WHERE id IN (SELECT id FROM ` + table.Sanitize() + ` WHERE state = 0 AND due_at <= now() ORDER BY due_at LIMIT $1 FOR UPDATE SKIP LOCKED)
RETURNING id, payload`
	completeSQL := `UPDATE ` + table.Sanitize() + ` SET state = 2, lease_until = NULL, result = 'delivered' WHERE id = ANY($1)`
	payload := string(w.Compact)

	round := func(n int) error {
		ctx, cancel := context.WithTimeout(ctx, roundTimeout)
		defer cancel()
		var done atomic.Int64
		var wg sync.WaitGroup
		errc := make(chan error, cfg.Workers+1)
		for range cfg.Workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ids := make([]uuid.UUID, 0, cfg.Claim)
				for done.Load() < int64(n) && ctx.Err() == nil {
					ids = ids[:0]
					rows, err := pool.Query(ctx, claimSQL, cfg.Claim)
					if err != nil {
						errc <- err
						return
					}
					var bytes int
					for rows.Next() {
						var id uuid.UUID
						var p string
						if err := rows.Scan(&id, &p); err != nil {
							rows.Close()
							errc <- err
							return
						}
						ids = append(ids, id)
						bytes += len(p)
					}
					if err := rows.Err(); err != nil {
						errc <- err
						return
					}
					if len(ids) == 0 {
						time.Sleep(time.Millisecond)
						continue
					}
					if bytes != len(ids)*len(payload) {
						errc <- fmt.Errorf("benchmarks: floor: claimed %d payload bytes for %d events", bytes, len(ids))
						return
					}
					if _, err := pool.Exec(ctx, completeSQL, ids); err != nil {
						errc <- err
						return
					}
					done.Add(int64(len(ids)))
				}
			}()
		}
		err := produce(ctx, n, cfg.Producers, cfg.Batch, func(k int) error {
			rows := make([][]any, k)
			for i := range rows {
				rows[i] = []any{uuid.New(), payload}
			}
			_, err := pool.CopyFrom(ctx, table, []string{"id", "payload"}, pgx.CopyFromRows(rows))
			return err
		})
		if err != nil {
			cancel()
		}
		wg.Wait()
		close(errc)
		if err == nil {
			err = <-errc
		}
		if err == nil && done.Load() != int64(n) {
			err = fmt.Errorf("benchmarks: floor: %d of %d events completed", done.Load(), n)
		}
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("benchmarks: floor round of %d events not done after %s: %w", n, roundTimeout, err)
		}
		return err
	}
	if err := round(cfg.Warmup); err != nil {
		return nil, fmt.Errorf("benchmarks: floor warm-up: %w", err)
	}
	res := &Result{System: "floor", Store: StorePostgres, Variant: cfg.Variant(), Events: cfg.Events}
	wal0, err := readWALAfterReset(ctx, cfg.PostgresURL, pool.Reset)
	if err != nil {
		return nil, err
	}
	m := startMeasure(cfg.PostgresURL)
	if err := round(cfg.Events); err != nil {
		return nil, err
	}
	res.Elapsed, res.CPU, res.ServerCPU = m.stop()
	pool.Close()
	if res.WAL, err = walSince(ctx, cfg.PostgresURL, wal0, cfg.Events); err != nil {
		return nil, err
	}
	return res, nil
}
