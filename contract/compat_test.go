package contract_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ehg/hub/contract"
)

func TestCompare(t *testing.T) {
	t.Parallel()
	base := `{"type":"object","additionalProperties":false,"required":["id"],"properties":{
		"id":{"type":"integer","minimum":1},
		"name":{"type":"string","maxLength":10},
		"state":{"enum":["a","b"]},
		"tags":{"type":"array","items":{"type":"string"}}}}`
	tests := []struct {
		name     string
		newer    string
		backward bool
		kinds    []contract.ChangeKind
	}{
		{"identical", base, true, nil},
		{"annotations ignored", `{"title":"x","type":"object","additionalProperties":false,"required":["id"],"properties":{
			"id":{"type":"integer","minimum":1,"description":"d"},"name":{"type":"string","maxLength":10},
			"state":{"enum":["a","b"]},"tags":{"type":"array","items":{"type":"string"}}}}`, true, nil},
		{"property made required", `{"type":"object","additionalProperties":false,"required":["id","name"],"properties":{
			"id":{"type":"integer","minimum":1},"name":{"type":"string","maxLength":10},
			"state":{"enum":["a","b"]},"tags":{"type":"array","items":{"type":"string"}}}}`, false, []contract.ChangeKind{contract.ChangeRequiredAdded}},
		{"property removed while closed", `{"type":"object","additionalProperties":false,"required":["id"],"properties":{
			"id":{"type":"integer","minimum":1},"name":{"type":"string","maxLength":10},
			"tags":{"type":"array","items":{"type":"string"}}}}`, false, []contract.ChangeKind{contract.ChangePropertyRemoved}},
		{"type narrowed", `{"type":"object","additionalProperties":false,"required":["id"],"properties":{
			"id":{"type":"integer","minimum":1},"name":{"type":"string","maxLength":10},
			"state":{"enum":["a","b"]},"tags":{"type":"array","items":{"const":"x"}}}}`, false, []contract.ChangeKind{contract.ChangeConstraintAdded, contract.ChangeTypeWidened}},
		{"enum value removed", `{"type":"object","additionalProperties":false,"required":["id"],"properties":{
			"id":{"type":"integer","minimum":1},"name":{"type":"string","maxLength":10},
			"state":{"enum":["a"]},"tags":{"type":"array","items":{"type":"string"}}}}`, false, []contract.ChangeKind{contract.ChangeEnumValueRemoved}},
		{"bound tightened", `{"type":"object","additionalProperties":false,"required":["id"],"properties":{
			"id":{"type":"integer","minimum":2},"name":{"type":"string","maxLength":5},
			"state":{"enum":["a","b"]},"tags":{"type":"array","items":{"type":"string"}}}}`, false, []contract.ChangeKind{contract.ChangeBoundTightened, contract.ChangeBoundTightened}},
		{"relaxations are compatible", `{"type":"object","required":[],"properties":{
			"id":{"type":["integer","string"],"minimum":0},"name":{"type":"string"},
			"state":{"enum":["a","b","c"]},"tags":{"type":"array","items":{"type":"string"}},"new":{"type":"string"}}}`, true,
			[]contract.ChangeKind{contract.ChangeOpened, contract.ChangeRequiredRemoved, contract.ChangeBoundRelaxed, contract.ChangeTypeWidened, contract.ChangeBoundRelaxed, contract.ChangePropertyAdded, contract.ChangeEnumValueAdded}},
		{"closing is breaking", `{"type":"object","additionalProperties":false,"required":["id"],"properties":{
			"id":{"type":"integer","minimum":1},"name":{"type":"string","maxLength":10,"pattern":"^a"},
			"state":{"enum":["a","b"]},"tags":{"type":"array","items":{"type":"string"},"uniqueItems":true}}}`, false,
			[]contract.ChangeKind{contract.ChangeConstraintAdded, contract.ChangeConstraintAdded}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rep, err := contract.Compare([]byte(base), []byte(tt.newer))
			require.NoError(t, err)
			assert.Equal(t, tt.backward, rep.Backward, "%v", rep.Changes)
			var kinds []contract.ChangeKind
			for _, c := range rep.Changes {
				kinds = append(kinds, c.Kind)
				assert.NotEmpty(t, c.Message)
				assert.NotEmpty(t, c.Path)
			}
			assert.ElementsMatch(t, tt.kinds, kinds, "%v", rep.Changes)
		})
	}
}

func TestCompareMisc(t *testing.T) {
	t.Parallel()
	rep, err := contract.Compare([]byte(`{"properties":{"a":{"type":"string"}}}`), []byte(`{"properties":{}}`))
	require.NoError(t, err)
	assert.True(t, rep.Backward, "removing a property of an open object is compatible")

	rep, err = contract.Compare([]byte(`{"multipleOf": 4}`), []byte(`{"multipleOf": 2}`))
	require.NoError(t, err)
	assert.True(t, rep.Backward)
	rep, err = contract.Compare([]byte(`{"multipleOf": 2}`), []byte(`{"multipleOf": 4}`))
	require.NoError(t, err)
	assert.False(t, rep.Backward)

	rep, err = contract.Compare([]byte(`{"oneOf":[{"type":"string"}]}`), []byte(`{"oneOf":[{"type":"integer"}]}`))
	require.NoError(t, err)
	assert.False(t, rep.Backward, "unprovable changes count as breaking")

	rep, err = contract.Compare([]byte(`true`), []byte(`false`))
	require.NoError(t, err)
	assert.False(t, rep.Backward)

	_, err = contract.Compare([]byte(`{`), []byte(`{}`))
	assert.ErrorIs(t, err, contract.ErrSyntax)
	_, err = contract.Compare([]byte(`{}`), []byte(`{"a":1,"a":1}`))
	assert.ErrorIs(t, err, contract.ErrDuplicateKey)
}
