package verifiers

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const swSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" // the spec's test key

// swMapping maps Polar's order events, as an operator would.
var swMapping = map[string]any{
	"fields": map[string]string{
		"status": "type", "order_id": "data.metadata.order_id", "transaction_id": "data.id",
		"amount": "data.total_amount", "currency": "data.currency", "occurred_at": "data.created_at",
	},
	"statuses": map[string][]string{
		"succeeded": {"order.paid"}, "refunded": {"order.refunded"}, "failed": {"payment.failed"},
	},
	"amount_unit": "minor",
}

var swConfig = options{
	Secrets: []string{swSecret, "whsec_" + base64.StdEncoding.EncodeToString([]byte("paynotify-old-standard-webhooks!"))},
	Extra:   swMapping,
}

func init() {
	// TestEveryProviderIsComplete's secret is not base64; its example
	// carries the order where field order_id says.
	completeOptions["standardwebhooks"] = "secret_encoding raw\nfield order_id data.order_id"
	benchCases = append(benchCases, benchCase{
		provider: "standardwebhooks", file: "standardwebhooks/order_paid", config: swConfig, newHash: sha256.New,
		key: mustSWKey(swSecret),
		signed: func(b *testing.B, req *Request) ([]byte, []byte) {
			signed := []byte(req.Header.Get("Webhook-Id") + "." + req.Header.Get("Webhook-Timestamp") + ".")
			_, sig, _ := strings.Cut(req.Header.Get("Webhook-Signature"), ",")
			want, err := base64.StdEncoding.DecodeString(sig)
			if err != nil {
				b.Fatal(err)
			}
			return append(signed, req.Body...), want
		},
	})
}

func mustSWKey(secret string) []byte {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		panic(err)
	}
	return key
}

func TestStandardWebhooks(t *testing.T) {
	testProvider(t, "standardwebhooks", swConfig, []string{
		"order_paid", "order_refunded", "payment_failed", "unmapped_type", "jpy", "old_secret",
		"several_signatures", "svix_headers", "pretty_body", "at_tolerance_old", "at_tolerance_future",
	}, []rejectCase{
		{"tampered", nil, ErrSignature, "no v1 signature of Webhook-Signature matches one of the 2 configured secrets"},
		{"wrong_secret", nil, ErrSignature, "matches one of the 2"},
		{"unsigned", nil, ErrSignature, "no Webhook-Signature header"},
		{"no_id", nil, ErrSignature, "no Webhook-Id header"},
		{"id_with_dot", nil, ErrSignature, "Webhook-Id header contains a '.'"},
		{"only_v1a", nil, ErrSignature, "Webhook-Signature header has no v1 signature"},
		{"hex_signature", nil, ErrSignature, "has no v1 signature"},
		{"too_old", nil, ErrSignature, "Webhook-Timestamp header is 5m1s old, over the tolerance of 5m0s"},
		{"future", nil, ErrSignature, "Webhook-Timestamp header is 5m1s in the future"},
		{"timestamp_not_digits", nil, ErrSignature, "Webhook-Timestamp header is not a Unix time in seconds"},
		{"raw_mode_where_base64", nil, ErrSignature, "matches one of"},
		{"duplicate_key", nil, ErrMalformed, `JSON key "type" given twice`},
		{"casefold_key", nil, ErrMalformed, `JSON key "Type" given twice`},
		{"invalid_utf8", nil, ErrMalformed, "not valid UTF-8"},
		{"missing_order", nil, ErrMalformed, "the succeeded event has no order id at data.metadata.order_id (field order_id)"},
		{"missing_type", nil, ErrMalformed, "mandatory field type (field status) is missing"},
		{"form_content_type", nil, ErrMalformed, "content type"},
		{"plain_text", nil, ErrMalformed, "content type"}, // the mapping reads JSON
		{"svix_and_webhook_ids_differ", nil, ErrSignature, "Webhook-Id and Svix-Id differ"},
	})
}

