package caddymodule

import (
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSquareURLMismatchTellsTheOperatorToCheckURL: Square signs the URL it
// posts to. A url option that is not that URL (the one Caddy sees behind a
// proxy, say) fails every notification with 401; the log line says what
// to check, and carries neither the key nor the signature.
func TestSquareURLMismatchTellsTheOperatorToCheckURL(t *testing.T) {
	raw, err := json.Marshal(map[string]any{"name": "square", "secrets": []string{"square-test-signature-key"},
		"url": "http://localhost:9080/notify/square"}) // the golden requests are signed for https://shop.example/notify/square
	require.NoError(t, err)
	h := &Handler{ProviderRaw: raw, Dedup: "off"}
	logs := provisioned(t, h)
	called := false
	next := caddyhttp.HandlerFunc(func(http.ResponseWriter, *http.Request) error { called = true; return nil })

	_, _, err = serveGolden(t, h, "square/payment_completed", next)
	var he caddyhttp.HandlerError
	require.True(t, errors.As(err, &he))
	assert.Equal(t, http.StatusUnauthorized, he.StatusCode)
	assert.False(t, called)
	entries := logs.FilterMessage("notification").All()
	require.Len(t, entries, 1)
	fields := entries[0].ContextMap()
	assert.Equal(t, "invalid_signature", fields["outcome"])
	reason, _ := fields["reason"].(string)
	assert.Contains(t, reason, "url is not the exact notification URL of the subscription (behind a proxy the public URL differs from the one Caddy sees)")
	assert.NotContains(t, reason, "square-test-signature-key")
	golden, err := os.ReadFile("../testdata/square/payment_completed.http")
	require.NoError(t, err)
	_, sig, _ := strings.Cut(string(golden), "X-Square-HmacSha256-Signature: ")
	sig, _, _ = strings.Cut(sig, "\r\n")
	require.NotEmpty(t, sig)
	assert.NotContains(t, reason, sig, "the signature in the log")
}

// TestSignSimpleProviders: caddy paynotify sign builds a notification of
// razorpay, square and paystack that the verifier accepts, and the fields
// given on the command line are the event's. Square signs the url option
// (the public URL) and sends to --url.
func TestSignSimpleProviders(t *testing.T) {
	for _, c := range []struct {
		provider, cfg string
		args          []string
		want          map[string]string
	}{
		{"razorpay", `{"secrets":["s3cret"]}`, []string{"--field", "event=payment.failed"},
			map[string]string{"status": "failed", "amount": "500.00", "currency": "INR"}},
		{"square", `{"secrets":["s3cret"],"url":"https://shop.example/notify/square"}`,
			[]string{"--option", "url https://shop.example/notify/square", "--field", "data.object.payment.status=APPROVED"},
			map[string]string{"status": "authorized", "amount": "10.50", "currency": "USD"}},
		{"paystack", `{"secrets":["s3cret"]}`, []string{"--field", "data.currency=GHS"},
			map[string]string{"status": "succeeded", "amount": "100.00", "currency": "GHS"}},
	} {
		t.Run(c.provider, func(t *testing.T) {
			p := newProvider(t, c.provider, c.cfg)
			args := append([]string{"sign", c.provider, "--secret", "s3cret", "--order", "ORD-77", "--url", p.URL + "/notify"}, c.args...)
			stdout, stderr, err := run(t, args...)
			require.NoError(t, err, stdout+stderr)
			assert.Contains(t, stderr, "acknowledged")
			events := p.take()
			require.Len(t, events, 1)
			assert.Equal(t, "ORD-77", events[0].OrderID)
			e, _ := json.Marshal(events[0])
			var got map[string]any
			require.NoError(t, json.Unmarshal(e, &got))
			for k, v := range c.want {
				assert.Equal(t, v, got[k], k)
			}
		})
	}
	// Square without its url option cannot sign: the error names it.
	_, _, err := run(t, "sign", "square", "--secret", "s3cret")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "url")
}
