package caddymodule_test

// paypal end to end: a Caddy whose paypal route asks a stand-in PayPal API
// (verify-webhook-signature with a cached OAuth token) before anything is
// forwarded.

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/caddyserver/caddy/v2/caddytest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/paynotify/paynotify/internal/standin"
)

const paypalE2EWebhook = "WH-E2E-4JH86294D6297924G"

func startPayPalCaddy(t *testing.T) (*caddytest.Tester, *upstream, *standin.API) {
	api := standin.New()
	api.SetPayPalClient("e2e-client", "e2e-client-secret")
	apiServer := httptest.NewServer(api)
	t.Cleanup(apiServer.Close)
	up := newUpstream(t)
	t.Setenv("PAYNOTIFY_E2E_PAYPAL_SECRET", "e2e-client-secret")
	tc := caddytest.NewTester(t)
	initServer(tc, globalOptions+strings.NewReplacer("UPSTREAM", strings.TrimPrefix(up.URL, "http://"),
		"INQUIRE", apiServer.URL, "STORE", "store bolt "+filepath.Join(t.TempDir(), "dedup.db")).Replace(`
http://localhost:9080 {
	handle /paypal {
		paynotify paypal {
			webhook_id `+paypalE2EWebhook+`
			client_id e2e-client
			client_secret {env.PAYNOTIFY_E2E_PAYPAL_SECRET}
			inquire INQUIRE/paypal
			STORE
		}
		reverse_proxy UPSTREAM
	}
}
`), "caddyfile")
	return tc, up, api
}

func paypalE2EBody(id, order string) string {
	return `{"id":"` + id + `","event_version":"1.0","create_time":"2024-05-01T10:20:29.613Z","resource_type":"capture",` +
		`"event_type":"PAYMENT.CAPTURE.COMPLETED","summary":"Payment completed for $ 10.50 USD",` +
		`"resource":{"id":"CAP-` + order + `","status":"COMPLETED","amount":{"currency_code":"USD","value":"10.50"},` +
		`"invoice_id":"` + order + `","supplementary_data":{"related_ids":{"order_id":"5O190127TN364715T"}}}}`
}

