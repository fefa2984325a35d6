package caddymodule_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddytest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/paynotify/paynotify/internal/standin"
)

const (
	mollieE2EKey    = "test_e2e_mollie_key"
	mollieE2ESecret = "mollie-e2e-webhook-secret"
)

// startMollieInquiry runs a mollie route (with a webhook secret) that asks
// a stand-in Mollie API, with a bolt dedup store.
func startMollieInquiry(t *testing.T) (*caddytest.Tester, *upstream, *standin.API) {
	up := newUpstream(t)
	api := standin.New()
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	tc := caddytest.NewTester(t)
	initServer(tc, globalOptions+strings.NewReplacer("UPSTREAM", strings.TrimPrefix(up.URL, "http://"),
		"API", srv.URL, "DB", filepath.Join(t.TempDir(), "dedup.db")).Replace(`
http://localhost:9080 {
	handle /notify/mollie {
		paynotify mollie {
			api_key `+mollieE2EKey+`
			secret `+mollieE2ESecret+`
			inquire API/mollie
			inquiry_timeout 1s
			store bolt DB
		}
		reverse_proxy UPSTREAM
	}
}
`), "caddyfile")
	return tc, up, api
}

// mollieWebhook is Mollie's classic webhook with body, signed with secret
// ("" for no X-Mollie-Signature).
func mollieWebhook(t *testing.T, path, body, secret string) *http.Request {
	req, err := http.NewRequest(http.MethodPost, "http://localhost:9080"+path, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if secret != "" {
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write([]byte(body))
		req.Header.Set("X-Mollie-Signature", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	}
	return req
}

// mollieDelivered is the one event the app received.
func mollieDelivered(t *testing.T, got []received) map[string]any {
	t.Helper()
	require.Len(t, got, 1, "delivered once")
	var e map[string]any
	require.NoError(t, json.Unmarshal(got[0].Body, &e))
	return e
}

// TestMollieInquiryEndToEnd: a genuine webhook is delivered once with the
// payment Mollie answers; the same webhook again is acknowledged and not
// delivered, but costs a call (the event id needs the status, which only
// Mollie's answer carries); a refund of the same payment is a new event;
// an API fault is 503 with Retry-After and the retry is delivered once.
func TestMollieInquiryEndToEnd(t *testing.T) {
	tc, up, api := startMollieInquiry(t)
	paid := standin.MolliePayment{ID: "tr_E2Epaid", Status: "paid", Value: "12.34", Currency: "EUR",
		Method: "ideal", Metadata: map[string]any{"order_id": "ORD-M1"}}
	api.AddMolliePayment(mollieE2EKey, paid)
	webhook := func() *http.Request { return mollieWebhook(t, "/notify/mollie", "id=tr_E2Epaid", mollieE2ESecret) }

	r := send(t, tc, webhook())
	assert.Equal(t, http.StatusOK, r.Status)
	assert.Empty(t, r.Body, "Mollie's ACK: 200, empty")
	e := mollieDelivered(t, up.take())
	assert.Equal(t, "succeeded", e["status"])
	assert.Equal(t, "ORD-M1", e["order_id"])
	assert.Equal(t, "12.34", e["amount"])
	assert.Equal(t, "tr_E2Epaid", e["transaction_id"])
	assert.Equal(t, 1, api.Calls("mollie"))

	r = send(t, tc, webhook())
	assert.Equal(t, http.StatusOK, r.Status)
	assert.Empty(t, up.take(), "a duplicate reached the app")
	assert.Equal(t, 2, api.Calls("mollie"), "Mollie's duplicate costs one call: its event id comes from the answer")

	// The payment is refunded: Mollie calls the same webhook.
	paid.Refunded = "2.34"
	api.AddMolliePayment(mollieE2EKey, paid)
	assert.Equal(t, http.StatusOK, send(t, tc, webhook()).Status)
	e = mollieDelivered(t, up.take())
	assert.Equal(t, "refunded", e["status"])
	assert.Equal(t, "2.34", e["amount"])

	// Mollie's API fails: 503 with Retry-After, nothing delivered; the
	// retry once it recovered is delivered once.
	api.AddMolliePayment(mollieE2EKey, standin.MolliePayment{ID: "tr_E2Elater", Status: "paid", Value: "5.00",
		Currency: "EUR", Metadata: map[string]any{"order_id": "ORD-M2"}})
	later := func() *http.Request { return mollieWebhook(t, "/notify/mollie", "id=tr_E2Elater", mollieE2ESecret) }
	api.SetSlowFor(3e9)
	for _, fault := range []standin.Fault{standin.ServerError, standin.ErrorCode, standin.Garbage, standin.Lie,
		standin.Slow, standin.Redirect, standin.Drop, standin.Huge} {
		api.SetFault(fault)
		r = send(t, tc, later())
		assert.Equal(t, http.StatusServiceUnavailable, r.Status, fault.String())
		assert.NotEmpty(t, r.Header.Get("Retry-After"), fault.String())
		assert.Empty(t, r.Body, fault.String())
		assert.Empty(t, up.take(), fault.String())
	}
	api.SetFault(standin.None)
	assert.Equal(t, http.StatusOK, send(t, tc, later()).Status)
	assert.Equal(t, "ORD-M2", mollieDelivered(t, up.take())["order_id"])
	assert.Equal(t, http.StatusOK, send(t, tc, later()).Status)
	assert.Empty(t, up.take(), "delivered once")
}

// TestMollieInquiryForgedWebhooks: the forgeries Mollie's webhook invites.
// An id of a payment that is not paid is delivered with the status Mollie
// gives it, whatever the body says; an id Mollie does not know is 401;
// a malformed id or a wrong signature is refused before any call.
func TestMollieInquiryForgedWebhooks(t *testing.T) {
	tc, up, api := startMollieInquiry(t)
	api.AddMolliePayment(mollieE2EKey, standin.MolliePayment{ID: "tr_E2Efailed", Status: "failed", Value: "99.00",
		Currency: "EUR", Metadata: map[string]any{"order_id": "ORD-F"}})
	api.AddMolliePayment(mollieE2EKey, standin.MolliePayment{ID: "tr_E2Eopen", Status: "open", Value: "99.00",
		Currency: "EUR", Metadata: map[string]any{"order_id": "ORD-O"}})

	api.AddMolliePayment(mollieE2EKey, standin.MolliePayment{ID: "tr_E2Efailed2", Status: "failed", Value: "99.00",
		Currency: "EUR", Metadata: map[string]any{"order_id": "ORD-F2"}})
	for _, c := range []struct{ body, status, order string }{
		{"id=tr_E2Efailed", "failed", "ORD-F"},
		{"id=tr_E2Eopen&status=paid&amount=99.00", "pending", "ORD-O"},
		{"status=paid&id=tr_E2Efailed2&metadata=ORD-X&paid=yes", "failed", "ORD-F2"},
	} {
		calls := api.Calls("mollie")
		r := send(t, tc, mollieWebhook(t, "/notify/mollie", c.body, mollieE2ESecret))
		assert.Equal(t, http.StatusOK, r.Status, c.body)
		e := mollieDelivered(t, up.take())
		assert.Equal(t, c.status, e["status"], "%s: the status is Mollie's, not the sender's", c.body)
		assert.Equal(t, c.order, e["order_id"], c.body)
		assert.Equal(t, calls+1, api.Calls("mollie"))
	}
	calls := api.Calls("mollie")
	r := send(t, tc, mollieWebhook(t, "/notify/mollie", "id=tr_E2Eopen&amount%5Bvalue%5D=1", mollieE2ESecret))
	assert.Equal(t, http.StatusBadRequest, r.Status, "a bracketed name is refused by the strict form reading")
	assert.Empty(t, up.take())
	assert.Equal(t, calls, api.Calls("mollie"))

	calls = api.Calls("mollie")
	r = send(t, tc, mollieWebhook(t, "/notify/mollie", "id=tr_NoSuchPayment", mollieE2ESecret))
	assert.Equal(t, http.StatusUnauthorized, r.Status, "an id Mollie does not know")
	assert.Empty(t, up.take())
	assert.Equal(t, calls+1, api.Calls("mollie"))

	for _, c := range []struct {
		body, secret string
		status       int
	}{
		{"id=tr_..%2F..%2Fv2%2Frefunds", mollieE2ESecret, http.StatusBadRequest},
		{"id=tr_x%3Fy", mollieE2ESecret, http.StatusBadRequest},
		{"id=tr_x%2523", mollieE2ESecret, http.StatusBadRequest},
		{"id=tr_E2Efailed", "a-guessed-secret", http.StatusUnauthorized},
		{"id=tr_E2Efailed", "", http.StatusUnauthorized},
	} {
		calls := api.Calls("mollie")
		r := send(t, tc, mollieWebhook(t, "/notify/mollie", c.body, c.secret))
		assert.Equal(t, c.status, r.Status, c.body)
		assert.Empty(t, up.take(), c.body)
		assert.Equal(t, calls, api.Calls("mollie"), "%s: refused before any call", c.body)
	}
}
