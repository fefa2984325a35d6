package verifiers

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var stripeConfig = options{Secrets: []string{"whsec_stripe_test_secret", "whsec_stripe_old_secret"}}

func init() {
	benchCases = append(benchCases, benchCase{
		provider: "stripe", file: "stripe/payment_intent_succeeded", config: stripeConfig, newHash: sha256.New,
		signed: func(b *testing.B, req *Request) (signed, want []byte) {
			// "<t>.<body>", and the one v1 of t=<t>,v1=<hex>.
			t, v1, ok := strings.Cut(strings.TrimPrefix(req.Header.Get("Stripe-Signature"), "t="), ",v1=")
			if !ok {
				b.Fatal("no t=…,v1=… header")
			}
			want, err := hex.DecodeString(v1)
			if err != nil {
				b.Fatal(err)
			}
			return append([]byte(t+"."), req.Body...), want
		},
	})
}

func TestStripe(t *testing.T) {
	testProvider(t, "stripe", stripeConfig, []string{
		"payment_intent_succeeded", "payment_intent_processing", "payment_intent_requires_action",
		"payment_intent_amount_capturable_updated", "payment_intent_payment_failed", "payment_intent_canceled",
		"charge_succeeded", "charge_failed", "charge_refunded", "charge_partially_refunded", "checkout_session_no_payment_required", "charge_dispute_created",
		"checkout_session_completed", "checkout_session_completed_unpaid",
		"checkout_session_async_payment_succeeded", "checkout_session_async_payment_failed",
		"checkout_session_expired", "invoice_paid", "invoice_payment_failed",
		"customer_created", "credit_grant_created", "thin_event", "jpy", "isk", "connect_account",
		"old_secret", "two_v1", "with_v0_and_bad_v1", "uppercase_hex", "pretty_body", "merchant_query",
	}, []rejectCase{
		{"tampered", nil, ErrSignature, "no v1 signature of Stripe-Signature matches one of the 2 configured secrets"},
		{"wrong_secret", nil, ErrSignature, "matches one of the 2 configured secrets"},
		{"unsigned", nil, ErrSignature, "no Stripe-Signature header"},
		{"empty_header", nil, ErrSignature, "no Stripe-Signature header"},
		{"no_t", nil, ErrSignature, "Stripe-Signature has no t"},
		{"two_t", nil, ErrSignature, "Stripe-Signature has more than one t"},
		{"t_not_digits", nil, ErrSignature, "Stripe-Signature t is not a Unix time"},
		{"only_v0", nil, ErrSignature, "Stripe-Signature has no v1 signature"},
		{"v1_not_hex", nil, ErrSignature, "no v1 signature of Stripe-Signature is a hex HMAC-SHA256"},
		{"v1_truncated", nil, ErrSignature, "no v1 signature of Stripe-Signature is a hex HMAC-SHA256"},
		{"upper_case_names", nil, ErrSignature, "Stripe-Signature has no t"},
		{"spaces", nil, ErrSignature, "Stripe-Signature has no v1 signature"},
		{"element_without_value", nil, ErrSignature, "not a list of name=value elements"},
		{"too_old", nil, ErrSignature, "Stripe-Signature t is 5m2s old, over the tolerance of 5m0s"},
		{"in_future", nil, ErrSignature, "Stripe-Signature t is 5m1s in the future"},
		{"two_headers", nil, ErrSignature, "2 Stripe-Signature headers, want one"},
		{"duplicate_key", nil, ErrMalformed, `JSON key "type" given twice`},
		{"case_folded_key", nil, ErrMalformed, `JSON key "Type" given twice`},
		{"invalid_utf8", nil, ErrMalformed, "not valid UTF-8"},
		{"missing_order", nil, ErrMalformed, "no order reference at data.object.metadata.order_id, then data.object.client_reference_id"},
		{"missing_id", nil, ErrMalformed, "mandatory field id is missing"},
		{"missing_type", nil, ErrMalformed, "mandatory field type is missing"},
		{"amount_as_string", nil, ErrMalformed, "data.object.amount_received is not a number"},
		{"fractional_amount", nil, ErrMalformed, "data.object.amount_received is not a whole number of minor units"},
		{"form_content_type", nil, ErrMalformed, "content type"},
		{"query_shadows_type", nil, ErrMalformed, "type"},
	})
}