func TestStandardWebhooksMapping(t *testing.T) {
	v := mustNew(t, "standardwebhooks", swConfig)
	e := verifyGolden(t, v, "standardwebhooks/order_paid")
	assert.Equal(t, "msg_2fQyKAsZ7XvP3c1NqWbE", e.ID, "webhook-id, the sender's idempotency key")
	assert.Equal(t, StatusSucceeded, e.Status)
	assert.Equal(t, "order.paid", e.ProviderStatus)
	assert.Equal(t, "ORD-20240501-0001", e.OrderID)
	assert.Equal(t, "ord_01HXAMPLE0PAID", e.TransactionID)
	assert.Equal(t, "10.50", e.Amount)
	assert.EqualValues(t, 1050, *e.AmountMinor)
	assert.Equal(t, "USD", e.Currency, "upper-cased")
	assert.Equal(t, time.Date(2024, 5, 1, 10, 20, 30, 0, time.UTC), e.OccurredAt)

	unmapped := verifyGolden(t, v, "standardwebhooks/unmapped_type")
	assert.Equal(t, StatusUnknown, unmapped.Status)
	assert.Equal(t, "customer.updated", unmapped.ProviderStatus)
	assert.Empty(t, unmapped.OrderID, "an unmapped event without an order is forwarded")

	svix := verifyGolden(t, v, "standardwebhooks/svix_headers")
	assert.Equal(t, e.ID, svix.ID, "svix-id is the id")

	// The same event signed with the other secret, or listed among other
	// signatures, is the same event.
	assert.Equal(t, e.ID, verifyGolden(t, v, "standardwebhooks/several_signatures").ID)
	assert.Equal(t, e.ID, verifyGolden(t, v, "standardwebhooks/old_secret").ID)

	// event_id overrides webhook-id.
	byBody := mustNew(t, "standardwebhooks", swConfig.with("event_id", "data.id"))
	assert.Equal(t, "ord_01HXAMPLE0PAID", verifyGolden(t, byBody, "standardwebhooks/order_paid").ID)
	byHeader := mustNew(t, "standardwebhooks", swConfig.with("event_id", "header:Content-Type"))
	assert.Equal(t, "application/json", verifyGolden(t, byHeader, "standardwebhooks/order_paid").ID)
}

// TestStandardWebhooksWithoutMapping: with no field line, any body is
// forwarded, status unknown, the body as raw.
func TestStandardWebhooksWithoutMapping(t *testing.T) {
	v := mustNew(t, "standardwebhooks", options{Secrets: []string{swSecret}})
	e := verifyGolden(t, v, "standardwebhooks/plain_text")
	assert.Equal(t, StatusUnknown, e.Status)
	assert.Empty(t, e.ProviderStatus)
	assert.JSONEq(t, `{"body":"order ORD-7 paid"}`, string(e.Raw))
	assert.Equal(t, "msg_text1", e.ID)
	checkGolden(t, "standardwebhooks/plain_text", []Event{e})

	j := verifyGolden(t, v, "standardwebhooks/order_paid")
	assert.Equal(t, StatusUnknown, j.Status)
	assert.Contains(t, string(j.Raw), `"type":"order.paid"`, "raw is the JSON as sent")
	form := verifyGolden(t, v, "standardwebhooks/form_content_type")
	assert.Contains(t, string(form.Raw), `{"body":"{\"type\":\"order.paid\"`, "declared a form: kept as text, not read as JSON")
	for _, file := range []string{"duplicate_key", "casefold_key", "invalid_utf8"} {
		_, err := v.Verify(t.Context(), goldenRequest(t, "standardwebhooks/"+file))
		assert.ErrorIs(t, err, ErrMalformed, "a JSON body is read strictly even unmapped: %s", file)
	}
}

// TestStandardWebhooksOfficialVector: the spec libraries' test vector
// (NOTES.md §2.9), at its own time.
func TestStandardWebhooksOfficialVector(t *testing.T) {
	v := mustNew(t, "standardwebhooks", options{Secrets: []string{swSecret}})
	req := goldenRequest(t, "standardwebhooks/official_vector")
	req.ReceivedAt = time.Unix(1614265330, 0)
	events, err := v.Verify(t.Context(), req)
	require.NoError(t, err)
	require.Len(t, events, 1)
	assert.Equal(t, "msg_p5jXN8AQM9LWM0D4loKWxJek", events[0].ID)
	assert.JSONEq(t, `{"test": 2432232314}`, string(events[0].Raw))

	req.ReceivedAt = goldenReceivedAt // years later: a replay
	_, err = v.Verify(t.Context(), req)
	assert.ErrorIs(t, err, ErrSignature)
}

