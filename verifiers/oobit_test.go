package verifiers

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

var oobitConfig = Config{Secrets: []string{"oobit-test-hash-key"}}

func TestOobit(t *testing.T) {
	testProvider(t, "oobit", oobitConfig, []string{
		"approved_get", "approved_post", "pending", "declined", "plus_as_space", "jpy", "declined_numeric_order",
	}, []rejectCase{
		{"tampered", nil, ErrSignature, "signature matches none of the 1 configured secrets"},
		{"wrong_secret", nil, ErrSignature, "matches none"},
		{"unsigned", nil, ErrSignature, "no signature field"},
		{"bad_base64", nil, ErrSignature, "not the base64 of a SHA-256 digest"},
		{"hex_not_base64", nil, ErrSignature, "not the base64 of a SHA-256 digest"},
		{"shifted_reply_code", nil, ErrMalformed, "is not well formed"},
		{"missing_order", nil, ErrMalformed, "mandatory field trans_order is missing"},
		{"duplicate_field", nil, ErrMalformed, `query parameter "reply_code" given 2 times`},
		{"post_json", nil, ErrMalformed, "content type"},
		{"post_query_shadow", nil, ErrMalformed, `query parameter "reply_code" would shadow the field "reply_code"`},
		{"put", nil, ErrMethod, "PUT"},
		{"get_with_body", nil, ErrMalformed, "a GET notification with a body"},
	})
}

func TestOobitGetAndPostAreTheSameEvent(t *testing.T) {
	v := mustNew(t, "oobit", oobitConfig)
	get := verifyGolden(t, v, "oobit/approved_get")
	post := verifyGolden(t, v, "oobit/approved_post")
	assert.Equal(t, get.ID, post.ID)
	assert.Equal(t, StatusSucceeded, get.Status)
	assert.Equal(t, "2020-02-11T12:40:11Z", get.OccurredAt.Format("2006-01-02T15:04:05Z07:00"), "dd/MM/yyyy, GMT")
}

// TestOobitRegroupedDeclineKeepsTheID shows why oobit needs allow_ip: the
// signed values of a decline for order 1000 (1000|051|9.99) regroup into an
// approval of order 10 for 519.99 (10|000|519.99) under the same signature.
// The verifier cannot tell them apart; the id, made of the signed string as a
// whole, stays the decline's, so the replay is not a new event.
func TestOobitRegroupedDeclineKeepsTheID(t *testing.T) {
	v := mustNew(t, "oobit", oobitConfig)
	decline := verifyGolden(t, v, "oobit/declined_numeric_order")
	regrouped := verifyGolden(t, v, "oobit/regrouped_into_approval")
	assert.Equal(t, StatusFailed, decline.Status)
	assert.Equal(t, StatusSucceeded, regrouped.Status, "the scheme's weakness, documented")
	assert.Equal(t, decline.ID, regrouped.ID)
	required, why := v.(SourceChecker).SourceCheck()
	assert.True(t, required, "so the glue requires allow_ip for oobit")
	assert.Contains(t, why, "regrouped into an approval")
}
