package verifiers

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var gocardlessConfig = options{Secrets: []string{"gocardless-test-secret", "gocardless-old-secret"}}

func init() {
	benchCases = append(benchCases, benchCase{
		provider: "gocardless", file: "gocardless/payment_confirmed", config: gocardlessConfig, newHash: sha256.New,
		signed: func(b *testing.B, req *Request) (signed, want []byte) {
			// The raw body.
			want, err := hex.DecodeString(req.Header.Get("Webhook-Signature"))
			if err != nil {
				b.Fatal(err)
			}
			return req.Body, want
		},
	})
}

func TestGoCardless(t *testing.T) {
	testBatchProvider(t, "gocardless", gocardlessConfig, []string{
		"payment_confirmed", "payment_created", "payment_submitted", "payment_pending_submission", "payment_paid_out",
		"payment_failed", "payment_cancelled", "payment_charged_back", "metadata_order", "no_order", "mandate_cancelled",
		"old_secret", "uppercase_hex", "charset", "batch", "same_event_twice",
	}, []batchReject{
		{"tampered", ErrSignature, "Webhook-Signature header matches none of the 2 configured secrets"},
		{"tampered_second_event", ErrSignature, "matches none"},
		{"wrong_secret", ErrSignature, "matches none"},
		{"unsigned", ErrSignature, "no Webhook-Signature header"},
		{"bad_hex", ErrSignature, "Webhook-Signature header is not a hex HMAC"},
		{"base64_signature", ErrSignature, "is not a hex HMAC"},
		{"empty_events", ErrMalformed, "events is missing or empty"},
		{"no_events", ErrMalformed, "events is missing or empty"},
		{"event_not_object", ErrMalformed, "events[0] is not an object"},
		{"missing_id", ErrMalformed, "events[0]: mandatory field id is missing"},
		{"missing_action", ErrMalformed, "events[0]: mandatory field action is missing"},
		{"payment_without_link", ErrMalformed, "events[0]: links.payment is missing"},
		{"duplicate_key", ErrMalformed, `JSON key "action" given twice`},
		{"case_folded_key", ErrMalformed, `JSON key "action" given twice`},
		{"invalid_utf8", ErrMalformed, "not valid UTF-8"},
		{"order_id_object", ErrMalformed, "resource_metadata.order_id is an object or an array"},
		{"form_content_type", ErrMalformed, "content type"},
		{"get_method", ErrMethod, "GET"},
	})
}

// TestGoCardlessOfficialVector: GoCardless' own test webhook (gocardless-pro-go
// testdata/webhook_request.json, copied byte for byte) with the signature
// its test expects under the secret "testing"; without its trailing newline
// the same signature is refused.
func TestGoCardlessOfficialVector(t *testing.T) {
	body, err := os.ReadFile(filepath.Join("..", "testdata", "vectors", "gocardless_webhook_request.json"))
	require.NoError(t, err)
	require.Len(t, body, 383)
	req := goldenRequest(t, "gocardless/official_vector")
	require.Equal(t, body, req.Body, "the golden request carries the vector byte for byte")
	require.Equal(t, "243f3efa57743c24eec7c5e10edc475b547830d256d5b583745afe319dd90936", req.Header.Get("Webhook-Signature"))

	v := mustNew(t, "gocardless", options{Secrets: []string{"testing"}})
	events, err := v.Verify(context.Background(), req)
	require.NoError(t, err)
	require.Len(t, events, 1)
	checkGolden(t, "gocardless/official_vector", events)
	e := events[0]
	assert.Equal(t, "EVTESTNE86TNZS", e.ID)
	assert.Equal(t, StatusFailed, e.Status)
	assert.Equal(t, "payments.failed", e.ProviderStatus)
	assert.Equal(t, "index_ID_123", e.TransactionID)
	assert.Empty(t, e.OrderID, "the vector's metadata is empty: no order")
	assert.Empty(t, e.Amount, "GoCardless events carry no amount")
	assert.Nil(t, e.AmountMinor)
	assert.Equal(t, "test_failure", e.ResponseCode)
	assert.Equal(t, "sepa_core", e.PaymentMethod)
	assert.Equal(t, "2017-03-20T17:57:02.292Z", e.OccurredAt.Format("2006-01-02T15:04:05.000Z07:00"))

	_, err = v.Verify(context.Background(), goldenRequest(t, "gocardless/trailing_newline_dropped"))
	require.ErrorIs(t, err, ErrSignature)
	_, err = mustNew(t, "gocardless", gocardlessConfig).Verify(context.Background(), req)
	require.ErrorIs(t, err, ErrSignature)
}

