package contract_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub/contract"
)

func ct(name, version, schema string) contract.Contract {
	return contract.Contract{Name: name, Version: version, Schema: []byte(schema)}
}

func TestRegistryLifecycle(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	reg := contract.NewRegistry()
	v1 := `{"type":"object","properties":{"a":{"type":"string"}}}`
	_, err := reg.Register(ctx, ct("orders", "1.0.0", v1))
	require.NoError(t, err)

	// Same version, same schema: idempotent. Different schema: refused.
	again, err := reg.Register(ctx, ct("orders", "v1.0.0", v1))
	require.NoError(t, err)
	assert.Equal(t, "1.0.0", again.Version())
	_, err = reg.Register(ctx, ct("orders", "1.0.0", `{"type":"object"}`))
	assert.ErrorIs(t, err, contract.ErrVersionExists)

	// Compatible minor: optional property added.
	_, err = reg.Register(ctx, ct("orders", "1.1.0", `{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"integer"}}}`))
	require.NoError(t, err)

	// Breaking change in the same major: refused with the report, then forced.
	breaking := ct("orders", "1.2.0", `{"type":"object","required":["b"],"properties":{"a":{"type":"string"},"b":{"type":"integer"}}}`)
	_, err = reg.Register(ctx, breaking)
	require.ErrorIs(t, err, contract.ErrIncompatible)
	var ie *contract.IncompatibleError
	require.True(t, errors.As(err, &ie))
	assert.Equal(t, "1.1.0", ie.Old)
	require.Len(t, ie.Report.Breaking(), 1)
	assert.Equal(t, contract.ChangeRequiredAdded, ie.Report.Breaking()[0].Kind)
	_, err = reg.Register(ctx, breaking, contract.Force())
	require.NoError(t, err)

	// A new major may break.
	_, err = reg.Register(ctx, ct("orders", "2.0.0", `{"type":"string"}`))
	require.NoError(t, err)
	_, err = reg.Register(ctx, ct("orders", "2.1.0-rc.1", `{"type":"string"}`))
	require.NoError(t, err)

	assert.Equal(t, []string{"1.0.0", "1.1.0", "1.2.0", "2.0.0", "2.1.0-rc.1"}, reg.Versions("orders"))
	latest, err := reg.Latest("orders")
	require.NoError(t, err)
	assert.Equal(t, "2.0.0", latest.Version(), "pre-releases are not latest while a release exists")
	got, err := reg.Get("orders", "1.1.0")
	require.NoError(t, err)
	assert.Equal(t, "1.1.0", got.Contract().Version)
	assert.Equal(t, []string{"orders"}, reg.Names())

	_, err = reg.Get("orders", "3.0.0")
	assert.ErrorIs(t, err, contract.ErrNotFound)
	_, err = reg.Latest("nope")
	assert.ErrorIs(t, err, contract.ErrNotFound)
	assert.Nil(t, reg.Versions("nope"))

	rep, err := reg.Check(ct("orders", "2.2.0", `{"type":"integer"}`))
	require.NoError(t, err)
	assert.False(t, rep.Backward)
}

func TestRegistryRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		c    contract.Contract
		is   []error
	}{
		{"bad name", ct("has space", "1.0.0", `{}`), []error{contract.ErrInvalidContract}},
		{"empty name", ct("", "1.0.0", `{}`), []error{contract.ErrInvalidContract}},
		{"bad version", ct("x", "1.0", `{}`), []error{contract.ErrInvalidContract}},
		{"leading zero version", ct("x", "01.0.0", `{}`), []error{contract.ErrInvalidContract}},
		{"not JSON", ct("x", "1.0.0", `{`), []error{contract.ErrInvalidContract, contract.ErrSyntax}},
		{"duplicate key in schema", ct("x", "1.0.0", `{"type":"string","type":"integer"}`), []error{contract.ErrInvalidContract, contract.ErrDuplicateKey}},
		{"invalid schema", ct("x", "1.0.0", `{"type": 12}`), []error{contract.ErrInvalidContract}},
		{"bad regex", ct("x", "1.0.0", `{"pattern": "("}`), []error{contract.ErrInvalidContract}},
		{"unresolvable ref, no network", ct("x", "1.0.0", `{"$ref": "https://example.com/schema.json"}`), []error{contract.ErrInvalidContract}},
		{"ref to missing contract", ct("x", "1.0.0", `{"$ref": "contract:missing/1.0.0"}`), []error{contract.ErrInvalidContract}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := contract.NewRegistry().Register(t.Context(), tt.c)
			require.Error(t, err)
			for _, target := range tt.is {
				assert.ErrorIs(t, err, target)
			}
		})
	}
}

