package verifiers

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var oobitConfig = options{Secrets: []string{"oobit-test-hash-key"}}

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

// TestOobitRegroupedDeclineIsAnotherEvent shows why oobit needs allow_ip: the
// signed values of a decline for order 1000 (1000|051|9.99) regroup into an
// approval of order 10 for 519.99 (10|000|519.99) under the same signature.
// The verifier cannot tell them apart. The id is made of the signed string
// and of what the event says, so the regrouped copy is another event: sent
// before the genuine decline, it cannot have the decline acknowledged as its
// duplicate.
func TestOobitRegroupedDeclineIsAnotherEvent(t *testing.T) {
	v := mustNew(t, "oobit", oobitConfig)
	decline := verifyGolden(t, v, "oobit/declined_numeric_order")
	regrouped := verifyGolden(t, v, "oobit/regrouped_into_approval")
	assert.Equal(t, StatusFailed, decline.Status)
	assert.Equal(t, StatusSucceeded, regrouped.Status, "the scheme's weakness, documented")
	assert.NotEqual(t, decline.ID, regrouped.ID)
	required, why := v.(SourceChecker).SourceCheck()
	assert.True(t, required, "so the glue requires allow_ip for oobit")
	assert.Contains(t, why, "regrouped into an approval")
}

// TestOobitRegroupedCopyCannotStandInForTheGenuine moves 1 to n characters
// across each boundary of the signed values (trans_id, trans_order,
// reply_code, trans_amount, trans_currency). A copy that is accepted either
// says exactly what the genuine says, under its id, or is another event
// under another id: never another meaning under the genuine id.
func TestOobitRegroupedCopyCannotStandInForTheGenuine(t *testing.T) {
	v := mustNew(t, "oobit", oobitConfig)
	for _, genuine := range []map[string]string{
		{"trans_id": "22924", "trans_order": "ABC12365", "reply_code": "000", "trans_amount": "7.23", "trans_currency": "USD"},
		{"trans_id": "4091", "trans_order": "1000", "reply_code": "051", "trans_amount": "9.99", "trans_currency": "USD"},
		{"trans_id": "4092", "trans_order": "77", "reply_code": "553", "trans_amount": "1500", "trans_currency": "JPY"},
	} {
		want := verifyOobitFields(t, v, genuine)
		require.NotNil(t, want)
		names := oobitSigned[:]
		tried, refused, same, other := 0, 0, 0, 0
		for i := 0; i+1 < len(names); i++ {
			left, right := names[i], names[i+1]
			lv, rv := genuine[left], genuine[right]
			var moves [][2]string
			for k := 1; k <= len(lv); k++ {
				moves = append(moves, [2]string{lv[:len(lv)-k], lv[len(lv)-k:] + rv})
			}
			for k := 1; k <= len(rv); k++ {
				moves = append(moves, [2]string{lv + rv[:k], rv[k:]})
			}
			for _, mv := range moves {
				m := maps.Clone(genuine)
				m[left], m[right] = mv[0], mv[1]
				desc := fmt.Sprintf("%s=%q %s=%q", left, mv[0], right, mv[1])
				tried++
				got := verifyOobitFields(t, v, m)
				switch {
				case got == nil:
					refused++
				case meaning(*got) == meaning(*want):
					assert.Equal(t, want.ID, got.ID, desc)
					same++
				default:
					assert.NotEqual(t, want.ID, got.ID, "%s: another meaning under the genuine id", desc)
					other++
				}
			}
		}
		t.Logf("%v: %d regroupings: %d refused, %d the genuine event, %d another event", genuine, tried, refused, same, other)
	}
}

// verifyOobitFields signs the five values as Oobit does and verifies them
// as a GET notification; nil when refused (a refusal other than
// ErrMalformed fails the test).
func verifyOobitFields(t *testing.T, v Verifier, f map[string]string) *Event {
	t.Helper()
	q := url.Values{}
	for k, val := range f {
		q.Set(k, val)
	}
	sum := sha256.Sum256([]byte(refOobitSignedString(f) + "oobit-test-hash-key"))
	q.Set("signature", base64.StdEncoding.EncodeToString(sum[:]))
	events, err := v.Verify(context.Background(), &Request{Method: http.MethodGet, Header: http.Header{},
		RawQuery: q.Encode(), ClientIP: goldenClientIP, ReceivedAt: goldenReceivedAt})
	if err != nil {
		require.ErrorIs(t, err, ErrMalformed)
		return nil
	}
	return &events[0]
}