// TestStripeEvents checks what an app acts on in the golden events.
func TestStripeEvents(t *testing.T) {
	v := mustNew(t, "stripe", stripeConfig)
	pi := verifyGolden(t, v, "stripe/payment_intent_succeeded")
	assert.Equal(t, "evt_1PBr3kLkdIwHu7ix0Xm4c2Ba", pi.ID)
	assert.Equal(t, StatusSucceeded, pi.Status)
	assert.Equal(t, "ORD-2024-0501-7", pi.OrderID, "metadata.order_id")
	assert.Equal(t, "pi_3PBr3jLkdIwHu7ix1k2YhD3F", pi.TransactionID)
	assert.Equal(t, "20.00", pi.Amount)
	assert.EqualValues(t, 2000, *pi.AmountMinor)
	assert.Equal(t, "USD", pi.Currency, "upper-cased")
	assert.Equal(t, time.Unix(1714558829, 0).UTC(), pi.OccurredAt)

	// The charge, its refund and its dispute name the payment intent too.
	for _, name := range []string{"charge_succeeded", "charge_refunded", "charge_dispute_created"} {
		assert.Equal(t, "pi_3PBr3jLkdIwHu7ix1k2YhD3F", verifyGolden(t, v, "stripe/"+name).TransactionID, name)
	}
	dispute := verifyGolden(t, v, "stripe/charge_dispute_created")
	assert.Equal(t, StatusDisputed, dispute.Status)
	assert.Empty(t, dispute.OrderID, "a dispute carries no order reference; it is still forwarded")

	session := verifyGolden(t, v, "stripe/checkout_session_completed")
	assert.Equal(t, StatusSucceeded, session.Status)
	assert.Equal(t, "ORD-2024-0501-8", session.OrderID, "client_reference_id")
	assert.Equal(t, "22.00", session.Amount, "amount_total")
	assert.Equal(t, "EUR", session.Currency)
	assert.Equal(t, &Customer{Name: "Max Mustermann", Email: "max@example.com", Phone: "+49 30 1234567"}, session.Customer)
	assert.Equal(t, StatusPending, verifyGolden(t, v, "stripe/checkout_session_completed_unpaid").Status,
		"a completed session is paid only with payment_status paid")

	failed := verifyGolden(t, v, "stripe/payment_intent_payment_failed")
	assert.Equal(t, StatusFailed, failed.Status)
	assert.Equal(t, "insufficient_funds", failed.ResponseCode)
	assert.Equal(t, "Your card has insufficient funds.", failed.Reason)

	invoice := verifyGolden(t, v, "stripe/invoice_paid")
	assert.Equal(t, "15.00", invoice.Amount, "amount_due")
	assert.Equal(t, "GBP", invoice.Currency)

	jpy := verifyGolden(t, v, "stripe/jpy")
	assert.Equal(t, "1500", jpy.Amount)
	assert.EqualValues(t, 1500, *jpy.AmountMinor)
	isk := verifyGolden(t, v, "stripe/isk")
	assert.Equal(t, "1500", isk.Amount, "Stripe sends ISK times 100")
	assert.EqualValues(t, 1500, *isk.AmountMinor, "ISO 4217 gives ISK no minor unit")

	unknown := verifyGolden(t, v, "stripe/credit_grant_created")
	assert.Equal(t, StatusUnknown, unknown.Status)
	assert.Equal(t, "billing.credit_grant.created", unknown.ProviderStatus)
	assert.Empty(t, unknown.Amount, "an amount that is an object is left to raw")
	assert.Empty(t, unknown.TransactionID, "a credit grant is no payment")

	thin := verifyGolden(t, v, "stripe/thin_event")
	assert.Equal(t, "evt_test_65R9Ijk8dPHzMlyCsMB16Rk1aCSQgA1hCeLdFsU0DhAM", thin.ID)
	assert.Equal(t, StatusUnknown, thin.Status)
	assert.Equal(t, "v1.billing.meter.error_report_triggered", thin.ProviderStatus)
	assert.Equal(t, time.Date(2024, 5, 1, 10, 20, 29, 123e6, time.UTC), thin.OccurredAt)
	assert.Empty(t, thin.OrderID)

	assert.Equal(t, "acct_1PBq9lQ2xYz3AbCd", verifyGolden(t, v, "stripe/connect_account").MerchantID)
}

