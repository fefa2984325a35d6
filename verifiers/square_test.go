package verifiers

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const squareTestURL = "https://shop.example/notify/square"

var squareConfig = options{
	Secrets: []string{"square-test-signature-key", "square-old-signature-key"},
	Extra:   map[string]any{"url": squareTestURL},
}

func init() {
	completeOptions["square"] = "url https://shop.example/notify/square"
	benchCases = append(benchCases, benchCase{
		provider: "square", file: "square/payment_completed", config: squareConfig, newHash: sha256.New,
		// The notification URL followed by the raw body; the header is its
		// base64 HMAC.
		signed: func(b *testing.B, req *Request) ([]byte, []byte) {
			want, err := base64.StdEncoding.DecodeString(req.Header.Get("X-Square-HmacSha256-Signature"))
			if err != nil {
				b.Fatal(err)
			}
			return append([]byte(squareTestURL), req.Body...), want
		},
	})
}

func TestSquare(t *testing.T) {
	testProvider(t, "square", squareConfig, []string{
		"payment_completed", "payment_created_pending", "payment_approved", "payment_failed", "payment_canceled",
		"payment_unknown_status", "payment_without_reference", "refund_completed", "refund_created_pending",
		"test_notification", "jpy", "old_secret", "pretty_body", "with_legacy_header",
	}, []rejectCase{
		{"tampered", nil, ErrSignature, "X-Square-HmacSha256-Signature header matches none of the 2 configured secrets; " +
			"if the signature key is right, url is not the exact notification URL of the subscription (behind a proxy"},
		{"wrong_secret", nil, ErrSignature, "matches none"},
		{"url_mismatch", nil, ErrSignature, "url is not the exact notification URL"},
		{"body_only_signature", nil, ErrSignature, "matches none"},
		{"reformatted", nil, ErrSignature, "matches none"},
		{"unsigned", nil, ErrSignature, "no X-Square-HmacSha256-Signature header"},
		{"empty_signature", nil, ErrSignature, "no X-Square-HmacSha256-Signature header"},
		{"hex_signature", nil, ErrSignature, "X-Square-HmacSha256-Signature header is not a base64 HMAC"},
		{"base64url_signature", nil, ErrSignature, "not a base64 HMAC"},
		{"unpadded_signature", nil, ErrSignature, "not a base64 HMAC"},
		{"legacy_only", nil, ErrSignature, "only the legacy X-Square-Signature header (HMAC-SHA1), which is not accepted"},
		{"missing_event_id", nil, ErrMalformed, "mandatory field event_id is missing"},
		{"missing_payment_status", nil, ErrMalformed, "mandatory field data.object.payment.status is missing"},
		{"no_order_id", nil, ErrMalformed, "no order id at data.object.payment.reference_id or data.object.payment.order_id or data.object.refund.order_id"},
		{"duplicate_key", nil, ErrMalformed, `JSON key "status" given twice`},
		{"casefold_key", nil, ErrMalformed, `JSON key "Status" given twice`},
		{"invalid_utf8", nil, ErrMalformed, "not valid UTF-8"},
		{"fractional_amount", nil, ErrMalformed, "data.object.payment.amount_money.amount is not a whole number of minor units"},
		{"form_content_type", nil, ErrMalformed, "content type"},
		{"query_shadows_field", nil, ErrMalformed, `query parameter "type" would shadow the field "type"`},
	})
}

