package verifiers

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var razorpayConfig = options{Secrets: []string{"razorpay-test-secret", "razorpay-old-secret"}}

func init() {
	benchCases = append(benchCases, benchCase{
		provider: "razorpay", file: "razorpay/payment_captured", config: razorpayConfig, newHash: sha256.New,
		// The raw body; the header is its hex HMAC.
		signed: func(b *testing.B, req *Request) ([]byte, []byte) {
			want, err := hex.DecodeString(req.Header.Get("X-Razorpay-Signature"))
			if err != nil {
				b.Fatal(err)
			}
			return req.Body, want
		},
	})
}

func TestRazorpay(t *testing.T) {
	testProvider(t, "razorpay", razorpayConfig, []string{
		"payment_captured", "payment_authorized", "payment_failed", "order_paid", "refund_processed",
		"dispute_created", "unmapped_event", "notes_empty_array", "usd_lowercase", "old_secret",
		"pretty_body", "uppercase_hex", "lowercase_header_names", "custom_order_path",
	}, []rejectCase{
		{"tampered", nil, ErrSignature, "X-Razorpay-Signature header matches none of the 2 configured secrets"},
		{"wrong_secret", nil, ErrSignature, "matches none"},
		{"unsigned", nil, ErrSignature, "no X-Razorpay-Signature header"},
		{"empty_signature", nil, ErrSignature, "no X-Razorpay-Signature header"},
		{"bad_hex", nil, ErrSignature, "X-Razorpay-Signature header is not a hex HMAC"},
		{"base64_signature", nil, ErrSignature, "not a hex HMAC"},
		{"prefixed_signature", nil, ErrSignature, "not a hex HMAC"},
		{"sha512_signature", nil, ErrSignature, "not a hex HMAC"},
		{"no_event_id", nil, ErrMalformed, "no X-Razorpay-Event-Id header"},
		{"long_event_id", nil, ErrMalformed, "X-Razorpay-Event-Id header is longer than 128 bytes"},
		{"event_id_with_space", nil, ErrMalformed, "X-Razorpay-Event-Id header has a character other than printable ASCII"},
		{"duplicate_key", nil, ErrMalformed, `JSON key "event" given twice`},
		{"casefold_key", nil, ErrMalformed, `JSON key "Event" given twice`},
		{"invalid_utf8", nil, ErrMalformed, "not valid UTF-8"},
		{"missing_event", nil, ErrMalformed, "mandatory field event is missing"},
		{"no_order_id", nil, ErrMalformed, "no order id at payload.payment.entity.notes.order_id or payload.payment.entity.order_id"},
		{"fractional_amount", nil, ErrMalformed, "payload.payment.entity.amount is not a whole number of minor units"},
		{"form_content_type", nil, ErrMalformed, "content type"},
		{"query_shadows_field", nil, ErrMalformed, `query parameter "event" would shadow the field "event"`},
		{"get_method", nil, ErrMethod, "GET"},
	})
}

// TestRazorpayOfficialVector: the webhook body and signature of Razorpay's
// Go SDK test (secret 123456), byte for byte, verify; the event id is the
// header's, and the order is Razorpay's since the notes are empty.
func TestRazorpayOfficialVector(t *testing.T) {
	vector, err := os.ReadFile(filepath.Join("..", "testdata", "vectors", "razorpay_payload.json"))
	require.NoError(t, err)
	req := goldenRequest(t, "razorpay/official_vector")
	require.Equal(t, vector, req.Body, "the golden request carries the SDK's body byte for byte")
	require.Equal(t, "ea962f3a2a8090aa14ef10fc178306edcb46ee7ccadae8afe2275cda26f3d2a6", req.Header.Get("X-Razorpay-Signature"))

	v := mustNew(t, "razorpay", options{Secrets: []string{"123456"}})
	e := verifyGolden(t, v, "razorpay/official_vector")
	checkGolden(t, "razorpay/official_vector", []Event{e})
	assert.Equal(t, "JUEM4dBJbEz6TP", e.ID)
	assert.Equal(t, StatusAuthorized, e.Status)
	assert.Equal(t, "order_JUELuT6cFaHkvd", e.OrderID)
	assert.Equal(t, "pay_JUEM4c0pSLpFEW", e.TransactionID)
	assert.Equal(t, "123.00", e.Amount)
	assert.EqualValues(t, 12300, *e.AmountMinor)
	assert.Equal(t, "INR", e.Currency)
	assert.Equal(t, int64(1652339806), e.OccurredAt.Unix())

	// One byte changed: the SDK's signature no longer matches.
	req.Body = bytes.Replace(bytes.Clone(vector), []byte("12300"), []byte("12301"), 1)
	_, err = v.Verify(context.Background(), req)
	assert.ErrorIs(t, err, ErrSignature)
}

