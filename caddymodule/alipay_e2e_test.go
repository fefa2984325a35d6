package caddymodule_test

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddytest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestAlipayEndToEnd: Alipay's notifications (the golden requests, signed
// with the test key) through Caddy: a genuine one is delivered once and
// answered with exactly "success"; Alipay's resend of it, the same trade
// notified in another charset, and the same notification with empty
// parameters added are acknowledged and not delivered again; a partial
// refund is a new event; a tampered notification is 401 and a genuine one
// of another app 403, neither delivered.
func TestAlipayEndToEnd(t *testing.T) {
	up := newUpstream(t)
	tc := caddytest.NewTester(t)
	initServer(tc, globalOptions+strings.NewReplacer("UPSTREAM", strings.TrimPrefix(up.URL, "http://"),
		"DB", filepath.Join(t.TempDir(), "dedup.db")).Replace(`
http://localhost:9080 {
	handle /notify/alipay {
		paynotify alipay {
			public_key {file.../testdata/alipay/keys/old.pub} {file.../testdata/alipay/keys/test.pub}
			app_id 2021004100000001
			store bolt DB
		}
		reverse_proxy UPSTREAM
	}
}
`), "caddyfile")
	notify := func(name string) reply { return send(t, tc, golden(t, "alipay/"+name, "/notify/alipay")) }
	delivered := func() map[string]any {
		t.Helper()
		got := up.take()
		require.Len(t, got, 1, "delivered once")
		var e map[string]any
		require.NoError(t, json.Unmarshal(got[0].Body, &e))
		return e
	}
	acked := func(r reply) {
		t.Helper()
		assert.Equal(t, http.StatusOK, r.Status)
		assert.Equal(t, "success", r.Body, "Alipay's ACK: exactly success")
		assert.Equal(t, "text/plain; charset=utf-8", r.Header.Get("Content-Type"))
	}

	r := notify("tampered")
	assert.Equal(t, http.StatusUnauthorized, r.Status)
	assert.NotEqual(t, "success", r.Body)
	assert.Empty(t, up.take())
	assert.Equal(t, http.StatusForbidden, notify("other_app").Status)
	assert.Empty(t, up.take())

	// The merchant chose GBK: the event is in UTF-8.
	acked(notify("gbk"))
	e := delivered()
	assert.Equal(t, "alipay", e["provider"])
	assert.Equal(t, "succeeded", e["status"])
	assert.Equal(t, "ORD-20240501-0088", e["order_id"])
	assert.Equal(t, "88.88", e["amount"])
	assert.Equal(t, "CNY", e["currency"])
	assert.Equal(t, "2024-05-01T10:20:28Z", e["occurred_at"], "gmt_payment in China Standard Time, as UTC")
	assert.Equal(t, "语雀空间 500人规模", e["raw"].(map[string]any)["subject"])

	for _, again := range []string{"gbk", "success", "no_sign_type"} {
		acked(notify(again))
		assert.Empty(t, up.take(), "%s: the same event again reached the app", again)
	}

	acked(notify("refund_partial"))
	e = delivered()
	assert.Equal(t, "refunded", e["status"])
	assert.Equal(t, "TRADE_SUCCESS", e["provider_status"])
	assert.Equal(t, "20.00", e["amount"])
}