// TestSquareOfficialVectors: the three vectors of Square's Go SDK test, each
// with its own signature key and notification URL. The main one is an event
// (webhooks.test_notification: unknown, no order); the two short bodies carry
// no event_id, so they pass the signature and are then refused as
// malformed, not as forged. With another URL, each is a forgery.
func TestSquareOfficialVectors(t *testing.T) {
	body, err := os.ReadFile(filepath.Join("..", "testdata", "vectors", "square_body.json"))
	require.NoError(t, err)
	for _, vec := range []struct {
		file, key, url, sig string
		body                []byte
	}{
		{"vector_main", "Ibxx_5AKakO-3qeNVR61Dw", "https://webhook.site/679a4f3a-dcfa-49ee-bac5-9d0edad886b9",
			"GF4YkrJgGBDZ9NIYbNXBnMzqb2HoL4RW/S6vkZ9/2N4=", body},
		{"vector_short", "signature-key", "https://webhook.site/webhooks",
			"W3FlCNk5IA3ZQ2LHTWoajvzfaDu/OwY2tNHIHC3IUOA=", []byte(`{"data":{"type":"webhooks","id":"fake_id"}}`)},
		{"vector_escaped", "signature-key", "https://webhook.site/webhooks",
			"Cxt7+aTi4rKgcA0bC4g9EHdVtLSDWdqccmL5MvihU4U=", []byte(`{"data":{"type":"webhooks","id":">id<"}}`)},
	} {
		t.Run(vec.file, func(t *testing.T) {
			req := goldenRequest(t, filepath.Join("square", vec.file))
			require.Equal(t, vec.body, req.Body, "the SDK's body byte for byte")
			require.Equal(t, vec.sig, req.Header.Get("X-Square-HmacSha256-Signature"))
			config := options{Secrets: []string{vec.key}, Extra: map[string]any{"url": vec.url}}
			events, err := mustNew(t, "square", config).Verify(context.Background(), req)
			if vec.file == "vector_main" {
				require.NoError(t, err)
				checkGolden(t, "square/vector_main", events)
				assert.Equal(t, "ac3ac95b-f97d-458c-a6e6-18981597e05f", events[0].ID)
				assert.Equal(t, StatusUnknown, events[0].Status)
				assert.Equal(t, "webhooks.test_notification", events[0].ProviderStatus)
				assert.Equal(t, "MLEFBHHSJGVHD", events[0].MerchantID)
			} else {
				require.ErrorIs(t, err, ErrMalformed, "the signature passed")
				assert.Contains(t, err.Error(), "mandatory field event_id is missing")
			}
			// The SDK test's mismatch: another URL (a trailing slash).
			config.Extra = map[string]any{"url": vec.url + "/"}
			_, err = mustNew(t, "square", config).Verify(context.Background(), goldenRequest(t, filepath.Join("square", vec.file)))
			require.ErrorIs(t, err, ErrSignature)
			assert.Contains(t, err.Error(), "url is not the exact notification URL")
		})
	}
}

// TestSquareEvents: status, amount and references per event, as an app
// reads them.
func TestSquareEvents(t *testing.T) {
	v := mustNew(t, "square", squareConfig)
	for file, want := range map[string]struct {
		status                  Status
		providerStatus          string
		order, txn, amount, cur string
	}{
		"payment_completed":         {StatusSucceeded, "COMPLETED", "ORD-20240501-0042", "hYy9pRFVxpDsO1FB05SunFWUe9JZY", "10.50", "USD"},
		"payment_created_pending":   {StatusPending, "PENDING", "ORD-20240501-0042", "hYy9pRFVxpDsO1FB05SunFWUe9JZY", "10.50", "USD"},
		"payment_approved":          {StatusAuthorized, "APPROVED", "ORD-20240501-0042", "hYy9pRFVxpDsO1FB05SunFWUe9JZY", "10.50", "USD"},
		"payment_failed":            {StatusFailed, "FAILED", "ORD-20240501-0042", "hYy9pRFVxpDsO1FB05SunFWUe9JZY", "10.50", "USD"},
		"payment_canceled":          {StatusCancelled, "CANCELED", "ORD-20240501-0042", "hYy9pRFVxpDsO1FB05SunFWUe9JZY", "10.50", "USD"},
		"payment_unknown_status":    {StatusUnknown, "VOIDED", "ORD-20240501-0042", "hYy9pRFVxpDsO1FB05SunFWUe9JZY", "10.50", "USD"},
		"payment_without_reference": {StatusSucceeded, "COMPLETED", "sAWEJJlNyhSoJXHEXQp7sJKh1WcZY", "hYy9pRFVxpDsO1FB05SunFWUe9JZY", "10.50", "USD"},
		"refund_completed":          {StatusRefunded, "COMPLETED", "eLPSq2Yl0PHBvn5MYYlQ8lXMJcSZY", "hYy9pRFVxpDsO1FB05SunFWUe9JZY", "5.00", "USD"},
		"refund_created_pending":    {StatusUnknown, "PENDING", "eLPSq2Yl0PHBvn5MYYlQ8lXMJcSZY", "hYy9pRFVxpDsO1FB05SunFWUe9JZY", "5.00", "USD"},
		"test_notification":         {StatusUnknown, "webhooks.test_notification", "", "", "", ""},
		"jpy":                       {StatusSucceeded, "COMPLETED", "ORD-20240501-0042", "hYy9pRFVxpDsO1FB05SunFWUe9JZY", "1200", "JPY"},
	} {
		e := verifyGolden(t, v, filepath.Join("square", file))
		assert.Equal(t, want.status, e.Status, file)
		assert.Equal(t, want.providerStatus, e.ProviderStatus, file)
		assert.Equal(t, want.order, e.OrderID, file)
		assert.Equal(t, want.txn, e.TransactionID, file)
		assert.Equal(t, want.amount, e.Amount, file)
		assert.Equal(t, want.cur, e.Currency, file)
	}
}

