package verifiers

import (
	"context"
	"crypto/hmac"
	"crypto/sha512"
	"encoding/hex"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var paystackConfig = options{Secrets: []string{"sk_test_paynotify0000000000000000000000", "sk_test_paynotifyold000000000000000000"}}

func init() {
	benchCases = append(benchCases, benchCase{
		provider: "paystack", file: "paystack/charge_success", config: paystackConfig, newHash: sha512.New,
		// The raw body; the header is its hex HMAC-SHA512.
		signed: func(b *testing.B, req *Request) ([]byte, []byte) {
			want, err := hex.DecodeString(req.Header.Get("X-Paystack-Signature"))
			if err != nil {
				b.Fatal(err)
			}
			return req.Body, want
		},
	})
}

func TestPaystack(t *testing.T) {
	testProvider(t, "paystack", paystackConfig, []string{
		"charge_success", "charge_failed", "refund_processed", "dispute_create", "unmapped_event",
		"ghs", "id_as_string", "old_secret", "pretty_body", "uppercase_hex",
	}, []rejectCase{
		{"tampered", nil, ErrSignature, "X-Paystack-Signature header matches none of the 2 configured secrets"},
		{"wrong_secret", nil, ErrSignature, "matches none"},
		{"unsigned", nil, ErrSignature, "no X-Paystack-Signature header"},
		{"empty_signature", nil, ErrSignature, "no X-Paystack-Signature header"},
		{"bad_hex", nil, ErrSignature, "X-Paystack-Signature header is not a hex HMAC"},
		{"sha256_signature", nil, ErrSignature, "not a hex HMAC"},
		{"base64_signature", nil, ErrSignature, "not a hex HMAC"},
		{"duplicate_key", nil, ErrMalformed, `JSON key "event" given twice`},
		{"casefold_key", nil, ErrMalformed, `JSON key "EVENT" given twice`},
		{"invalid_utf8", nil, ErrMalformed, "not valid UTF-8"},
		{"missing_event", nil, ErrMalformed, "mandatory field event is missing"},
		{"missing_data_id", nil, ErrMalformed, "mandatory field data.id is missing"},
		{"no_reference", nil, ErrMalformed, "no order id at data.reference or data.transaction_reference or data.transaction.reference"},
		{"fractional_amount", nil, ErrMalformed, "data.amount is not a whole number of minor units"},
		{"form_content_type", nil, ErrMalformed, "content type"},
		{"query_shadows_field", nil, ErrMalformed, `query parameter "event" would shadow the field "event"`},
	})
}

// TestPaystackDerivedVector: the vector of NOTES.md §13.9 (Paystack
// publishes none), signed with sk_test_xxxxxxxxxxxxxxxx.
func TestPaystackDerivedVector(t *testing.T) {
	req := goldenRequest(t, "paystack/derived_vector")
	require.Equal(t, `{"event":"charge.success","data":{"id":302961,"reference":"qTPrJoy9Bx","amount":10000,"currency":"NGN","status":"success"}}`, string(req.Body))
	require.Equal(t, "c3891d4bc179928e2b670c673ca4dedbafcb278f94c9adbe66f25791a60fecf4a011c93281eeb40bc4d7e2353e2d229cd56c9d9b27fb3417fce3237bc3c49373",
		req.Header.Get("X-Paystack-Signature"))
	e := verifyGolden(t, mustNew(t, "paystack", options{Secrets: []string{"sk_test_xxxxxxxxxxxxxxxx"}}), "paystack/derived_vector")
	checkGolden(t, "paystack/derived_vector", []Event{e})
	assert.Equal(t, EventID("paystack", "charge.success", "302961", "success"), e.ID)
	assert.Equal(t, StatusSucceeded, e.Status)
	assert.Equal(t, "qTPrJoy9Bx", e.OrderID)
	assert.Equal(t, "302961", e.TransactionID)
	assert.Equal(t, "100.00", e.Amount)
	assert.EqualValues(t, 10000, *e.AmountMinor)
	assert.Equal(t, "NGN", e.Currency)
}

// TestPaystackEvents: status, amount and references per event, and ids:
// the same charge in another state is another event, the same charge sent
// again (an id as a string or a number) is the same.
func TestPaystackEvents(t *testing.T) {
	v := mustNew(t, "paystack", paystackConfig)
	for file, want := range map[string]struct {
		status             Status
		order, txn, amount string
		cur                string
	}{
		"charge_success":   {StatusSucceeded, "ORD-20240501-0099", "3817293847", "25000.00", "NGN"},
		"charge_failed":    {StatusFailed, "ORD-20240501-0099", "3817293847", "25000.00", "NGN"},
		"refund_processed": {StatusRefunded, "ORD-20240501-0099", "1227953", "5000.00", "NGN"},
		"dispute_create":   {StatusDisputed, "ORD-20240501-0099", "3817293847", "", "NGN"}, // the disputed charge; no data.amount
		"unmapped_event":   {StatusUnknown, "", "72261", "", ""},
		"ghs":              {StatusSucceeded, "ORD-20240501-0099", "3817293847", "120.50", "GHS"},
	} {
		e := verifyGolden(t, v, filepath.Join("paystack", file))
		assert.Equal(t, want.status, e.Status, file)
		assert.Equal(t, want.order, e.OrderID, file)
		assert.Equal(t, want.txn, e.TransactionID, file)
		assert.Equal(t, want.amount, e.Amount, file)
		assert.Equal(t, want.cur, e.Currency, file)
	}
	success := verifyGolden(t, v, "paystack/charge_success")
	assert.Equal(t, verifyGolden(t, v, "paystack/id_as_string").ID, success.ID)
	assert.Equal(t, verifyGolden(t, v, "paystack/old_secret").ID, success.ID)
	assert.NotEqual(t, verifyGolden(t, v, "paystack/charge_failed").ID, success.ID)
	assert.Equal(t, &Customer{Name: "Ada Obi", Email: "ada.obi@example.ng", Phone: "+2348012345678", IP: "102.89.34.12"}, success.Customer)
	assert.Equal(t, "2024-05-01T10:20:28Z", success.OccurredAt.Format("2006-01-02T15:04:05Z07:00"))
	assert.Equal(t, "card", success.PaymentMethod)
}

func TestPaystackOrderIDOption(t *testing.T) {
	e := verifyGolden(t, mustNew(t, "paystack", paystackConfig.with("order_id", "data.metadata.order_id")), "paystack/charge_success")
	assert.Equal(t, "SHOP-77", e.OrderID)
}

// TestPaystackSignerRoundTrip: caddy paynotify sign builds what an
// independent HMAC-SHA512 confirms and the verifier accepts.
func TestPaystackSignerRoundTrip(t *testing.T) {
	p, err := newVerifier("paystack", paystackConfig)
	require.NoError(t, err)
	s := p.(Signer)
	n, err := s.Sign(Draft{Fields: s.Example("ORD-9", goldenReceivedAt), Path: "/notify/paystack"})
	require.NoError(t, err)
	mac := hmac.New(sha512.New, []byte(paystackConfig.Secrets[0]))
	mac.Write(n.Body)
	assert.Equal(t, hex.EncodeToString(mac.Sum(nil)), n.Header.Get("X-Paystack-Signature"))
	events, err := p.Verify(context.Background(), &Request{Method: http.MethodPost, Header: n.Header, Body: n.Body, ReceivedAt: goldenReceivedAt})
	require.NoError(t, err)
	assert.Equal(t, StatusSucceeded, events[0].Status)
	assert.Equal(t, "ORD-9", events[0].OrderID)
	assert.Equal(t, "100.00", events[0].Amount)
	assert.Equal(t, goldenReceivedAt, events[0].OccurredAt)
}

// FuzzPaystack: the signature covers the raw bytes, so an accepted body must
// be byte for byte a body Paystack signed.
func FuzzPaystack(f *testing.F) {
	fuzzVerifier(f, "paystack", paystackConfig, func(r *Request) string { return string(r.Body) })
}
