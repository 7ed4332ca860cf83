package hub_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub/config"
	"github.com/ehg/hub/hubtest"
)

// TestConfigPromotion: staging and production are separate stores (schemas, files,
// instances); one document carries both environments' overrides; promotion applies
// staging's export, with production's overrides, to production.
func TestConfigPromotion(t *testing.T) {
	t.Parallel()
	for _, sk := range allStores() {
		t.Run(sk.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			stagingSink, prodSink := hubtest.NewSink(t), hubtest.NewSink(t)
			text := fleetDoc(t, 3, stagingSink.URL, nil) +
				"environments:\n" +
				"  staging:\n    services:\n      svc-01: {disabled: true}\n" +
				"  production:\n    services:\n" +
				"      svc-00: {base_url: " + prodSink.URL + ", auth: {type: bearer, token: env:SINK_TOKEN_2}}\n" +
				"      svc-01: {base_url: " + prodSink.URL + "}\n" +
				"      svc-02: {base_url: " + prodSink.URL + ", max_retries: 9}\n"
			doc := parseDoc(t, "hub.yaml", text)
			staging, prod := hubtest.New(t, sk.open(t)), hubtest.New(t, sk.open(t))

			stagingDoc, err := doc.ForEnvironment("staging")
			require.NoError(t, err)
			applyDoc(t, staging, stagingDoc)

			// promote: staging's export with production's overrides
			exported, err := staging.Export(ctx)
			require.NoError(t, err)
			exported.Environments = doc.Environments
			prodDoc, err := exported.ForEnvironment("production")
			require.NoError(t, err)
			prodDoc = prodDoc.WithOptions(config.WithLookupEnv(testEnv))
			plan, err := prod.Plan(ctx, prodDoc)
			require.NoError(t, err)
			assert.Equal(t, 4, plan.Count()["create"], plan.String())
			_, err = prod.Apply(ctx, plan)
			require.NoError(t, err)

			out := string(exportBytes(t, prod))
			assert.Equal(t, 3, strings.Count(out, "base_url: "+prodSink.URL), out)
			assert.Contains(t, out, "token: env:SINK_TOKEN_2")
			assert.Contains(t, out, "max_retries: 9")
			assert.Contains(t, out, "disabled: true", "staging's state is promoted")
			// staging is untouched, and isolated
			st := string(exportBytes(t, staging))
			assert.NotContains(t, st, prodSink.URL)
			assert.NotContains(t, st, "SINK_TOKEN_2")
			// the promotion is idempotent
			again, err := prod.Plan(ctx, prodDoc)
			require.NoError(t, err)
			assert.False(t, again.HasChanges(), again.String())
			_, err = doc.ForEnvironment("qa")
			require.ErrorIs(t, err, config.ErrInvalid)
		})
	}
}
