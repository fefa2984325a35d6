package caddymodule_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddytest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/paynotify/paynotify/internal/standin"
)

// TestReviewForgedIPNHoldsTheGenuineOut: paypal_ipn states its event id
// (txn_id + payment_status) from the unauthenticated body, and the handler
// claims it in the dedup store before the postback and holds the claim
// until PayPal answered. Anyone who knows a payment's txn_id (the buyer:
// it is on PayPal's receipt, and on the refund e-mail for a refund's)
// and the merchant's PayPal address can post a forged IPN with that
// txn_id and status; while its postback runs (up to inquiry_timeout),
// PayPal's genuine IPN is refused with 409. Repeated back to back, the
// forgeries keep the genuine IPN out at every re-post until PayPal gives
// up (about 15 tries over 4 days): the merchant never learns of the
// payment, refund or reversal. A forged copy must not keep a genuine one
// from being delivered; only a confirmed event should hold the claim.
func TestReviewForgedIPNHoldsTheGenuineOut(t *testing.T) {
	up := newUpstream(t)
	api := standin.New()
	genuineReq := golden(t, "paypal_ipn/completed", "/notify/paypal_ipn")
	genuine, err := io.ReadAll(genuineReq.Body)
	require.NoError(t, err)
	api.AddPayPalIPN(genuine)
	// PayPal's postback endpoint; the forged copy's answer takes a
	// couple of seconds (a big body, a busy PayPal: the forger picks).
	var forgedAsked atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if !bytes.Equal(body, append([]byte("cmd=_notify-validate&"), genuine...)) {
			forgedAsked.Add(1)
			time.Sleep(2 * time.Second)
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		api.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	tc := caddytest.NewTester(t)
	initServer(tc, globalOptions+strings.NewReplacer("UPSTREAM", strings.TrimPrefix(up.URL, "http://"),
		"API", srv.URL, "DB", filepath.Join(t.TempDir(), "dedup.db")).Replace(`
http://localhost:9080 {
	handle /notify/paypal_ipn {
		paynotify paypal_ipn {
			receiver merchant@shop.example
			inquire API/paypal/cgi-bin/webscr
			inquiry_timeout 5s
			store bolt DB
		}
		reverse_proxy UPSTREAM
	}
}
`), "caddyfile")

	// The forgery: the genuine IPN's txn_id and payment_status, another
	// amount (PayPal answers INVALID, after a while).
	forged := make(chan reply, 1)
	go func() { forged <- send(t, tc, golden(t, "paypal_ipn/tampered_amount", "/notify/paypal_ipn")) }()
	require.Eventually(t, func() bool { return forgedAsked.Load() == 1 }, 5*time.Second, 10*time.Millisecond)

	// PayPal's genuine IPN arrives meanwhile.
	r := send(t, tc, golden(t, "paypal_ipn/completed", "/notify/paypal_ipn"))
	assert.Equal(t, http.StatusOK, r.Status, "PayPal's genuine IPN is refused (%d) because a forged copy holds its event's claim", r.Status)
	assert.Len(t, up.take(), 1, "the genuine IPN is not delivered")
	assert.Equal(t, http.StatusUnauthorized, (<-forged).Status)
}
