package transform_test

import (
	"testing"

	"github.com/ehg/hub/transform"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRegistryVersions(t *testing.T) {
	t.Parallel()
	g := transform.NewRegistry()
	v1 := transform.Rules{Name: "ticket", Version: 1, Fields: fields("title", "summary")}
	v2 := transform.Rules{Name: "ticket", Version: 2, Fields: fields("title", "upper(summary)")}
	in := map[string]any{"summary": "disk full"}

	_, _, err := g.Apply(t.Context(), "ticket", in)
	require.ErrorIs(t, err, transform.ErrNotFound)

	_, err = g.Register(v1)
	require.NoError(t, err)
	_, _, err = g.Apply(t.Context(), "ticket", in)
	require.ErrorIs(t, err, transform.ErrNoActiveVersion, "registering does not activate")

	require.NoError(t, g.Activate("ticket", 1))
	out, applied, err := g.Apply(t.Context(), "ticket", in)
	require.NoError(t, err)
	assert.Equal(t, "disk full", out["title"])
	assert.Equal(t, 1, applied.Version)

	_, err = g.Register(v2)
	require.NoError(t, err)
	_, applied, err = g.Apply(t.Context(), "ticket", in)
	require.NoError(t, err)
	assert.Equal(t, 1, applied.Version, "a new version runs only once activated")

	require.NoError(t, g.Activate("ticket", 2))
	out, applied, err = g.Apply(t.Context(), "ticket", in)
	require.NoError(t, err)
	assert.Equal(t, "DISK FULL", out["title"])
	assert.Equal(t, transform.Applied{Name: "ticket", Version: 2, Fields: []string{"title"}, Duration: applied.Duration}, applied)

	// Rollback is activating the older version.
	require.NoError(t, g.Activate("ticket", 1))
	p, err := g.Active("ticket")
	require.NoError(t, err)
	assert.Equal(t, 1, p.Version())

	versions, active := g.Versions("ticket")
	assert.Equal(t, []int{1, 2}, versions)
	assert.Equal(t, 1, active)
	assert.Equal(t, []string{"ticket"}, g.Names())

	// Versions are immutable; re-registering identical content is a no-op.
	same, err := g.Register(v1)
	require.NoError(t, err)
	assert.Same(t, p, same)
	_, err = g.Register(transform.Rules{Name: "ticket", Version: 1, Fields: fields("title", "'changed'")})
	require.ErrorIs(t, err, transform.ErrVersionExists)

	require.ErrorIs(t, g.Activate("ticket", 9), transform.ErrNotFound)
	_, err = g.Get("ticket", 9)
	require.ErrorIs(t, err, transform.ErrNotFound)
	got, err := g.Get("ticket", 2)
	require.NoError(t, err)
	assert.Equal(t, 2, got.Version())

	require.NoError(t, g.Deactivate("ticket"))
	_, err = g.Active("ticket")
	require.ErrorIs(t, err, transform.ErrNoActiveVersion)
	require.ErrorIs(t, g.Deactivate("nope"), transform.ErrNotFound)
}

func TestRegistryRefusesInvalid(t *testing.T) {
	t.Parallel()
	g := transform.NewRegistry(transform.WithMaxNodes(5))
	for name, r := range map[string]transform.Rules{
		"no name":    {Version: 1, Fields: fields("a", "1")},
		"no version": {Name: "n", Fields: fields("a", "1")},
	} {
		_, err := g.Register(r)
		require.ErrorIs(t, err, transform.ErrInvalidRules, name)
	}
	_, err := g.Register(transform.Rules{Name: "n", Version: 1, Fields: fields("a", "a + b + c + d")})
	require.ErrorIs(t, err, transform.ErrTooComplex, "registry options apply")
	assert.Empty(t, g.Names())
}
