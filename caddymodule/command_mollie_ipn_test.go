package caddymodule

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/paynotify/paynotify/internal/standin"
	"github.com/paynotify/paynotify/verifiers"
)

// TestSignMollie: caddy paynotify sign mollie builds the webhook of the
// payment tr_<order's letters and digits>, signed with --secret; the
// verifier, asking a stand-in Mollie that knows the payment, delivers
// Mollie's event. A payment Mollie does not know is refused.
func TestSignMollie(t *testing.T) {
	api := standin.New()
	srv := httptest.NewServer(api)
	defer srv.Close()
	api.AddMolliePayment("test_sign_key", standin.MolliePayment{ID: "tr_ORD77", Status: "paid", Value: "10.00",
		Currency: "EUR", Metadata: map[string]any{"order_id": "ORD-77"}})
	api.AddMolliePayment("test_sign_key", standin.MolliePayment{ID: "tr_Failed1", Status: "failed", Value: "3.00",
		Currency: "EUR", Metadata: map[string]any{"order_id": "ORD-78"}})
	cfg, _ := json.Marshal(map[string]any{"api_key": "test_sign_key", "secrets": []string{"s3cret"}, "inquire": srv.URL + "/mollie"})
	p := newProvider(t, "mollie", string(cfg))

	for _, c := range []struct {
		args  []string
		order string
		want  verifiers.Status
	}{
		{nil, "ORD-77", verifiers.StatusSucceeded},
		{[]string{"--field", "id=tr_Failed1"}, "ORD-78", verifiers.StatusFailed},
	} {
		args := append([]string{"sign", "mollie", "--secret", "s3cret", "--option", "api_key unused_by_the_signer",
			"--order", "ORD-77", "--url", p.URL + "/notify"}, c.args...)
		stdout, stderr, err := run(t, args...)
		require.NoError(t, err, stdout+stderr)
		assert.Contains(t, stderr, "acknowledged")
		events := p.take()
		require.Len(t, events, 1)
		assert.Equal(t, c.order, events[0].OrderID)
		assert.Equal(t, c.want, events[0].Status)
	}

	_, stderr, err := run(t, "sign", "mollie", "--secret", "s3cret", "--option", "api_key x", "--order", "ORD-99", "--url", p.URL+"/notify")
	assert.Error(t, err, "a payment Mollie does not know")
	assert.Contains(t, stderr, "401")
	_, _, err = run(t, "sign", "mollie", "--secret", "guess", "--option", "api_key x", "--order", "ORD-77", "--url", p.URL+"/notify")
	assert.Error(t, err, "signed with a secret the route does not have")
	assert.Empty(t, p.take())
}

// TestSignPayPalIPN: caddy paynotify sign paypal_ipn builds an IPN to the
// --option receiver; the stand-in PayPal knows what was sent (as PayPal
// does), and the verifier delivers it. An IPN to another receiver is 403.
func TestSignPayPalIPN(t *testing.T) {
	api := standin.New()
	srv := httptest.NewServer(api)
	defer srv.Close()
	v, err := verifiers.LookupProvider("paypal_ipn")
	require.NoError(t, err)
	cfg, _ := json.Marshal(map[string]any{"receivers": []string{"merchant@example.com"}, "inquire": srv.URL + "/paypal/cgi-bin/webscr"})
	require.NoError(t, json.Unmarshal(cfg, v))
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	require.NoError(t, v.Provision(ctx))
	var delivered []verifiers.Event
	paypal := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		api.AddPayPalIPN(body) // PayPal sent this one
		events, err := v.Verify(r.Context(), &verifiers.Request{Method: r.Method, Header: r.Header, Body: body,
			ClientIP: netip.MustParseAddr("127.0.0.1"), ReceivedAt: time.Now()})
		switch {
		case errors.Is(err, verifiers.ErrForbidden):
			w.WriteHeader(http.StatusForbidden)
		case err != nil:
			w.WriteHeader(http.StatusUnauthorized)
		default:
			delivered = append(delivered, events...)
		}
	}))
	defer paypal.Close()

	stdout, stderr, err := run(t, "sign", "paypal_ipn", "--option", "receiver merchant@example.com", "--order", "ORD-77",
		"--field", "payment_status=Refunded", "--field", "mc_gross=-10.50", "--url", paypal.URL+"/notify")
	require.NoError(t, err, stdout+stderr)
	assert.Contains(t, stderr, "acknowledged")
	require.Len(t, delivered, 1)
	assert.Equal(t, "ORD-77", delivered[0].OrderID)
	assert.Equal(t, verifiers.StatusRefunded, delivered[0].Status)
	assert.Equal(t, "10.50", delivered[0].Amount)
	assert.Equal(t, 1, api.Calls("paypal_ipn"))

	_, stderr, err = run(t, "sign", "paypal_ipn", "--option", "receiver someone@else.example", "--url", paypal.URL+"/notify")
	assert.Error(t, err)
	assert.Contains(t, stderr, "403")
	_, _, err = run(t, "sign", "paypal_ipn", "--secret", "s", "--option", "receiver merchant@example.com")
	assert.Error(t, err, "paypal_ipn has no secret")
}