// TestStripeDerivedVector: the vector of NOTES.md §1.9, computed with
// stripe-go's algorithm (there is no fixed official one), verified at its own
// clock. It is not an event (it has no type), so it passes the signature and
// time and is then refused as malformed, not as unsigned.
func TestStripeDerivedVector(t *testing.T) {
	v := mustNew(t, "stripe", options{Secrets: []string{"whsec_test_secret"}})
	req := goldenRequest(t, "stripe/derived_vector")
	assert.Equal(t, "{\n  \"id\": \"evt_test_webhook\",\n  \"object\": \"event\"\n}", string(req.Body))
	signedAt := time.Unix(1700000000, 0)

	keys, err := Secrets{"whsec_test_secret"}.HMAC(sha256.New)
	require.NoError(t, err)
	assert.NoError(t, stripeSignature.Check(req.Header.Values("Stripe-Signature"), keys, req.Body, signedAt, StripeTolerance))

	for at, want := range map[time.Duration]string{
		0:                      "mandatory field type is missing",
		StripeTolerance:        "mandatory field type is missing",
		-StripeTolerance:       "mandatory field type is missing",
		StripeTolerance + 1e9:  "old, over the tolerance",
		-StripeTolerance - 1e9: "in the future",
	} {
		req.ReceivedAt = signedAt.Add(at)
		_, err := v.Verify(context.Background(), req)
		require.Error(t, err, at)
		assert.Contains(t, err.Error(), want, at)
		if strings.HasPrefix(want, "mandatory") {
			assert.ErrorIs(t, err, ErrMalformed, at)
		} else {
			assert.ErrorIs(t, err, ErrSignature, at)
		}
	}
	req.ReceivedAt = signedAt
	_, err = mustNew(t, "stripe", stripeConfig).Verify(context.Background(), req)
	assert.ErrorIs(t, err, ErrSignature, "another secret")
}

func TestStripeOptions(t *testing.T) {
	// order_id: another path; with it set, the defaults are not tried.
	cart := mustNew(t, "stripe", stripeConfig.with("order_id", "data.object.metadata.cart"))
	assert.Equal(t, "c-991", verifyGolden(t, cart, "stripe/payment_intent_succeeded").OrderID)
	_, err := cart.Verify(context.Background(), goldenRequest(t, "stripe/checkout_session_completed"))
	assert.ErrorIs(t, err, ErrMalformed)
	assert.Contains(t, err.Error(), "no order reference at data.object.metadata.cart")
	_, err = newVerifier("stripe", stripeConfig.with("order_id", "data..cart"))
	assert.ErrorContains(t, err, "order_id")

	// tolerance: wider accepts what the default refuses, in both directions.
	wide := mustNew(t, "stripe", stripeConfig.with("tolerance", "10m"))
	verifyGolden(t, wide, "stripe/too_old")
	verifyGolden(t, wide, "stripe/in_future")
	narrow := mustNew(t, "stripe", stripeConfig.with("tolerance", "1s"))
	req := goldenRequest(t, "stripe/payment_intent_succeeded") // t is 1s before the golden clock
	_, err = narrow.Verify(context.Background(), req)
	assert.NoError(t, err)
	req.ReceivedAt = req.ReceivedAt.Add(time.Second)
	_, err = narrow.Verify(context.Background(), req)
	assert.ErrorIs(t, err, ErrSignature)

	// Rotation: each secret alone accepts its own notifications only.
	newOnly := mustNew(t, "stripe", options{Secrets: stripeConfig.Secrets[:1]})
	_, err = newOnly.Verify(context.Background(), goldenRequest(t, "stripe/old_secret"))
	assert.ErrorIs(t, err, ErrSignature)
	verifyGolden(t, mustNew(t, "stripe", options{Secrets: stripeConfig.Secrets[1:]}), "stripe/old_secret")
}

