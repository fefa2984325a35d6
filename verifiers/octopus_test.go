package verifiers

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

var octopusConfig = Config{Secrets: []string{"octopus-test-secret"}, Key: "octopus-test-key"}

func TestOctopus(t *testing.T) {
	testProvider(t, "octopus", octopusConfig, []string{
		"none", "pending", "processing", "completed", "failed", "reject", "refund", "overdue", "on_hold",
		"amount_only",
	}, []rejectCase{
		{"tampered", nil, ErrSignature, "OC-Signature header matches none of the 1 configured secrets"},
		{"number_reformatted", nil, ErrSignature, "matches none"},
		{"wrong_secret", nil, ErrSignature, "matches none"},
		{"unsigned", nil, ErrSignature, "no OC-Signature header"},
		{"bad_hex", nil, ErrSignature, "OC-Signature header is not a hex HMAC"},
		{"wrong_key", nil, ErrForbidden, "OC-Key header is missing or is not the configured value"},
		{"no_key", nil, ErrForbidden, "OC-Key header is missing"},
		{"missing_order", nil, ErrMalformed, "mandatory field merchant_order_id is missing"},
		{"duplicate_key", nil, ErrMalformed, `JSON key "payment_status" given twice`},
		{"missing_currency", nil, ErrMalformed, "mandatory field currency is missing"},
		{"key_with_separators", nil, ErrMalformed, `field name "tenant=ph-1&transaction_type" is not a plain name`},
	})
}

func TestOctopusStringToSign(t *testing.T) {
	req := goldenRequest(t, "octopus/completed")
	e := verifyGolden(t, mustNew(t, "octopus", octopusConfig), "octopus/completed")
	// final_amount is preferred to amount, the currency is upper-cased, and
	// the signature key never reaches the app.
	assert.Equal(t, "99.50", e.Amount)
	assert.Equal(t, "PHP", e.Currency)
	assert.NotContains(t, string(e.Raw), "sk_live_9f8e7d6c")
	assert.Contains(t, string(e.Raw), `"final_amount":99.50`, "raw keeps the number as sent")
	assert.Contains(t, string(req.Body), "sk_live_9f8e7d6c")
}

// TestOctopusRegroupedReplayKeepsTheID: a string value may swallow the
// "&key=value" pairs that follow it and the signature still matches. The
// event id is the signed string as a whole, so such a replay carries the id
// of the genuine callback and cannot pass for a new event.
func TestOctopusRegroupedReplayKeepsTheID(t *testing.T) {
	v := mustNew(t, "octopus", octopusConfig)
	genuine := verifyGolden(t, v, "octopus/completed")
	regrouped := verifyGolden(t, v, "octopus/merged_fields")
	assert.Equal(t, genuine.ID, regrouped.ID)
	assert.NotEqual(t, verifyGolden(t, v, "octopus/failed").ID, genuine.ID)
}
