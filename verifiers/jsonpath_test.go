package verifiers

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestJSONPath(t *testing.T) {
	doc := []byte(`{"data":{"object":{"metadata":{"order_id":"ORD-1","n":12.50,"b":true,"nil":null,"o":{}},
		"client_reference_id":"CR-9"}},"events":[{"id":"EV1"},{"id":"EV2"}]}`)
	for path, want := range map[string]string{
		"data.object.metadata.order_id":        "ORD-1",
		"data.object.metadata.n":               "12.50",
		"data.object.metadata.b":               "true",
		"data.object.metadata.nil":             "",
		"data.object.metadata.missing":         "",
		"data.object.metadata.order_id.deeper": "",
		"events.1.id":                          "EV2",
		"events.2.id":                          "",
		"events.01.id":                         "",
		"events.-1.id":                         "",
	} {
		got, err := MustJSONPath(path).Text(doc)
		require.NoError(t, err, path)
		assert.Equal(t, want, got, path)
	}
	_, err := MustJSONPath("data.object.metadata.o").Text(doc)
	assert.ErrorIs(t, err, ErrMalformed)
	_, err = MustJSONPath("events").Text(doc)
	assert.ErrorIs(t, err, ErrMalformed)

	got, from, err := FirstText(doc, MustJSONPath("data.object.metadata.missing"), MustJSONPath("data.object.client_reference_id"))
	require.NoError(t, err)
	assert.Equal(t, "CR-9", got)
	assert.Equal(t, "data.object.client_reference_id", from.String())

	for _, bad := range []string{"", ".a", "a..b", "a.", "a b", `a."b"`, "a[0]"} {
		_, err := ParseJSONPath(bad)
		assert.Error(t, err, bad)
		if bad != "" {
			assert.Error(t, CheckPath("order_id", bad), bad)
		}
	}
	assert.NoError(t, CheckPath("order_id", ""))
	var oe *OptionError
	require.ErrorAs(t, CheckPath("order_id", "a..b"), &oe)
	assert.Equal(t, "order_id", oe.Option)
}