func TestRegistryRefsBetweenContracts(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	reg := contract.NewRegistry()
	_, err := reg.Register(ctx, ct("address", "1.0.0", `{
		"$id": "https://schemas.example/address.json",
		"type": "object", "required": ["city"],
		"properties": {"city": {"type": "string"}},
		"$defs": {"zip": {"type": "string", "pattern": "^[0-9]{5}$"}}
	}`))
	require.NoError(t, err)
	cust, err := reg.Register(ctx, ct("customer", "1.0.0", `{
		"type": "object",
		"properties": {
			"home": {"$ref": "contract:address/1.0.0"},
			"work": {"$ref": "contract:address"},
			"zip":  {"$ref": "https://schemas.example/address.json#/$defs/zip"}
		}
	}`))
	require.NoError(t, err)
	_, err = cust.ValidateJSON([]byte(`{"home": {"city": "Oslo"}, "work": {"city": "Bergen"}, "zip": "12345"}`))
	require.NoError(t, err)
	res, err := cust.ValidateJSON([]byte(`{"home": {}, "zip": "12"}`))
	require.ErrorIs(t, err, contract.ErrInvalid)
	require.Len(t, res.Violations, 2)
	assert.Equal(t, "/home", res.Violations[0].InstancePath)
	assert.Equal(t, "required", res.Violations[0].Keyword)
	assert.Equal(t, "/zip", res.Violations[1].InstancePath)
	assert.Equal(t, "pattern", res.Violations[1].Keyword)
}

func TestRegistryLoader(t *testing.T) {
	t.Parallel()
	calls := 0
	loader := func(ctx context.Context, uri string) ([]byte, error) {
		calls++
		if uri == "https://remote.example/int.json" {
			return []byte(`{"type":"integer"}`), nil
		}
		return nil, fmt.Errorf("%w: %s", contract.ErrNotFound, uri)
	}
	reg := contract.NewRegistry(contract.WithLoader(loader))
	c, err := reg.Register(t.Context(), ct("n", "1.0.0", `{"$ref":"https://remote.example/int.json"}`))
	require.NoError(t, err)
	_, err = c.ValidateJSON([]byte(`1.5`))
	assert.ErrorIs(t, err, contract.ErrInvalid)
	assert.Equal(t, 1, calls)
}

func TestRegistryFormatSwitch(t *testing.T) {
	t.Parallel()
	schema := `{"type":"string","format":"date-time"}`
	asserting, err := contract.NewRegistry().Register(t.Context(), ct("d", "1.0.0", schema))
	require.NoError(t, err)
	annotating, err := contract.NewRegistry(contract.WithFormatAssertion(false)).Register(t.Context(), ct("d", "1.0.0", schema))
	require.NoError(t, err)
	_, err = asserting.ValidateJSON([]byte(`"yesterday"`))
	assert.ErrorIs(t, err, contract.ErrInvalid)
	_, err = annotating.ValidateJSON([]byte(`"yesterday"`))
	assert.NoError(t, err)

	custom, err := contract.NewRegistry(contract.WithFormat("even", func(s string) bool { return len(s)%2 == 0 })).
		Register(t.Context(), ct("e", "1.0.0", `{"format":"even"}`))
	require.NoError(t, err)
	_, err = custom.ValidateJSON([]byte(`"abc"`))
	assert.ErrorIs(t, err, contract.ErrInvalid)
	_, err = custom.ValidateJSON([]byte(`"ab"`))
	assert.NoError(t, err)

	d7, err := contract.NewRegistry(contract.WithDefaultDraft(contract.Draft7)).Register(t.Context(), ct("d7", "1.0.0", `{"items":[{"type":"string"}]}`))
	require.NoError(t, err)
	_, err = d7.ValidateJSON([]byte(`[1]`))
	assert.ErrorIs(t, err, contract.ErrInvalid, "draft 7 tuple items apply")
}