func TestSquareURLOption(t *testing.T) {
	for url, want := range map[string]string{
		"":                                 `url: required for provider "square"`,
		"/notify/square":                   "url: not an absolute http or https URL",
		"shop.example/notify/square":       "url: not an absolute http or https URL",
		"ftp://shop.example/notify/square": "url: not an absolute http or https URL",
		"https:///notify/square":           "url: not an absolute http or https URL",
		"https://shop.example/n square":    "url: not an absolute http or https URL",
		"https://shop.example/n#frag":      "url: has a #fragment",
	} {
		config := options{Secrets: []string{"k"}}
		if url != "" {
			config = config.with("url", url)
		}
		_, err := newVerifier("square", config)
		var oe *OptionError
		require.ErrorAs(t, err, &oe, url)
		assert.Equal(t, "url", oe.Option, url)
		assert.Contains(t, err.Error(), want, url)
	}

	// A placeholder is resolved at provision, then checked and signed.
	t.Setenv("PAYNOTIFY_TEST_SQUARE_URL", squareTestURL)
	v := mustNew(t, "square", squareConfig.with("url", "{env.PAYNOTIFY_TEST_SQUARE_URL}"))
	_, err := v.Verify(context.Background(), goldenRequest(t, "square/payment_completed"))
	require.NoError(t, err)
	t.Setenv("PAYNOTIFY_TEST_SQUARE_URL", "not a url")
	_, err = newVerifier("square", squareConfig.with("url", "{env.PAYNOTIFY_TEST_SQUARE_URL}"))
	var oe *OptionError
	require.ErrorAs(t, err, &oe)
	assert.Equal(t, "url", oe.Option)

	// The URL is used as written: with a trailing slash it is another URL.
	_, err = mustNew(t, "square", squareConfig.with("url", squareTestURL+"/")).Verify(context.Background(), goldenRequest(t, "square/payment_completed"))
	require.ErrorIs(t, err, ErrSignature)
}

func TestSquareOrderIDOption(t *testing.T) {
	v := mustNew(t, "square", squareConfig.with("order_id", "data.object.payment.order_id"))
	e := verifyGolden(t, v, "square/payment_completed")
	assert.Equal(t, "sAWEJJlNyhSoJXHEXQp7sJKh1WcZY", e.OrderID, "Square's order id instead of reference_id")
}

// TestSquareSignerRoundTrip: caddy paynotify sign signs over the configured
// url, as an independent HMAC confirms, and the verifier accepts it.
func TestSquareSignerRoundTrip(t *testing.T) {
	p, err := newVerifier("square", squareConfig)
	require.NoError(t, err)
	s := p.(Signer)
	n, err := s.Sign(Draft{Fields: s.Example("ORD-9", goldenReceivedAt), Path: "/notify/square"})
	require.NoError(t, err)
	mac := hmac.New(sha256.New, []byte("square-test-signature-key"))
	mac.Write([]byte(squareTestURL))
	mac.Write(n.Body)
	assert.Equal(t, base64.StdEncoding.EncodeToString(mac.Sum(nil)), n.Header.Get("X-Square-HmacSha256-Signature"))
	events, err := p.Verify(context.Background(), &Request{Method: http.MethodPost, Header: n.Header, Body: n.Body, ReceivedAt: goldenReceivedAt})
	require.NoError(t, err)
	assert.Equal(t, StatusSucceeded, events[0].Status)
	assert.Equal(t, "ORD-9", events[0].OrderID)
	assert.Equal(t, "10.50", events[0].Amount)
	assert.Equal(t, goldenReceivedAt, events[0].OccurredAt)
}

// TestSquareSignatureHeaderGivenTwice: two signature headers are refused,
// even when one of them matches.
func TestSquareSignatureHeaderGivenTwice(t *testing.T) {
	req := goldenRequest(t, "square/payment_completed")
	req.Header.Add("X-Square-HmacSha256-Signature", "bm90IGEgc2lnbmF0dXJlIG9mIHRoZSByaWdodCBzaXpl")
	_, err := mustNew(t, "square", squareConfig).Verify(context.Background(), req)
	require.ErrorIs(t, err, ErrSignature)
	assert.Contains(t, err.Error(), "given 2 times")
	assert.False(t, bytes.Contains([]byte(err.Error()), []byte("bm90")), "a header value in an error")
}

// FuzzSquare: the URL is fixed, so an accepted body must be byte for byte a
// body Square signed.
func FuzzSquare(f *testing.F) {
	fuzzVerifier(f, "square", squareConfig, func(r *Request) string { return string(r.Body) })
}
