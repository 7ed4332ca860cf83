package transform_test

import (
	"encoding/json"
	"testing"

	"github.com/ehg/hub/transform"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	samples := []map[string]any{
		{"contact": map[string]any{"first": "Ada", "last": "Lovelace", "mail": "ada@example.com", "age": json.Number("36")}, "status": "open"},
		{"contact": map[string]any{"first": "Alan", "last": "Turing", "mail": "alan@example.com", "age": json.Number("41")}, "status": "closed"},
	}
	tables := map[string]map[string]any{"status": {"open": "active", "closed": "archived"}}
	inverseTables := map[string]map[string]any{"status": {"active": "open", "archived": "closed"}}

	t.Run("lossless", func(t *testing.T) {
		t.Parallel()
		p, err := transform.Compile(transform.Rules{
			Name: "contact", Version: 1, Tables: tables,
			Fields: fields("person.given", "contact.first", "person.family", "contact.last",
				"person.email", "contact.mail", "person.age", "contact.age", "state", "lookup('status', status)"),
			Inverse: &transform.Rules{Tables: inverseTables, Fields: fields(
				"contact.first", "person.given", "contact.last", "person.family",
				"contact.mail", "person.email", "contact.age", "person.age", "status", "lookup('status', state)")},
		})
		require.NoError(t, err)
		require.True(t, p.IsBidirectional())
		rep, err := p.RoundTrip(t.Context(), samples...)
		require.NoError(t, err)
		assert.True(t, rep.OK(), "%+v", rep.Lost)
		assert.Equal(t, 2, rep.Samples)
		assert.Equal(t, []string{"contact.age", "contact.first", "contact.last", "contact.mail", "status"}, rep.Checked)

		_, applied, err := p.Inverse().Apply(t.Context(), map[string]any{"person": map[string]any{"given": "x"}, "state": "active"})
		require.NoError(t, err)
		assert.True(t, applied.Inverse)
		assert.Equal(t, "contact", applied.Name)
	})

	t.Run("reports lost fields", func(t *testing.T) {
		t.Parallel()
		p, err := transform.Compile(transform.Rules{
			Name: "contact", Version: 2,
			Fields: fields("name", "contact.first + ' ' + contact.last", "email", "contact.mail",
				"adult", "contact.age >= 18"),
			Inverse: &transform.Rules{Fields: fields(
				"contact.first", "split(name, ' ')[0]",
				"contact.mail", "upper(email)")},
		})
		require.NoError(t, err)
		rep, err := p.RoundTrip(t.Context(), samples...)
		require.NoError(t, err)
		require.False(t, rep.OK())
		lost := map[string][]int{}
		for _, l := range rep.Lost {
			lost[l.Path] = append(lost[l.Path], l.Sample)
		}
		assert.Equal(t, map[string][]int{
			"contact.last": {0, 1}, // read, never restored
			"contact.age":  {0, 1}, // reduced to a boolean
			"contact.mail": {0, 1}, // restored changed
		}, lost)
		for _, l := range rep.Lost {
			if l.Path == "contact.mail" && l.Sample == 0 {
				assert.Equal(t, "ada@example.com", l.Want)
				assert.Equal(t, "ADA@EXAMPLE.COM", l.Got)
			}
		}
	})

	t.Run("not bidirectional", func(t *testing.T) {
		t.Parallel()
		p := compile(t, fields("a", "b")...)
		_, err := p.RoundTrip(t.Context(), samples...)
		require.ErrorIs(t, err, transform.ErrNotBidirectional)
	})
}
