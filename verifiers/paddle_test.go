package verifiers

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var paddleConfig = options{Secrets: []string{"pdl_ntfset_01hw0test_paddleTestSecretKey0001", "pdl_ntfset_01hv9old_paddleOldSecretKey0001"}}

func init() {
	benchCases = append(benchCases, benchCase{
		provider: "paddle", file: "paddle/transaction_completed", config: paddleConfig, newHash: sha256.New,
		signed: func(b *testing.B, req *Request) (signed, want []byte) {
			// "<ts>:<body>", and the one h1 of ts=<ts>;h1=<hex>.
			ts, h1, ok := strings.Cut(strings.TrimPrefix(req.Header.Get("Paddle-Signature"), "ts="), ";h1=")
			if !ok {
				b.Fatal("no ts=…;h1=… header")
			}
			want, err := hex.DecodeString(h1)
			if err != nil {
				b.Fatal(err)
			}
			return append([]byte(ts+":"), req.Body...), want
		},
	})
}

func TestPaddle(t *testing.T) {
	testProvider(t, "paddle", paddleConfig, []string{
		"transaction_completed", "transaction_paid", "transaction_payment_failed", "transaction_canceled",
		"transaction_past_due", "retried_payment", "adjustment_refund_approved", "adjustment_refund_pending",
		"adjustment_credit", "subscription_created", "transaction_created_without_order", "jpy",
		"old_secret", "two_h1_and_h2", "uppercase_hex", "pretty_body",
	}, []rejectCase{
		{"tampered", nil, ErrSignature, "no h1 signature of Paddle-Signature matches one of the 2 configured secrets"},
		{"wrong_secret", nil, ErrSignature, "matches one of the 2 configured secrets"},
		{"unsigned", nil, ErrSignature, "no Paddle-Signature header"},
		{"empty_header", nil, ErrSignature, "no Paddle-Signature header"},
		{"no_ts", nil, ErrSignature, "Paddle-Signature has no ts"},
		{"two_ts", nil, ErrSignature, "Paddle-Signature has more than one ts"},
		{"only_h2", nil, ErrSignature, "Paddle-Signature has no h1 signature"},
		{"h1_not_hex", nil, ErrSignature, "no h1 signature of Paddle-Signature is a hex HMAC-SHA256"},
		{"upper_case_names", nil, ErrSignature, "Paddle-Signature has no ts"},
		{"comma_separated", nil, ErrSignature, "Paddle-Signature has no h1 signature"},
		{"too_old", nil, ErrSignature, "Paddle-Signature ts is 5m2s old, over the tolerance of 5m0s"},
		{"in_future", nil, ErrSignature, "Paddle-Signature ts is 5m1s in the future"},
		{"stripe_join", nil, ErrSignature, "matches one of the 2 configured secrets"},
		{"duplicate_key", nil, ErrMalformed, `JSON key "event_type" given twice`},
		{"case_folded_key", nil, ErrMalformed, `JSON key "Event_Type" given twice`},
		{"invalid_utf8", nil, ErrMalformed, "not valid UTF-8"},
		{"missing_order", nil, ErrMalformed, "no order reference at data.custom_data.order_id"},
		{"missing_event_id", nil, ErrMalformed, "mandatory field event_id is missing"},
		{"amount_as_number", nil, ErrMalformed, "data.details.totals.grand_total is not a string of digits"},
		{"negative_amount", nil, ErrMalformed, "data.details.totals.grand_total is not a string of digits"},
		{"form_content_type", nil, ErrMalformed, "content type"},
		{"query_shadows_event_type", nil, ErrMalformed, "event_type"},
	})
}

