package schema_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/paynotify/paynotify/internal/simulator"
	"github.com/paynotify/paynotify/schema"
	"github.com/paynotify/paynotify/verifiers"
)

func compile(t *testing.T) *jsonschema.Schema {
	t.Helper()
	return compileWith(t, true)
}

// compileWith compiles the schema, asserting "format" or, as most
// validators do by default for draft 2020-12, treating it as an annotation.
func compileWith(t *testing.T, assertFormat bool) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schema.V1))
	require.NoError(t, err)
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	if assertFormat {
		c.AssertFormat()
	}
	require.NoError(t, c.AddResource("paynotify.v1.schema.json", doc))
	s, err := c.Compile("paynotify.v1.schema.json")
	require.NoError(t, err)
	return s
}

func validate(t *testing.T, s *jsonschema.Schema, event []byte) error {
	t.Helper()
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(event))
	require.NoError(t, err)
	return s.Validate(inst)
}

// TestGoldenEventsAreValid: every normalized event the golden tests expect.
func TestGoldenEventsAreValid(t *testing.T) {
	s := compile(t)
	files, err := filepath.Glob("../testdata/*/*.event.json")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		// A batch (Adyen, GoCardless) is kept as the array of its events.
		events := []json.RawMessage{data}
		if bytes.HasPrefix(bytes.TrimSpace(data), []byte("[")) {
			require.NoError(t, json.Unmarshal(data, &events), f)
			require.NotEmpty(t, events, f)
		}
		for _, event := range events {
			assert.NoError(t, validate(t, s, event), f)
		}
	}
}

// TestEveryStatusIsInTheSchema: the statuses the verifiers set are the
// schema's enum, no more and no less.
func TestEveryStatusIsInTheSchema(t *testing.T) {
	var doc struct {
		Properties struct {
			Status struct {
				Enum []string `json:"enum"`
			} `json:"status"`
		} `json:"properties"`
	}
	require.NoError(t, json.Unmarshal(schema.V1, &doc))
	var statuses []string
	for _, s := range verifiers.Statuses {
		statuses = append(statuses, string(s))
	}
	assert.ElementsMatch(t, statuses, doc.Properties.Status.Enum)
	assert.Contains(t, doc.Properties.Status.Enum, "disputed")
}

// TestSimulatedEventsAreValid: what the verifiers make of the simulator's
// notifications, encoded as the handler forwards them.
func TestSimulatedEventsAreValid(t *testing.T) {
	s := compile(t)
	keys := simulator.Keys{Octo3: "o3", TheDAO: "dao", Checkout: "cko", CheckoutAuthorization: "auth", Octopus: "oc", OctopusKey: "ock", Oobit: "oob"}
	for _, provider := range simulator.Providers {
		v, err := keys.Verifier(provider)
		require.NoError(t, err)
		m := simulator.Genuine(provider, "ORDER-42", keys)
		events, err := v.Verify(context.Background(), m.VerifierRequest(netip.MustParseAddr("2001:db8::7"), time.Now()))
		require.NoError(t, err, provider)
		require.NotEmpty(t, events, provider)
		for _, e := range events {
			event, err := json.Marshal(e)
			require.NoError(t, err)
			assert.NoError(t, validate(t, s, event), provider)
		}
	}
}

// TestSchemaRefusesWhatIsNotAnEvent: the schema is strict enough to catch
// what an app would trip over.
func TestSchemaRefusesWhatIsNotAnEvent(t *testing.T) {
	s := compile(t)
	valid, err := os.ReadFile("../testdata/checkout/payment_captured.event.json")
	require.NoError(t, err)
	require.NoError(t, validate(t, s, valid))
	cases := map[string]func(e map[string]any){
		"unknown status":               func(e map[string]any) { e["status"] = "paid" },
		"other schema":                 func(e map[string]any) { e["schema"] = "paynotify.v2" },
		"empty optional member":        func(e map[string]any) { e["reason"] = "" },
		"empty customer":               func(e map[string]any) { e["customer"] = map[string]any{} },
		"signed amount":                func(e map[string]any) { e["amount"] = "-10.50" },
		"exponent amount":              func(e map[string]any) { e["amount"] = "1e3" },
		"number amount":                func(e map[string]any) { e["amount"] = 10.5 },
		"fractional minor units":       func(e map[string]any) { e["amount_minor"] = 10.5 },
		"lower-case currency":          func(e map[string]any) { e["currency"] = "hkd" },
		"minor units without currency": func(e map[string]any) { delete(e, "currency") },
		"local time":                   func(e map[string]any) { e["received_at"] = "2024-05-01T18:20:31+08:00" },
		"not a time":                   func(e map[string]any) { e["occurred_at"] = "2024-13-01T10:20:31Z" },
		"not an IP":                    func(e map[string]any) { e["source_ip"] = "example.com" },
		"undocumented member":          func(e map[string]any) { e["paid"] = true },
		"no raw":                       func(e map[string]any) { delete(e, "raw") },
		"no id":                        func(e map[string]any) { delete(e, "id") },
	}
	for name, mutate := range cases {
		assert.Error(t, validate(t, s, mutated(t, valid, mutate)), name)
	}
}

// mutated is event with mutate applied to its members.
func mutated(t *testing.T, event []byte, mutate func(e map[string]any)) []byte {
	t.Helper()
	var e map[string]any
	require.NoError(t, json.Unmarshal(event, &e))
	mutate(e)
	out, err := json.Marshal(e)
	require.NoError(t, err)
	return out
}

// TestShapesHoldWithoutFormatAssertion: a validator that takes "format" as
// an annotation still refuses times and addresses of the wrong shape.
func TestShapesHoldWithoutFormatAssertion(t *testing.T) {
	s := compileWith(t, false)
	valid, err := os.ReadFile("../testdata/checkout/payment_captured.event.json")
	require.NoError(t, err)
	for name, mutate := range map[string]func(e map[string]any){
		"not a time": func(e map[string]any) { e["received_at"] = "not a timeZ" },
		"not an IP":  func(e map[string]any) { e["source_ip"] = "example.com" },
	} {
		assert.Error(t, validate(t, s, mutated(t, valid, mutate)), name)
	}
}