// TestStripeSigner: caddy paynotify sign's notification carries the header
// Stripe would send (checked here with crypto/hmac directly) and verifies.
func TestStripeSigner(t *testing.T) {
	p, err := newVerifier("stripe", stripeConfig)
	require.NoError(t, err)
	signer := p.(Signer)
	now := time.Unix(1714558830, 0)
	n, err := signer.Sign(Draft{Fields: signer.Example("ORD-77", now), Path: "/n", Now: now})
	require.NoError(t, err)
	assert.Equal(t, http.MethodPost, n.Method)
	mac := hmac.New(sha256.New, []byte("whsec_stripe_test_secret"))
	mac.Write([]byte("1714558830." + string(n.Body)))
	assert.Equal(t, "t=1714558830,v1="+hex.EncodeToString(mac.Sum(nil)), n.Header.Get("Stripe-Signature"))

	events, err := p.Verify(context.Background(), &Request{Method: n.Method, Header: n.Header, Body: n.Body,
		ReceivedAt: now.Add(StripeTolerance)})
	require.NoError(t, err)
	require.Len(t, events, 1)
	e := events[0]
	assert.Equal(t, "ORD-77", e.OrderID)
	assert.Equal(t, StatusSucceeded, e.Status)
	assert.Equal(t, "10.50", e.Amount)
	assert.Equal(t, "USD", e.Currency)
	assert.Equal(t, now.UTC(), e.OccurredAt)

	// Signed with the old secret, as after a rotation, it still verifies.
	old, err := newVerifier("stripe", options{Secrets: []string{stripeConfig.Secrets[1]}})
	require.NoError(t, err)
	n, err = old.(Signer).Sign(Draft{Fields: signer.Example("ORD-78", now), Path: "/n", Now: now})
	require.NoError(t, err)
	_, err = p.Verify(context.Background(), &Request{Method: n.Method, Header: n.Header, Body: n.Body, ReceivedAt: now})
	assert.NoError(t, err)
}

// TestStripeHeaderBound: a header of many elements is refused before any
// HMAC is computed.
func TestStripeHeaderBound(t *testing.T) {
	v := mustNew(t, "stripe", stripeConfig)
	req := goldenRequest(t, "stripe/payment_intent_succeeded")
	req.Header.Set("Stripe-Signature", req.Header.Get("Stripe-Signature")+strings.Repeat(",v0=x", 20))
	_, err := v.Verify(context.Background(), req)
	assert.ErrorIs(t, err, ErrSignature)
	assert.Contains(t, err.Error(), "more than "+strconv.Itoa(maxSignatureElements))
}

// FuzzStripe: the signature covers "<t>.<body>", so an accepted body must be
// byte for byte a body that was signed, at the time it was signed at.
func FuzzStripe(f *testing.F) {
	fuzzVerifier(f, "stripe", stripeConfig, func(r *Request) string {
		ts, _, err := stripeSignature.parse(r.Header.Values("Stripe-Signature"), sha256.Size, make([]byte, 16*64), nil)
		if err != nil {
			return ""
		}
		return ts + "." + string(r.Body)
	})
}