// TestStandardWebhooksPolarRawMode: NOTES.md §2's derived example of the
// raw-key mode (the secret's own bytes), which the base64 mode refuses.
func TestStandardWebhooksPolarRawMode(t *testing.T) {
	raw := mustNew(t, "standardwebhooks", options{Secrets: []string{"polar_whs_abc"}}.with("secret_encoding", "raw"))
	req := goldenRequest(t, "standardwebhooks/polar_raw_vector")
	req.ReceivedAt = time.Unix(1700000000, 0)
	events, err := raw.Verify(t.Context(), req)
	require.NoError(t, err)
	assert.Equal(t, "msg_1", events[0].ID)

	rawCfg := swConfig.with("secret_encoding", "raw")
	rawCfg.Secrets = []string{"polar_whs_abc"}
	e := verifyGolden(t, mustNew(t, "standardwebhooks", rawCfg), "standardwebhooks/raw_mode")
	assert.Equal(t, StatusSucceeded, e.Status)

	_, err = newVerifier("standardwebhooks", options{Secrets: []string{"polar_whs_abc"}})
	require.Error(t, err, "polar_whs_abc is not base64")
	assert.Contains(t, err.Error(), "secret: secret 1 is not whsec_ followed by standard base64")
	assert.NotContains(t, err.Error(), "polar_whs_abc")
}

func TestStandardWebhooksConfig(t *testing.T) {
	for _, c := range []struct {
		o    options
		want string
	}{
		{options{}, `secret: required for provider "standardwebhooks"`},
		{options{Secrets: []string{"whsec_!!!"}}, "secret: secret 1 is not whsec_ followed by standard base64"},
		{options{Secrets: []string{swSecret}}.with("secret_encoding", "hex"), `secret_encoding: "hex" is not base64 or raw`},
		{swConfig.with("statuses", map[string][]string{"paid": {"order.paid"}}), `status: "paid" is not a paynotify.v1 status`},
		{swConfig.with("statuses", map[string][]string{"succeeded": {"order.paid"}, "pending": {"order.paid"}}),
			`status: value "order.paid" is listed under both pending and succeeded`},
		{options{Secrets: []string{swSecret}}.with("statuses", map[string][]string{"succeeded": {"x"}}), "add that line"},
		{options{Secrets: []string{swSecret}}.with("fields", map[string]string{"status": "type"}).
			with("statuses", map[string][]string{"succeeded": {"x"}}), "needs its order: add field order_id"},
		{options{Secrets: []string{swSecret}}.with("fields", map[string]string{"reference": "a"}), `field: "reference" is not one of`},
		{options{Secrets: []string{swSecret}}.with("fields", map[string]string{"order_id": "a..b"}), "field: order_id: path"},
		{options{Secrets: []string{swSecret}}.with("event_id", "header:"), "event_id: header: needs a header name"},
		{options{Secrets: []string{swSecret}}.with("amount_unit", "cents"), `amount_unit: "cents" is not major or minor`},
	} {
		_, err := newVerifier("standardwebhooks", c.o)
		if assert.Error(t, err, c.want) {
			assert.Contains(t, err.Error(), c.want)
		}
	}
}