// paypalE2ERequest is body as PayPal sends it, signed by api's key.
func paypalE2ERequest(t *testing.T, api *standin.API, body string) *http.Request {
	req, err := http.NewRequest(http.MethodPost, "http://localhost:9080/paypal", strings.NewReader(body))
	require.NoError(t, err)
	req.Header = api.SignPayPalWebhook(paypalE2EWebhook, []byte(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "PayPal/AUHD-214.0-58184601")
	return req
}

// TestPayPalInquiryEndToEnd: a genuine webhook is delivered once, with
// PayPal's ACK (an empty 200), after one verify call; its retry is
// acknowledged without a call; while the API fails, a new event gets 503
// with Retry-After and nothing is forwarded, and its retry once the API
// recovered is delivered once.
func TestPayPalInquiryEndToEnd(t *testing.T) {
	tc, up, api := startPayPalCaddy(t)

	genuine := paypalE2EBody("WH-E2E-1", "ORD-E2E-1")
	r := send(t, tc, paypalE2ERequest(t, api, genuine))
	require.Equal(t, http.StatusOK, r.Status)
	assert.Empty(t, r.Body)
	assertNoAppLeak(t, r)
	got := up.take()
	require.Len(t, got, 1)
	var event map[string]any
	require.NoError(t, json.Unmarshal(got[0].Body, &event))
	assert.Equal(t, "WH-E2E-1", event["id"])
	assert.Equal(t, "succeeded", event["status"])
	assert.Equal(t, "ORD-E2E-1", event["order_id"])
	assert.Equal(t, "10.50", event["amount"])
	for _, name := range []string{"Paypal-Transmission-Sig", "Paypal-Transmission-Id", "Paypal-Cert-Url", "Paypal-Auth-Algo", "Paypal-Transmission-Time"} {
		assert.Empty(t, got[0].Header.Get(name), "%s forwarded with a normalized event", name)
	}
	assert.Equal(t, 1, api.Calls("paypal_verify"))
	assert.Equal(t, 1, api.Calls("paypal_token"))

	// PayPal's retry (a new transmission of the same event): ACK, no call.
	r = send(t, tc, paypalE2ERequest(t, api, genuine))
	assert.Equal(t, http.StatusOK, r.Status)
	assert.Empty(t, up.take(), "a retry reached the app")
	assert.Equal(t, 1, api.Calls("paypal_verify"), "a delivered duplicate was asked about")

	// The API fails: 503 with Retry-After, nothing forwarded.
	next := paypalE2EBody("WH-E2E-2", "ORD-E2E-2")
	for _, fault := range []standin.Fault{standin.ServerError, standin.ErrorCode, standin.Garbage, standin.Drop} {
		api.SetFault(fault)
		r = send(t, tc, paypalE2ERequest(t, api, next))
		assert.Equal(t, http.StatusServiceUnavailable, r.Status, fault.String())
		assert.NotEmpty(t, r.Header.Get("Retry-After"), fault.String())
		assert.Empty(t, r.Body)
		assert.Empty(t, up.take(), "forwarded while PayPal's API failed (%s)", fault)
	}

	// It recovers: the retry is delivered once.
	api.SetFault(standin.None)
	r = send(t, tc, paypalE2ERequest(t, api, next))
	assert.Equal(t, http.StatusOK, r.Status)
	got = up.take()
	require.Len(t, got, 1)
	require.NoError(t, json.Unmarshal(got[0].Body, &event))
	assert.Equal(t, "WH-E2E-2", event["id"])
	r = send(t, tc, paypalE2ERequest(t, api, next))
	assert.Equal(t, http.StatusOK, r.Status)
	assert.Empty(t, up.take())

	// A forged event under the same webhook: refused by PayPal, not forwarded.
	forged := paypalE2ERequest(t, api, paypalE2EBody("WH-E2E-3", "ORD-E2E-3"))
	setBody(forged, strings.Replace(paypalE2EBody("WH-E2E-3", "ORD-E2E-3"), "10.50", "1050.00", 1))
	r = send(t, tc, forged)
	assert.Equal(t, http.StatusUnauthorized, r.Status)
	assert.Empty(t, up.take())
	assert.Equal(t, 1, api.Calls("paypal_token"), "one token for every call so far")

	// The token is revoked: one new token, and the notification passes.
	api.RevokePayPalTokens()
	r = send(t, tc, paypalE2ERequest(t, api, paypalE2EBody("WH-E2E-4", "ORD-E2E-4")))
	assert.Equal(t, http.StatusOK, r.Status)
	assert.Len(t, up.take(), 1)
	assert.Equal(t, 2, api.Calls("paypal_token"))
}

// TestPayPalBurstFetchesOneToken: 20 webhooks arriving together through
// Caddy cost one token fetch and are each delivered once.
func TestPayPalBurstFetchesOneToken(t *testing.T) {
	tc, up, api := startPayPalCaddy(t)
	var wg sync.WaitGroup
	start := make(chan struct{}) // signed first, then sent together
	for i := range 20 {
		id := "WH-BURST-" + string(rune('A'+i))
		req := paypalE2ERequest(t, api, paypalE2EBody(id, "ORD-"+id))
		wg.Go(func() {
			<-start
			res, err := tc.Client.Do(req)
			if assert.NoError(t, err) {
				res.Body.Close()
				assert.Equal(t, http.StatusOK, res.StatusCode)
			}
		})
	}
	close(start)
	wg.Wait()
	assert.Len(t, up.take(), 20)
	assert.Equal(t, 1, api.Calls("paypal_token"))
	assert.Equal(t, 20, api.Calls("paypal_verify"))
}
