package postgres

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub/store"
)

func TestMapError(t *testing.T) {
	t.Parallel()
	pg := func(code string) error { return &pgconn.PgError{Code: code, Message: "m"} }
	other := errors.New("boom")
	tests := []struct {
		name string
		in   error
		want error // nil: no sentinel, returned unchanged
	}{
		{"no rows", pgx.ErrNoRows, store.ErrNotFound},
		{"wrapped no rows", fmt.Errorf("get: %w", pgx.ErrNoRows), store.ErrNotFound},
		{"unique violation", pg("23505"), store.ErrConflict},
		{"serialization failure", pg("40001"), store.ErrBusy},
		{"deadlock", pg("40P01"), store.ErrBusy},
		{"lock not available", pg("55P03"), store.ErrBusy},
		{"check violation", pg("23514"), store.ErrInvalidArgument},
		{"not null violation", pg("23502"), store.ErrInvalidArgument},
		{"invalid text", pg("22P02"), store.ErrInvalidArgument},
		{"untranslatable character", pg("22P05"), store.ErrInvalidArgument},
		{"character not in repertoire", pg("22021"), store.ErrInvalidArgument},
		{"program limit", pg("54000"), store.ErrInvalidArgument},
		{"out of range", pg("22003"), store.ErrInvalidArgument},
		{"other pg error", pg("42P01"), nil},
		{"plain error", other, nil},
		{"context", context.Canceled, nil},
		{"already a sentinel", fmt.Errorf("x: %w", store.ErrLeaseLost), store.ErrLeaseLost},
	}
	sentinels := []error{store.ErrNotFound, store.ErrConflict, store.ErrBusy, store.ErrInvalidArgument}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := mapError(tt.in)
			require.Error(t, got)
			assert.ErrorIs(t, got, tt.in, "the original error stays in the chain")
			if tt.want == nil {
				assert.Same(t, tt.in, got)
				return
			}
			assert.ErrorIs(t, got, tt.want)
			for _, s := range sentinels {
				if s != tt.want {
					assert.NotErrorIs(t, got, s)
				}
			}
		})
	}
	assert.NoError(t, mapError(nil))
	var pgErr *pgconn.PgError
	require.ErrorAs(t, mapError(pg("23505")), &pgErr)
	assert.Equal(t, "23505", pgErr.Code)
}