// TestRazorpayEvents: the status, amount and references each event type
// carries, as an app reads them.
func TestRazorpayEvents(t *testing.T) {
	v := mustNew(t, "razorpay", razorpayConfig)
	for file, want := range map[string]struct {
		status       Status
		order, txn   string
		amount, curr string
	}{
		"payment_captured":  {StatusSucceeded, "ORD-20240501-0007", "pay_NxR3xY2bH7kQ1p", "500.00", "INR"},
		"order_paid":        {StatusSucceeded, "ORD-20240501-0007", "pay_NxR3xY2bH7kQ1p", "500.00", "INR"},
		"refund_processed":  {StatusRefunded, "ORD-20240501-0007", "pay_NxR3xY2bH7kQ1p", "200.00", "INR"}, // the refund's amount
		"dispute_created":   {StatusDisputed, "ORD-20240501-0007", "pay_NxR3xY2bH7kQ1p", "500.00", "INR"},
		"notes_empty_array": {StatusSucceeded, "order_NxR3u4n8XWf2Qz", "pay_NxR3xY2bH7kQ1p", "500.00", "INR"},
		"usd_lowercase":     {StatusSucceeded, "ORD-20240501-0007", "pay_NxR3xY2bH7kQ1p", "19.99", "USD"},
		"unmapped_event":    {StatusUnknown, "", "", "", ""},
	} {
		e := verifyGolden(t, v, filepath.Join("razorpay", file))
		assert.Equal(t, want.status, e.Status, file)
		assert.Equal(t, want.order, e.OrderID, file)
		assert.Equal(t, want.txn, e.TransactionID, file)
		assert.Equal(t, want.amount, e.Amount, file)
		assert.Equal(t, want.curr, e.Currency, file)
		assert.Equal(t, "NxR3yGq1TzUw8e", e.ID, file)
	}
	failed := verifyGolden(t, v, "razorpay/payment_failed")
	assert.Equal(t, StatusFailed, failed.Status)
	assert.Equal(t, "BAD_REQUEST_ERROR", failed.ResponseCode)
	assert.Equal(t, "Payment failed because the card was declined", failed.Reason)
}

func TestRazorpayOrderIDOption(t *testing.T) {
	custom := razorpayConfig.with("order_id", "payload.payment.entity.notes.shop_ref")
	e := verifyGolden(t, mustNew(t, "razorpay", custom), "razorpay/custom_order_path")
	assert.Equal(t, "SHOP-42", e.OrderID)
	// The option replaces the defaults: Razorpay's order id is not taken.
	_, err := mustNew(t, "razorpay", custom).Verify(context.Background(), goldenRequest(t, "razorpay/payment_captured"))
	require.ErrorIs(t, err, ErrMalformed)
	assert.Contains(t, err.Error(), "no order id at payload.payment.entity.notes.shop_ref (set order_id")

	_, err = newVerifier("razorpay", razorpayConfig.with("order_id", "payload..notes"))
	var oe *OptionError
	require.ErrorAs(t, err, &oe)
	assert.Equal(t, "order_id", oe.Option)
}

