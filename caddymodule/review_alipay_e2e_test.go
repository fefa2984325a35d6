package caddymodule_test

// Adversarial review of the alipay provider (review-ali): end to end
// reproductions of defects; each test fails on the code as reviewed.

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddytest"
	"github.com/stretchr/testify/require"
)

func reviewAlipayServer(t *testing.T, forward string) (*caddytest.Tester, *upstream) {
	up := newUpstream(t)
	tc := caddytest.NewTester(t)
	initServer(tc, globalOptions+strings.NewReplacer("UPSTREAM", strings.TrimPrefix(up.URL, "http://"),
		"DB", filepath.Join(t.TempDir(), "dedup.db"), "FORWARD", forward).Replace(`
http://localhost:9080 {
	handle /notify/alipay {
		paynotify alipay {
			public_key {file.../testdata/alipay/keys/test.pub}
			app_id 2021004100000001
			forward FORWARD
			store bolt DB
		}
		reverse_proxy UPSTREAM
	}
}
`), "caddyfile")
	return tc, up
}

// TestReviewAlipayRefundReplayedUnderNewIDs: Alipay's genuine partial
// refund notification (golden refund_partial) is delivered once. A
// captured copy whose gmt_payment and gmt_refund are sent as one field
// named "gmt_payment=2024-05-01 18:20:28&gmt_refund" (and/or notify_type
// and out_biz_no as "notify_type=trade_status_sync&out_biz_no") keeps
// Alipay's signed text, hence its signature, but loses gmt_refund /
// out_biz_no, which the event id is made of: the same refund reaches the
// app again as a new "refunded" event, three more times. It must be
// refused (or be a duplicate).
func TestReviewAlipayRefundReplayedUnderNewIDs(t *testing.T) {
	tc, up := reviewAlipayServer(t, "normalized")
	notify := func(change func(string) string) reply {
		return send(t, tc, fromGolden("alipay/refund_partial", "/notify/alipay", func(_ *http.Request, body []byte) []byte {
			return []byte(change(string(body)))
		})(t))
	}
	same := func(s string) string { return s }
	mergeGmt := func(s string) string {
		const gp = "&gmt_payment=2024-05-01+18%3A20%3A28"
		require.Contains(t, s, gp)
		s = strings.Replace(s, gp, "", 1)
		return strings.Replace(s, "&gmt_refund=", "&gmt_payment%3D2024-05-01+18%3A20%3A28%26gmt_refund=", 1)
	}
	mergeBiz := func(s string) string {
		const nt = "&notify_type=trade_status_sync"
		require.Contains(t, s, nt)
		s = strings.Replace(s, nt, "", 1)
		return strings.Replace(s, "&out_biz_no=", "&notify_type%3Dtrade_status_sync%26out_biz_no=", 1)
	}

	r := notify(same)
	require.Equal(t, http.StatusOK, r.Status, r.Body)
	first := up.take()
	require.Len(t, first, 1)
	var e map[string]any
	require.NoError(t, json.Unmarshal(first[0].Body, &e))
	require.Equal(t, "refunded", e["status"])

	for name, change := range map[string]func(string) string{
		"gmt_refund merged into a name": mergeGmt,
		"out_biz_no merged into a name": mergeBiz,
		"both":                          func(s string) string { return mergeBiz(mergeGmt(s)) },
	} {
		r := notify(change)
		again := up.take()
		if len(again) > 0 {
			var e2 map[string]any
			require.NoError(t, json.Unmarshal(again[0].Body, &e2))
			t.Errorf("%s: the captured refund reached the app again (answer %d): status %v, amount %v, id %v (first delivery: id %v)",
				name, r.Status, e2["status"], e2["amount"], e2["id"], e["id"])
		}
	}
}

// TestReviewAlipayOriginalForwardsUnsignedEmptyParameter: an empty
// parameter is outside the signature, so anyone may add "refund_fee=" to a
// captured payment notification. The event ignores it, but with forward
// original the app gets the body as received: PHP's isset($_POST[
// 'refund_fee']), Python's 'refund_fee' in request.form, Java's
// containsKey("refund_fee") all say there is a refund_fee, and an app
// that verifies the signature itself with Alipay's Java SDK (rsaCheckV1
// signs empty parameters as k=) refuses it. Alipay itself never sends an
// empty parameter outside the signature. The app must not get parameters
// that were not signed.
func TestReviewAlipayOriginalForwardsUnsignedEmptyParameter(t *testing.T) {
	tc, up := reviewAlipayServer(t, "original")
	r := send(t, tc, fromGolden("alipay/success", "/notify/alipay", func(_ *http.Request, body []byte) []byte {
		return append(body, "&refund_fee=&gmt_refund=&out_biz_no="...)
	})(t))
	for _, got := range up.take() {
		if strings.Contains(string(got.Body), "refund_fee=") {
			t.Errorf("forward original: the app got unsigned parameters (answer %d): ...%s", r.Status, got.Body[len(got.Body)-40:])
		}
	}
}