// TestPaddleEvents checks what an app acts on in the golden events.
func TestPaddleEvents(t *testing.T) {
	v := mustNew(t, "paddle", paddleConfig)
	paid := verifyGolden(t, v, "paddle/transaction_completed")
	assert.Equal(t, "evt_01hwa8v5b2x7c0q4m9n3k6j1fz", paid.ID)
	assert.Equal(t, StatusSucceeded, paid.Status)
	assert.Equal(t, "ORD-2024-0501-9", paid.OrderID)
	assert.Equal(t, "txn_01hwa8shq6y7ckbpzt8m1kv4f2", paid.TransactionID)
	assert.Equal(t, "27.50", paid.Amount, "grand_total, minor units")
	assert.EqualValues(t, 2750, *paid.AmountMinor)
	assert.Equal(t, "USD", paid.Currency)
	assert.Equal(t, "card", paid.PaymentMethod)
	assert.Equal(t, time.Date(2024, 5, 1, 10, 20, 28, 412301000, time.UTC), paid.OccurredAt)

	failed := verifyGolden(t, v, "paddle/transaction_payment_failed")
	assert.Equal(t, StatusFailed, failed.Status)
	assert.Equal(t, "declined", failed.ResponseCode)
	retried := verifyGolden(t, v, "paddle/retried_payment")
	assert.Equal(t, "card", retried.PaymentMethod)
	assert.Empty(t, retried.ResponseCode, "a failed attempt before the captured one is no decline")
	assert.Equal(t, "declined", verifyGolden(t, v, "paddle/transaction_past_due").ResponseCode)

	refund := verifyGolden(t, v, "paddle/adjustment_refund_approved")
	assert.Equal(t, StatusRefunded, refund.Status)
	assert.Equal(t, "txn_01hwa8shq6y7ckbpzt8m1kv4f2", refund.TransactionID, "the refunded transaction")
	assert.Empty(t, refund.OrderID, "an adjustment carries no custom_data; it is still forwarded")
	assert.Equal(t, "27.50", refund.Amount, "totals.total")
	assert.Equal(t, "Customer changed their mind", refund.Reason)
	for _, name := range []string{"adjustment_refund_pending", "adjustment_credit", "subscription_created", "transaction_created_without_order"} {
		e := verifyGolden(t, v, "paddle/"+name)
		assert.Equal(t, StatusUnknown, e.Status, name)
		assert.NotEmpty(t, e.ProviderStatus, name)
	}
	assert.Empty(t, verifyGolden(t, v, "paddle/subscription_created").TransactionID, "a subscription is no transaction")
	jpy := verifyGolden(t, v, "paddle/jpy")
	assert.Equal(t, "3300", jpy.Amount)
	assert.EqualValues(t, 3300, *jpy.AmountMinor)
}

// TestPaddleOfficialVectors: the vectors of Paddle's Go and Node SDK tests,
// with their secrets and headers as published, at their own clocks. The Go
// one is a real notification (price.created: not a payment, so unknown and
// without an order). The Node ones are bodies without event_id or
// event_type: they pass the signature and time, and are then refused as
// malformed, not as unsigned.
func TestPaddleOfficialVectors(t *testing.T) {
	goVector := mustNew(t, "paddle", options{Secrets: []string{"pdl_ntfset_01hsdn8d43dt7mezr1ef2jtbaw_hKkRiCGyyRhbFwIUuqiTBgI7gnWoV0Gr"}})
	req := goldenRequest(t, "paddle/vector_go")
	payload, err := os.ReadFile(filepath.Join("..", "testdata", "vectors", "paddle_payload.json"))
	require.NoError(t, err)
	require.Equal(t, string(payload), string(req.Body), "the SDK's payload, 575 bytes")
	req.ReceivedAt = time.Unix(1710929255, 0)
	events, err := goVector.Verify(context.Background(), req)
	require.NoError(t, err)
	checkGolden(t, "paddle/vector_go", events)
	assert.Equal(t, "evt_01hsdn97563968dy0szkmgjwh3", events[0].ID)
	assert.Equal(t, StatusUnknown, events[0].Status)
	assert.Equal(t, "price.created", events[0].ProviderStatus)
	assert.Empty(t, events[0].OrderID)
	req.ReceivedAt = time.Unix(1710929255, 0).Add(PaddleTolerance + time.Second)
	_, err = goVector.Verify(context.Background(), req)
	assert.ErrorIs(t, err, ErrSignature, "outside the tolerance")

	node := mustNew(t, "paddle", options{Secrets: []string{"OTHER_SECRET", "VALID_SECRET"}})
	keys, err := Secrets{"VALID_SECRET"}.HMAC(sha256.New)
	require.NoError(t, err)
	nodeClock := time.Date(2023, 11, 1, 0, 0, 0, 0, time.UTC) // the test's 11/01/2023
	for _, name := range []string{"vector_node", "vector_node_multi_h1"} {
		req := goldenRequest(t, "paddle/"+name)
		// Within the SDK's 5 seconds, and at the limits of the tolerance.
		for _, at := range []time.Duration{0, 5 * time.Second, PaddleTolerance, -PaddleTolerance} {
			require.NoError(t, paddleSignature.Check(req.Header.Values("Paddle-Signature"), keys, req.Body, nodeClock.Add(at), PaddleTolerance), name)
			req.ReceivedAt = nodeClock.Add(at)
			_, err := node.Verify(context.Background(), req)
			assert.ErrorIs(t, err, ErrMalformed, name)
			assert.ErrorContains(t, err, "mandatory field event_id is missing", name)
		}
		req.ReceivedAt = nodeClock.Add(PaddleTolerance + time.Second)
		_, err := node.Verify(context.Background(), req)
		assert.ErrorIs(t, err, ErrSignature, name)
	}
	// The Node test's "Invalid data - has more space": the header of another
	// body's bytes.
	spaced := goldenRequest(t, "paddle/vector_node_more_space")
	spaced.ReceivedAt = nodeClock
	_, err = node.Verify(context.Background(), spaced)
	assert.ErrorIs(t, err, ErrSignature)
}