// TestStandardWebhooksAgainstTheLibrary: notifications signed by the
// spec's own Go library verify, with the library's id and timestamp, and
// one the library refuses (a tampered body) is refused.
func TestStandardWebhooksAgainstTheLibrary(t *testing.T) {
	lib, err := standardwebhooks.NewWebhook(swSecret)
	require.NoError(t, err)
	v := mustNew(t, "standardwebhooks", swConfig)
	now := time.Now()
	body := []byte(`{"type":"order.paid","data":{"id":"ord_9","total_amount":100,"currency":"eur","metadata":{"order_id":"ORD-9"}}}`)
	sig, err := lib.Sign("msg_lib1", now, body)
	require.NoError(t, err)
	req := &Request{Method: http.MethodPost, Body: body, ReceivedAt: now, Header: http.Header{
		"Content-Type": {"application/json"}, "Webhook-Id": {"msg_lib1"},
		"Webhook-Timestamp": {strconv.FormatInt(now.Unix(), 10)},
		"Webhook-Signature": {sig},
	}}
	require.NoError(t, lib.Verify(body, req.Header), "the library accepts its own request")
	events, err := v.Verify(t.Context(), req)
	require.NoError(t, err)
	assert.Equal(t, "ORD-9", events[0].OrderID)
	assert.Equal(t, "1.00", events[0].Amount)

	req.Body = bytes.Replace(body, []byte("100"), []byte("900"), 1)
	assert.Error(t, lib.Verify(req.Body, req.Header))
	_, err = v.Verify(t.Context(), req)
	assert.ErrorIs(t, err, ErrSignature)

	// Our signer, checked by the library.
	n, err := v.(Signer).Sign(Draft{Fields: v.(Signer).Example("ORD-10", now), Path: "/n", Now: now})
	require.NoError(t, err)
	require.NoError(t, lib.Verify(n.Body, n.Header), "the library accepts paynotify's test notification")
	events, err = v.Verify(t.Context(), &Request{Method: n.Method, Header: n.Header, Body: n.Body, ReceivedAt: now})
	require.NoError(t, err)
	assert.Equal(t, "ORD-10", events[0].OrderID)
	assert.Equal(t, StatusSucceeded, events[0].Status)
	assert.Equal(t, "10.50", events[0].Amount)
}

func TestStandardWebhooksRotationAndSeveralSignatures(t *testing.T) {
	newKey, oldKey := []byte("new-key-of-24-bytes-long"), []byte("old-key-of-24-bytes-long")
	secret := func(k []byte) string { return "whsec_" + base64.StdEncoding.EncodeToString(k) }
	v := mustNew(t, "standardwebhooks", options{Secrets: []string{secret(newKey), secret(oldKey)}})
	sign := func(key []byte) string {
		lib, err := standardwebhooks.NewWebhookRaw(key)
		require.NoError(t, err)
		s, err := lib.Sign("msg_r", goldenReceivedAt, []byte("{}"))
		require.NoError(t, err)
		return s
	}
	for header, ok := range map[string]bool{
		sign(newKey): true,
		sign(oldKey): true,
		sign([]byte("other")) + " " + sign(oldKey):     true,
		"v1a,abc " + sign(newKey):                      true,
		"  " + sign(newKey) + "  ":                     true,
		sign([]byte("other")):                          false,
		strings.Replace(sign(newKey), "v1,", "v2,", 1): false,
		strings.Replace(sign(newKey), "v1,", "V1,", 1): false,
		strings.Replace(sign(newKey), ",", ", ", 1):    false,
		strings.Repeat("v1a,x ", 16) + sign(newKey):    false, // over 16 entries
	} {
		_, err := v.Verify(context.Background(), &Request{Method: http.MethodPost, Body: []byte("{}"), ReceivedAt: goldenReceivedAt,
			Header: http.Header{"Content-Type": {"application/json"}, "Webhook-Id": {"msg_r"},
				"Webhook-Timestamp": {"1714558831"}, "Webhook-Signature": {header}}})
		if ok {
			assert.NoError(t, err, header)
		} else {
			assert.ErrorIs(t, err, ErrSignature, header)
		}
	}
}

// FuzzStandardWebhooks: an accepted request's id, timestamp and body must
// be those of a request the sender signed.
func FuzzStandardWebhooks(f *testing.F) {
	fuzzVerifier(f, "standardwebhooks", swConfig, func(r *Request) string {
		id, ts := r.Header.Get("Webhook-Id"), r.Header.Get("Webhook-Timestamp")
		if id == "" {
			id, ts = r.Header.Get("Svix-Id"), r.Header.Get("Svix-Timestamp")
		}
		return id + "." + ts + "." + string(r.Body)
	})
}
