package verifiers

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

var checkoutConfig = options{
	Secrets:       []string{"cko-test-signature-key", "cko-old-signature-key"},
	Authorization: "cko-test-authorization",
}

func TestCheckout(t *testing.T) {
	noAuth := options{Secrets: checkoutConfig.Secrets}
	testProvider(t, "checkout", checkoutConfig, []string{
		"payment_pending", "payment_capture_pending", "payment_approved", "payment_captured",
		"payment_declined", "payment_capture_declined", "payment_expired", "payment_canceled",
		"payment_voided", "payment_refunded", "payment_authentication_failed",
		"timestamp_instead_of_created_on", "jpy", "kwd", "old_secret", "pretty_body", "uppercase_hex",
		"amount_as_string", "clp", "void_without_amount",
	}, []rejectCase{
		{"tampered", nil, ErrSignature, "Cko-Signature header matches none of the 2 configured secrets"},
		{"wrong_secret", nil, ErrSignature, "matches none"},
		{"unsigned", nil, ErrSignature, "no Cko-Signature header"},
		{"bad_hex", nil, ErrSignature, "Cko-Signature header is not a hex HMAC"},
		{"wrong_authorization", nil, ErrForbidden, "Authorization header is missing or is not the configured value"},
		{"no_authorization", nil, ErrForbidden, "Authorization header is missing"},
		{"duplicate_key", &noAuth, ErrMalformed, `JSON key "type" given twice`},
		{"invalid_utf8", &noAuth, ErrMalformed, "not valid UTF-8"},
		{"missing_reference", nil, ErrMalformed, "mandatory field data.reference is missing"},
		{"fractional_minor", nil, ErrMalformed, "data.amount is not a whole number of minor units"},
		{"overflow", nil, ErrMalformed, "data.amount is out of range"},
		{"trailing_data", nil, ErrMalformed, "data after the JSON object"},
		{"form_content_type", nil, ErrMalformed, "content type"},
	})
}

// TestCheckoutStrictJSON: a body Checkout.com signed but that the app could
// read differently (a key given twice, invalid UTF-8) is refused.
func TestCheckoutStrictJSON(t *testing.T) {
	v := mustNew(t, "checkout", options{Secrets: []string{"k"}})
	for _, body := range []string{
		`{"id":"evt_1","type":"payment_declined","type":"payment_captured","data":{"reference":"o","amount":1,"currency":"HKD"}}`,
		`{"id":"evt_1","type":"payment_captured","data":{"reference":"o","reference":"p","amount":1,"currency":"HKD"}}`,
		"{\"id\":\"evt_1\",\"type\":\"payment_captured\",\"data\":{\"reference\":\"o\xff\",\"amount\":1,\"currency\":\"HKD\"}}",
		`[{"id":"evt_1"}]`,
		`{"id":"evt_1","type":"payment_declined","Type":"payment_captured","data":{"reference":"o","amount":1,"currency":"HKD"}}`,
		`{"id":"evt_1","type":"payment_captured","data":{"reference":"o","amount":1,"currency":"HKD","source":{"type":"card"},"ſource":{"type":"octopus"}}}`,
	} {
		req := signedCheckout(body, "k")
		_, err := v.Verify(t.Context(), req)
		assert.ErrorIs(t, err, ErrMalformed, body)
	}
}

func TestCheckoutSeedExample(t *testing.T) {
	// The example event of Checkout.com's documentation: 20 USD minor units.
	e := verifyGolden(t, mustNew(t, "checkout", options{Secrets: checkoutConfig.Secrets}), "checkout/seed_example")
	assert.Equal(t, "evt_caxmnvuvbe4elkbdx2imwbnjxu", e.ID)
	assert.Equal(t, StatusAuthorized, e.Status)
	assert.Equal(t, "0.20", e.Amount)
	assert.EqualValues(t, 20, *e.AmountMinor)
	assert.Equal(t, "ORD-5023-4E89", e.OrderID)
	assert.Equal(t, "2023-05-22T11:56:04.8821546Z", e.OccurredAt.Format("2006-01-02T15:04:05.9999999Z07:00"))
}

func TestCheckoutAmountsFollowCheckoutScaling(t *testing.T) {
	v := mustNew(t, "checkout", checkoutConfig)
	for file, want := range map[string][2]any{
		"checkout/payment_captured": {"10.50", int64(1050)}, // HKD: divided by 100, ISO 2
		"checkout/jpy":              {"1000", int64(1000)},  // full value, ISO 0
		"checkout/kwd":              {"1.234", int64(1234)}, // divided by 1000, ISO 3
		"checkout/clp":              {"1000", int64(1000)},  // divided by 100, ISO 0: 100000 is CLP 1,000
	} {
		e := verifyGolden(t, v, file)
		assert.Equal(t, want[0], e.Amount, file)
		assert.Equal(t, want[1], *e.AmountMinor, file)
	}
	void := verifyGolden(t, v, "checkout/void_without_amount")
	assert.Empty(t, void.Amount)
	assert.Equal(t, "HKD", void.Currency, "the currency is known even without an amount")
}
