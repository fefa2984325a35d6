package caddymodule

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/paynotify/paynotify/internal/standin"
)

// TestSignPayPal: caddy paynotify sign paypal builds the event with the
// five PAYPAL-* transmission headers. Only PayPal can sign them: the
// signature is a placeholder, so PayPal's verify API (here the stand-in)
// refuses it, and the command says that the reply is not the ACK. The
// client secret is never printed.
func TestSignPayPal(t *testing.T) {
	args := []string{"sign", "paypal", "--option", "webhook_id WH-SIGN", "--option", "client_id sign-client",
		"--option", "client_secret sign-client-secret", "--order", "ORD-77", "--field", "resource.amount.value=20.00"}

	var mu sync.Mutex
	var got *http.Request
	var body []byte
	recorder := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		got = r
		body, _ = io.ReadAll(r.Body)
	}))
	defer recorder.Close()
	stdout, stderr, err := run(t, append(args, "--url", recorder.URL+"/notify")...)
	require.NoError(t, err, stdout+stderr)
	assert.NotContains(t, stdout+stderr, "sign-client-secret")
	mu.Lock()
	defer mu.Unlock()
	require.NotNil(t, got)
	for _, h := range []string{"Paypal-Transmission-Id", "Paypal-Transmission-Time", "Paypal-Transmission-Sig", "Paypal-Auth-Algo"} {
		assert.NotEmpty(t, got.Header.Get(h), h)
	}
	assert.Equal(t, "SHA256withRSA", got.Header.Get("Paypal-Auth-Algo"))
	assert.True(t, strings.HasPrefix(got.Header.Get("Paypal-Cert-Url"), "https://api.sandbox.paypal.com/"))
	var event map[string]any
	require.NoError(t, json.Unmarshal(body, &event))
	assert.Equal(t, "PAYMENT.CAPTURE.COMPLETED", event["event_type"])
	assert.Equal(t, "ORD-77", event["resource"].(map[string]any)["invoice_id"])
	assert.Equal(t, "20.00", event["resource"].(map[string]any)["amount"].(map[string]any)["value"])

	// Against paynotify asking PayPal: the placeholder is refused.
	api := standin.New()
	api.SetPayPalClient("sign-client", "sign-client-secret")
	apiServer := httptest.NewServer(api)
	defer apiServer.Close()
	p := newProvider(t, "paypal", `{"webhook_id":"WH-SIGN","client_id":"sign-client","client_secret":"sign-client-secret","inquire":"`+
		apiServer.URL+`/paypal"}`)
	stdout, stderr, err = run(t, append(args, "--url", p.URL+"/notify")...)
	assert.Error(t, err)
	assert.Contains(t, stdout, "401")
	assert.Empty(t, p.take())
	assert.Equal(t, 1, api.Calls("paypal_verify"), "the placeholder reached PayPal's verify API")
	assert.NotContains(t, stdout+stderr, "sign-client-secret")

	// Without --url: the curl command carries the five headers.
	stdout, _, err = run(t, args...)
	require.NoError(t, err)
	for _, h := range []string{"Paypal-Transmission-Id", "Paypal-Transmission-Time", "Paypal-Transmission-Sig", "Paypal-Auth-Algo", "Paypal-Cert-Url"} {
		assert.Contains(t, stdout, h)
	}
}
