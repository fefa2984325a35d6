package verifiers

// Adversarial review of verify by inquiry (issue 14): each test is either a
// reproduction of a defect (it fails until the defect is fixed) or a probe
// of a property found sound (it passes).

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// DEFECT: the inquire URL's credentials are echoed in the configuration
// error when the URL is refused for another reason first (a scheme other
// than http(s), or a typo that leaves it without a host): the first case
// of parseInquiryURL quotes the whole raw URL, before the u.User check.
// With a placeholder the echoed URL is the resolved one, so a secret kept
// in {env.*} ends up in Caddy's startup error and its log.
func TestReviewInquireURLErrorDoesNotEchoCredentials(t *testing.T) {
	for _, raw := range []string{
		"ftp://merchant:s3cr3t-pw@api.example.com/x",
		"https:/merchant:s3cr3t-pw@api.example.com/x", // one slash: no host
		"https:merchant:s3cr3t-pw@api.example.com",    // opaque
	} {
		q := &Inquiry{URL: raw}
		err := q.CheckConfig("")
		require.Error(t, err, raw)
		assert.NotContains(t, err.Error(), "s3cr3t", "parse-time error echoes the password: %v", err)

		t.Setenv("PAYNOTIFY_REVIEW_INQUIRE", raw)
		q = &Inquiry{URL: "{env.PAYNOTIFY_REVIEW_INQUIRE}"}
		err = q.Provision("")
		require.Error(t, err, raw)
		assert.NotContains(t, err.Error(), "s3cr3t", "provision error echoes the resolved password: %v", err)
	}
}

// SOUND: an API that sends its headers at once and then trickles (or
// stalls) the body is bounded by inquiry_timeout: the context covers the
// body read.
func TestReviewInquiryStalledBodyIsBounded(t *testing.T) {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"error":"0","data":[`))
		w.(http.Flusher).Flush()
		select {
		case <-time.After(5 * time.Second):
		case <-r.Context().Done():
		}
	}))
	defer api.Close()
	q := &Inquiry{URL: api.URL, Timeout: caddy.Duration(300 * time.Millisecond)}
	require.NoError(t, q.Provision(""))
	req, err := http.NewRequest(http.MethodGet, q.Endpoint("/x", "signature=c2VjcmV0"), nil)
	require.NoError(t, err)
	start := time.Now()
	_, err = q.Do(context.Background(), req)
	assert.ErrorIs(t, err, ErrInquiry)
	assert.Less(t, time.Since(start), 2*time.Second)
	assert.NotContains(t, err.Error(), "c2VjcmV0")
}

// SOUND: hostile getStatus.asp answers are failed inquiries (503) or
// refusals (401), never a confirmation nor a panic: the transaction listed
// twice with different reply codes, keys repeated in another case, a
// number where a string is expected, a null element.
func TestReviewOobitHostileAnswers(t *testing.T) {
	for name, c := range map[string]struct {
		answer string
		want   error
	}{
		"listed twice, approval second": {`{"error":"0","message":"SUCCESS","data":[` +
			`{"replyCode":"051","trans_id":"22924","trans_amount":"9.99","trans_currency":"USD"},` +
			`{"replyCode":"000","trans_id":"22924","trans_amount":"9.99","trans_currency":"USD"}]}`, ErrInquiry},
		"replyCode in two cases": {`{"error":"0","data":[` +
			`{"replyCode":"000","ReplyCode":"051","trans_id":"22924","trans_amount":"9.99","trans_currency":"USD"}]}`, ErrInquiry},
		"error in two cases": {`{"error":"0","Error":"103","data":[]}`, ErrInquiry},
		"null element":       {`{"error":"0","data":[null]}`, ErrSignature},
		"trans_id number, other amount": {`{"error":"0","data":[` +
			`{"replyCode":"051","trans_id":22924,"trans_amount":9.990001,"trans_currency":"USD"}]}`, ErrSignature},
		"amount with exponent": {`{"error":"0","data":[` +
			`{"replyCode":"051","trans_id":"22924","trans_amount":"999e-2","trans_currency":"USD"}]}`, ErrInquiry},
		"data an object": {`{"error":"0","data":{"replyCode":"051"}}`, ErrInquiry},
	} {
		api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(c.answer))
		}))
		v := mustNew(t, "oobit", oobitConfig.with("merchant_number", oobitTestMerchant).with("inquire", api.URL+"/getStatus.asp"))
		f := oobitDecline()
		f["reply_code"] = "051"
		require.NotPanics(t, func() {
			events, err := v.Verify(context.Background(), oobitGET(f))
			assert.Empty(t, events, name)
			assert.True(t, errors.Is(err, c.want), "%s: %v", name, err)
		}, name)
		api.Close()
	}
}
