package caddymodule_test

import (
	"io"
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

// startIPNInquiry runs a paypal_ipn route whose postback goes to a
// stand-in PayPal, with a bolt dedup store. The receiver is the golden
// IPNs' (testdata/gen_golden_paypal_ipn.py).
func startIPNInquiry(t *testing.T) (*caddytest.Tester, *upstream, *standin.API) {
	up := newUpstream(t)
	api := standin.New()
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	tc := caddytest.NewTester(t)
	initServer(tc, globalOptions+strings.NewReplacer("UPSTREAM", strings.TrimPrefix(up.URL, "http://"),
		"API", srv.URL, "DB", filepath.Join(t.TempDir(), "dedup.db")).Replace(`
http://localhost:9080 {
	handle /notify/paypal_ipn {
		paynotify paypal_ipn {
			receiver merchant@shop.example
			inquire API/paypal/cgi-bin/webscr
			inquiry_timeout 1s
			store bolt DB
		}
		reverse_proxy UPSTREAM
	}
}
`), "caddyfile")
	return tc, up, api
}

// sentIPN registers the golden IPN name as sent by PayPal and returns it
// aimed at the route.
func sentIPN(t *testing.T, api *standin.API, name string) func() *http.Request {
	req := golden(t, "paypal_ipn/"+name, "/notify/paypal_ipn")
	body, err := io.ReadAll(req.Body)
	require.NoError(t, err)
	api.AddPayPalIPN(body)
	return func() *http.Request { return golden(t, "paypal_ipn/"+name, "/notify/paypal_ipn") }
}

// TestPayPalIPNInquiryEndToEnd: a genuine IPN (windows-1252) is delivered
// once after one postback; PayPal's re-post of it is acknowledged without
// a postback; a PayPal that fails is 503 with Retry-After and the re-post
// after it recovered is delivered once; forged and tampered IPNs are 401
// and an IPN for another account 403, before any postback.
func TestPayPalIPNInquiryEndToEnd(t *testing.T) {
	tc, up, api := startIPNInquiry(t)
	completed := sentIPN(t, api, "completed")

	// A copy with another amount, before the genuine IPN: PayPal says
	// INVALID, and the copy leaves no claim that would hide the genuine.
	r := send(t, tc, golden(t, "paypal_ipn/tampered_amount", "/notify/paypal_ipn"))
	assert.Equal(t, http.StatusUnauthorized, r.Status)
	assert.Empty(t, up.take())
	assert.Equal(t, 1, api.Calls("paypal_ipn"))

	r = send(t, tc, completed())
	assert.Equal(t, http.StatusOK, r.Status)
	assert.Empty(t, r.Body, "PayPal's ACK: an empty 200")
	e := mollieDelivered(t, up.take())
	assert.Equal(t, "succeeded", e["status"])
	assert.Equal(t, "ORD-20240501-0042", e["order_id"])
	assert.Equal(t, "25.90", e["amount"])
	assert.Equal(t, "Zoë Dupré", e["customer"].(map[string]any)["name"], "decoded from windows-1252")
	assert.Equal(t, 2, api.Calls("paypal_ipn"))

	r = send(t, tc, completed())
	assert.Equal(t, http.StatusOK, r.Status)
	assert.Empty(t, up.take(), "a re-post reached the app")
	assert.Equal(t, 2, api.Calls("paypal_ipn"), "a duplicate is acknowledged without a postback")
	// The tampered copy now has the id of a delivered event (txn_id and
	// payment_status): acknowledged like any duplicate, without a call,
	// and nothing reaches the app.
	r = send(t, tc, golden(t, "paypal_ipn/tampered_amount", "/notify/paypal_ipn"))
	assert.Equal(t, http.StatusOK, r.Status)
	assert.Empty(t, up.take())
	assert.Equal(t, 2, api.Calls("paypal_ipn"))

	refunded := sentIPN(t, api, "refunded")
	api.SetSlowFor(3e9)
	for _, fault := range []standin.Fault{standin.ServerError, standin.ErrorCode, standin.ErrorCode, standin.Garbage,
		standin.Slow, standin.Redirect, standin.Drop, standin.Huge} {
		api.SetFault(fault)
		r = send(t, tc, refunded())
		assert.Equal(t, http.StatusServiceUnavailable, r.Status, fault.String())
		assert.NotEmpty(t, r.Header.Get("Retry-After"), fault.String())
		assert.Empty(t, up.take(), fault.String())
	}
	api.SetFault(standin.None)
	calls := api.Calls("paypal_ipn")
	assert.Equal(t, http.StatusOK, send(t, tc, refunded()).Status)
	assert.Equal(t, "refunded", mollieDelivered(t, up.take())["status"])
	assert.Equal(t, http.StatusOK, send(t, tc, refunded()).Status)
	assert.Empty(t, up.take(), "delivered once")
	assert.Equal(t, calls+1, api.Calls("paypal_ipn"), "one postback for the re-post, none for its duplicate")

	calls = api.Calls("paypal_ipn")
	r = send(t, tc, golden(t, "paypal_ipn/forged", "/notify/paypal_ipn"))
	assert.Equal(t, http.StatusUnauthorized, r.Status, "an IPN PayPal did not send")
	assert.Empty(t, up.take())
	assert.Equal(t, calls+1, api.Calls("paypal_ipn"))
	for name, status := range map[string]int{"receiver_mismatch": 403, "unknown_charset": 400, "no_txn_id": 400} {
		sentIPN(t, api, name) // PayPal did send it: only the content refuses it
		calls := api.Calls("paypal_ipn")
		r := send(t, tc, golden(t, "paypal_ipn/"+name, "/notify/paypal_ipn"))
		assert.Equal(t, status, r.Status, name)
		assert.Empty(t, up.take(), name)
		assert.Equal(t, calls, api.Calls("paypal_ipn"), "%s: refused before any postback", name)
	}
}

// TestPayPalIPNInquiryLieIsRefused: a PayPal that answers INVALID for a
// genuine IPN gets it refused (401, PayPal re-posts), never delivered.
func TestPayPalIPNInquiryLieIsRefused(t *testing.T) {
	tc, up, api := startIPNInquiry(t)
	pending := sentIPN(t, api, "pending")
	api.SetFault(standin.Lie)
	assert.Equal(t, http.StatusUnauthorized, send(t, tc, pending()).Status)
	assert.Empty(t, up.take())
	api.SetFault(standin.None)
	assert.Equal(t, http.StatusOK, send(t, tc, pending()).Status)
	assert.Equal(t, "pending", mollieDelivered(t, up.take())["status"], "the refusal left no claim behind")
}