// TestRazorpayHeaderGivenTwice: two signature headers or two event ids are
// refused; which one a proxy or the app would read is left to chance.
func TestRazorpayHeaderGivenTwice(t *testing.T) {
	v := mustNew(t, "razorpay", razorpayConfig)
	req := goldenRequest(t, "razorpay/payment_captured")
	req.Header.Add("X-Razorpay-Signature", req.Header.Get("X-Razorpay-Signature"))
	_, err := v.Verify(context.Background(), req)
	require.ErrorIs(t, err, ErrSignature)
	assert.Contains(t, err.Error(), "X-Razorpay-Signature header given 2 times")

	req = goldenRequest(t, "razorpay/payment_captured")
	req.Header.Add("X-Razorpay-Event-Id", "another")
	_, err = v.Verify(context.Background(), req)
	require.ErrorIs(t, err, ErrMalformed)
	assert.Contains(t, err.Error(), "X-Razorpay-Event-Id header given 2 times")
}

// TestRazorpayEventIDIsNotSigned documents what the scheme leaves open: the
// event id header is outside the signature, so the same genuine body under
// another id is another event to dedup. The body and its meaning cannot be
// changed, only delivered again.
func TestRazorpayEventIDIsNotSigned(t *testing.T) {
	v := mustNew(t, "razorpay", razorpayConfig)
	req := goldenRequest(t, "razorpay/payment_captured")
	req.Header.Set("X-Razorpay-Event-Id", "another-id")
	events, err := v.Verify(context.Background(), req)
	require.NoError(t, err)
	assert.Equal(t, "another-id", events[0].ID)
	assert.Equal(t, "ORD-20240501-0007", events[0].OrderID)
}

// TestRazorpaySignerRoundTrip: caddy paynotify sign builds a notification
// the verifier accepts, whose signature an independent HMAC confirms, with
// an event id that is the same when the same notification is signed again.
func TestRazorpaySignerRoundTrip(t *testing.T) {
	p, err := newVerifier("razorpay", razorpayConfig)
	require.NoError(t, err)
	s := p.(Signer)
	d := Draft{Fields: s.Example("ORD-9", goldenReceivedAt), Path: "/notify/razorpay"}
	n, err := s.Sign(d)
	require.NoError(t, err)
	mac := hmac.New(sha256.New, []byte("razorpay-test-secret"))
	mac.Write(n.Body)
	assert.Equal(t, hex.EncodeToString(mac.Sum(nil)), n.Header.Get("X-Razorpay-Signature"))
	again, err := s.Sign(d)
	require.NoError(t, err)
	assert.Equal(t, n.Header.Get("X-Razorpay-Event-Id"), again.Header.Get("X-Razorpay-Event-Id"))

	events, err := p.Verify(context.Background(), &Request{Method: http.MethodPost, Header: n.Header, Body: n.Body, ReceivedAt: goldenReceivedAt})
	require.NoError(t, err)
	assert.Equal(t, StatusSucceeded, events[0].Status)
	assert.Equal(t, "ORD-9", events[0].OrderID)
	assert.Equal(t, "500.00", events[0].Amount)
	assert.Equal(t, goldenReceivedAt.Unix(), events[0].OccurredAt.Unix())
}

func TestRazorpayConfig(t *testing.T) {
	_, err := newVerifier("razorpay", options{})
	var oe *OptionError
	require.ErrorAs(t, err, &oe)
	assert.Equal(t, "secret", oe.Option)
}

// FuzzRazorpay: the signature covers the raw bytes, so an accepted body must
// be byte for byte a body Razorpay signed.
func FuzzRazorpay(f *testing.F) {
	fuzzVerifier(f, "razorpay", razorpayConfig, func(r *Request) string { return string(r.Body) })
}