func TestPaddleOptions(t *testing.T) {
	ref := mustNew(t, "paddle", paddleConfig.with("order_id", "data.invoice_number"))
	assert.Equal(t, "325-10566", verifyGolden(t, ref, "paddle/transaction_completed").OrderID)
	_, err := newVerifier("paddle", paddleConfig.with("order_id", "data custom"))
	assert.ErrorContains(t, err, "order_id")

	wide := mustNew(t, "paddle", paddleConfig.with("tolerance", "10m"))
	verifyGolden(t, wide, "paddle/too_old")
	verifyGolden(t, wide, "paddle/in_future")

	newOnly := mustNew(t, "paddle", options{Secrets: paddleConfig.Secrets[:1]})
	_, err = newOnly.Verify(context.Background(), goldenRequest(t, "paddle/old_secret"))
	assert.ErrorIs(t, err, ErrSignature)
	verifyGolden(t, mustNew(t, "paddle", options{Secrets: paddleConfig.Secrets[1:]}), "paddle/old_secret")
}

// TestPaddleSigner: caddy paynotify sign's notification carries the header
// Paddle would send (checked here with crypto/hmac directly) and verifies.
func TestPaddleSigner(t *testing.T) {
	p, err := newVerifier("paddle", paddleConfig)
	require.NoError(t, err)
	signer := p.(Signer)
	now := time.Unix(1714558830, 0)
	n, err := signer.Sign(Draft{Fields: signer.Example("ORD-77", now), Path: "/n", Now: now})
	require.NoError(t, err)
	assert.Equal(t, http.MethodPost, n.Method)
	mac := hmac.New(sha256.New, []byte(paddleConfig.Secrets[0]))
	mac.Write([]byte("1714558830:" + string(n.Body)))
	assert.Equal(t, "ts=1714558830;h1="+hex.EncodeToString(mac.Sum(nil)), n.Header.Get("Paddle-Signature"))

	events, err := p.Verify(context.Background(), &Request{Method: n.Method, Header: n.Header, Body: n.Body,
		ReceivedAt: now.Add(-PaddleTolerance)})
	require.NoError(t, err)
	require.Len(t, events, 1)
	e := events[0]
	assert.Equal(t, "ORD-77", e.OrderID)
	assert.Equal(t, StatusSucceeded, e.Status)
	assert.Equal(t, "10.50", e.Amount)
	assert.Equal(t, "USD", e.Currency)
	assert.Equal(t, now.UTC(), e.OccurredAt)
}

// FuzzPaddle: the signature covers "<ts>:<body>", so an accepted body must
// be byte for byte a body that was signed, at the time it was signed at.
func FuzzPaddle(f *testing.F) {
	fuzzVerifier(f, "paddle", paddleConfig, func(r *Request) string {
		ts, _, err := paddleSignature.parse(r.Header.Values("Paddle-Signature"), sha256.Size, make([]byte, 16*64), nil)
		if err != nil {
			return ""
		}
		return ts + ":" + string(r.Body)
	})
}