func TestRegistryConcurrent(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	reg := contract.NewRegistry()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := reg.Register(ctx, ct("c", fmt.Sprintf("%d.0.0", i+1), `{"type":"object","properties":{"n":{"type":"integer"}}}`))
			if !assert.NoError(t, err) {
				return
			}
			for range 50 {
				_, err := c.Validate(map[string]any{"n": 1})
				assert.NoError(t, err)
				_, err = reg.Latest("c")
				assert.NoError(t, err)
				_ = reg.Versions("c")
			}
		}()
	}
	wg.Wait()
	assert.Len(t, reg.Versions("c"), 8)
}

func TestCompileCancelled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := contract.NewRegistry().Register(ctx, ct("x", "1.0.0", `{}`))
	assert.ErrorIs(t, err, context.Canceled)
}

func TestRegistryResolve(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	reg := contract.NewRegistry()
	v1 := ct("r", "1.0.0", `{"type":"object"}`)
	first, err := reg.Resolve(ctx, v1)
	require.NoError(t, err, "an unknown version with a schema is registered")
	again, err := reg.Resolve(ctx, ct("r", "1.0.0", `{ "type" : "object" }`))
	require.NoError(t, err)
	assert.Same(t, first, again, "the same schema (modulo formatting) resolves to the cached contract")
	byName, err := reg.Resolve(ctx, contract.Contract{Name: "r"})
	require.NoError(t, err)
	assert.Same(t, first, byName)
	_, err = reg.Resolve(ctx, ct("r", "1.0.0", `{"type":"array"}`))
	assert.ErrorIs(t, err, contract.ErrVersionExists)
	_, err = reg.Resolve(ctx, contract.Contract{Name: "missing", Version: "1.0.0"})
	assert.ErrorIs(t, err, contract.ErrNotFound)
	_, err = reg.Resolve(ctx, ct("r", "1.1.0", `{"type":"array"}`))
	assert.ErrorIs(t, err, contract.ErrIncompatible, "resolving registers through the compatibility gate")

	// The registry keeps its own copy of the schema bytes.
	buf := []byte(`{"type":"string"}`)
	c, err := reg.Register(ctx, contract.Contract{Name: "copy", Version: "1.0.0", Schema: buf})
	require.NoError(t, err)
	copy(buf, `{"type":"number"}`)
	assert.JSONEq(t, `{"type":"string"}`, string(c.Contract().Schema))
}

// FuzzRegister compiles arbitrary schema documents: a bad schema is an error, never a
// panic, and whatever compiles validates a few documents without panicking.
func FuzzRegister(f *testing.F) {
	for _, s := range []string{`{"type":"string"}`, `{"$ref":"#/$defs/a","$defs":{"a":{"items":{"$ref":"#"}}}}`,
		`{"pattern":"^a+$","enum":[]}`, `true`, `{"anyOf":[{"minimum":1e400}]}`, `{"$schema":"http://json-schema.org/draft-07/schema#","items":[{}]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, schema []byte) {
		reg := contract.NewRegistry(contract.WithLimits(contract.Limits{MaxDepth: 32, MaxBytes: 1 << 16}))
		c, err := reg.Register(context.Background(), contract.Contract{Name: "f", Version: "1.0.0", Schema: schema})
		if err != nil {
			if !errors.Is(err, contract.ErrInvalidContract) {
				t.Fatalf("compile error does not match ErrInvalidContract: %v", err)
			}
			return
		}
		for _, doc := range []string{`null`, `1`, `1.5`, `"s"`, `[1,"a",[],{}]`, `{"a":{"b":[1]}}`} {
			_, err := c.ValidateJSON([]byte(doc))
			if err != nil && !errors.Is(err, contract.ErrInvalid) && !errors.Is(err, contract.ErrInvalidContract) {
				t.Fatalf("unexpected error kind: %v", err)
			}
		}
	})
}
