package transform_test

import (
	"fmt"
	"testing"

	"github.com/ehg/hub/transform"
	"github.com/stretchr/testify/require"
)

func TestSuggestSharedDebug(t *testing.T) {
	w := loadWorkload(t)
	s, err := transform.Suggest(t.Context(), decodeNumber(t, w.event), w.schema)
	require.NoError(t, err)
	for _, x := range s {
		fmt.Printf("%-14s %.2f %-30s %s\n    %s\n", x.Target, x.Confidence, x.Source, x.Expr, x.Reason)
		for _, a := range x.Alternatives {
			fmt.Printf("      alt %.2f %s\n", a.Confidence, a.Source)
		}
	}
}