func TestGoCardlessStatusesAndFields(t *testing.T) {
	v := mustNew(t, "gocardless", gocardlessConfig)
	for file, want := range map[string]Status{
		"payment_confirmed": StatusSucceeded, "payment_paid_out": StatusSucceeded,
		"payment_created": StatusPending, "payment_submitted": StatusPending, "payment_pending_submission": StatusPending,
		"payment_failed": StatusFailed, "payment_cancelled": StatusCancelled, "payment_charged_back": StatusDisputed,
		"mandate_cancelled": StatusUnknown,
	} {
		e := verifyGolden(t, v, "gocardless/"+file)
		assert.Equal(t, want, e.Status, file)
		assert.Empty(t, e.Amount, file)
	}
	mandate := verifyGolden(t, v, "gocardless/mandate_cancelled")
	assert.Equal(t, "mandates.cancelled", mandate.ProviderStatus, "not a payment that was cancelled")
	assert.Empty(t, mandate.TransactionID)

	assert.Equal(t, "ORD-20240501-0001", verifyGolden(t, v, "gocardless/payment_confirmed").OrderID, "resource_metadata.order_id")
	assert.Equal(t, "ORD-META-7", verifyGolden(t, v, "gocardless/metadata_order").OrderID, "metadata.order_id")
	noOrder := verifyGolden(t, v, "gocardless/no_order")
	assert.Empty(t, noOrder.OrderID)
	assert.Equal(t, "PM00ABCDEF1234", noOrder.TransactionID, "the payment the merchant created is how it knows the event")
}

// TestGoCardlessBatch: each event of a batch is one event with GoCardless'
// own id, in the batch's order.
func TestGoCardlessBatch(t *testing.T) {
	v := mustNew(t, "gocardless", gocardlessConfig)
	events, err := v.Verify(context.Background(), goldenRequest(t, "gocardless/batch"))
	require.NoError(t, err)
	var ids []string
	var statuses []Status
	for _, e := range events {
		ids = append(ids, e.ID)
		statuses = append(statuses, e.Status)
	}
	assert.Equal(t, []string{"EV0123ABCD4531", "EV0123ABCD4532", "EV0123ABCD4533", "EV0123ABCD4534"}, ids)
	assert.Equal(t, []Status{StatusPending, StatusPending, StatusSucceeded, StatusUnknown}, statuses)
	var raw map[string]any
	require.NoError(t, json.Unmarshal(events[3].Raw, &raw))
	assert.Equal(t, "active", raw["action"], "raw is the event itself")
	assert.NotContains(t, string(events[3].Raw), "webhook_id", "raw is the event, not the batch")
}

// TestGoCardlessBatchLimit: MaxBatchItems events are delivered, one more
// is refused whole.
func TestGoCardlessBatchLimit(t *testing.T) {
	v := mustNew(t, "gocardless", gocardlessConfig)
	build := func(n int) *Request {
		events := make([]string, n)
		for i := range events {
			events[i] = fmt.Sprintf(`{"id":"EV%06d","created_at":"2024-05-01T10:20:30.000Z","resource_type":"payments","action":"confirmed","links":{"payment":"PM%06d"}}`, i, i)
		}
		body := `{"events":[` + strings.Join(events, ",") + `],"meta":{"webhook_id":"WB1"}}`
		mac := hmac.New(sha256.New, []byte("gocardless-test-secret"))
		mac.Write([]byte(body))
		return &Request{Method: http.MethodPost, Body: []byte(body),
			Header: http.Header{"Content-Type": {"application/json"}, "Webhook-Signature": {hex.EncodeToString(mac.Sum(nil))}}}
	}
	events, err := v.Verify(context.Background(), build(MaxBatchItems))
	require.NoError(t, err)
	assert.Len(t, events, MaxBatchItems)
	events, err = v.Verify(context.Background(), build(MaxBatchItems+1))
	require.ErrorIs(t, err, ErrMalformed)
	assert.Contains(t, err.Error(), "events holds 501 items, over the limit of 500")
	assert.Empty(t, events)
}

// TestGoCardlessAnswers498: GoCardless' convention for a bad signature.
func TestGoCardlessAnswers498(t *testing.T) {
	v := mustNew(t, "gocardless", gocardlessConfig)
	ss, ok := v.(SignatureStatuser)
	require.True(t, ok)
	assert.Equal(t, 498, ss.SignatureStatus())
	assert.Equal(t, ACK{Status: 204}, v.ACK())
}

// FuzzGoCardless: the signature covers the raw body, so an accepted body
// must be byte for byte a body GoCardless signed.
func FuzzGoCardless(f *testing.F) {
	fuzzVerifier(f, "gocardless", gocardlessConfig, func(r *Request) string { return string(r.Body) })
}
