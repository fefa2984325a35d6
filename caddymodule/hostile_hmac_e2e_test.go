package caddymodule_test

// The hostile cases of standardwebhooks and of the generic hmac provider in
// several configurations (Lemon Squeezy, GitHub-style, a base64 signature
// over a timestamp and the body, SHA-512, {url}); TestHMACProvidersEndToEnd
// checks that the same routes accept and forward what is genuine.

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddytest"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	hostileSWSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	hostileLSSecret = "lemon-test-signing-secret"
	hostileTSSecret = "timestamped-test-secret"
)

func init() {
	hostileRoutes = append(hostileRoutes, `
	handle /standardwebhooks {
		paynotify standardwebhooks {
			secret `+hostileSWSecret+`
			field order_id data.metadata.order_id
			field status type
			field amount data.total_amount
			field currency data.currency
			amount_unit minor
			status succeeded order.paid
			status refunded order.refunded
			STORE
		}
		reverse_proxy UPSTREAM
	}
	handle /hmac/ls {
		paynotify hmac {
			secret `+hostileLSSecret+`
			header X-Signature
			field order_id meta.custom_data.order_id
			field status data.attributes.status
			field amount data.attributes.total
			field currency data.attributes.currency
			amount_unit minor
			status succeeded paid
			status refunded refunded
			STORE
			dedup_scope hmac-ls
		}
		reverse_proxy UPSTREAM
	}
	handle /hmac/github {
		paynotify hmac {
			secret github-test-webhook-secret
			header X-Hub-Signature-256
			prefix sha256=
			event_id header:X-GitHub-Delivery
			STORE
			dedup_scope hmac-github
		}
		reverse_proxy UPSTREAM
	}
	handle /hmac/ts {
		paynotify hmac {
			secret `+hostileTSSecret+`
			header X-Webhook-Signature
			encoding base64
			signed {header.X-Timestamp}.{body}
			timestamp X-Timestamp 5m
			event_id id
			field order_id payment.reference
			field status type
			status succeeded payment.succeeded
			STORE
			dedup_scope hmac-ts
		}
		reverse_proxy UPSTREAM
	}
	handle /hmac/sha512 {
		paynotify hmac {
			secret sk_test_paystack_secret_key
			header X-Paystack-Signature
			algorithm sha512
			STORE
			dedup_scope hmac-sha512
		}
		reverse_proxy UPSTREAM
	}
	handle /hmac/url {
		paynotify hmac {
			secret square-test-signature-key
			header X-Square-HmacSha256-Signature
			encoding base64
			signed {url}{body}
			STORE
			dedup_scope hmac-url
		}
		reverse_proxy UPSTREAM
	}
`)
	hostileCatalogue = append(hostileCatalogue, standardWebhooksHostile...)
	hostileCatalogue = append(hostileCatalogue, hmacHostile...)
}

const (
	swValid = `{"type":"order.paid","data":{"id":"ord_h","total_amount":1050,"currency":"usd","metadata":{"order_id":"ORD-H"}}}`
	lsValid = `{"meta":{"event_name":"order_created","custom_data":{"order_id":"ORD-H"}},"data":{"id":"1","attributes":{"status":"paid","total":1050,"currency":"USD"}}}`
	tsValid = `{"id":"evt_h","type":"payment.succeeded","payment":{"reference":"ORD-H"}}`
)

// signedSW is a Standard Webhooks notification signed by the spec's own Go
// library with key, at the time at; change runs after signing.
func signedSW(id, body string, at time.Duration, key string, change func(*http.Request)) func(t *testing.T) *http.Request {
	return func(t *testing.T) *http.Request {
		lib, err := standardwebhooks.NewWebhook(key)
		require.NoError(t, err)
		now := time.Now().Add(at)
		sig, err := lib.Sign(id, now, []byte(body))
		require.NoError(t, err)
		req, err := http.NewRequest(http.MethodPost, "http://localhost:9080/standardwebhooks", strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("webhook-id", id)
		req.Header.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
		req.Header.Set("webhook-signature", sig)
		if change != nil {
			change(req)
		}
		return req
	}
}

func sw(body string, change func(*http.Request)) func(t *testing.T) *http.Request {
	return signedSW("msg_hostile", body, 0, hostileSWSecret, change)
}

// signedLS is a Lemon Squeezy webhook: X-Signature, hex HMAC-SHA256 of the body.
func signedLS(body string, change func(*http.Request)) func(t *testing.T) *http.Request {
	return func(t *testing.T) *http.Request {
		mac := hmac.New(sha256.New, []byte(hostileLSSecret))
		mac.Write([]byte(body))
		req, err := http.NewRequest(http.MethodPost, "http://localhost:9080/hmac/ls", strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Signature", hex.EncodeToString(mac.Sum(nil)))
		if change != nil {
			change(req)
		}
		return req
	}
}

// signedTS is signed base64 over "<X-Timestamp>.<body>" at now+at.
func signedTS(body string, at time.Duration, change func(*http.Request)) func(t *testing.T) *http.Request {
	return func(t *testing.T) *http.Request {
		ts := strconv.FormatInt(time.Now().Add(at).Unix(), 10)
		mac := hmac.New(sha256.New, []byte(hostileTSSecret))
		mac.Write([]byte(ts + "." + body))
		req, err := http.NewRequest(http.MethodPost, "http://localhost:9080/hmac/ts", strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Timestamp", ts)
		req.Header.Set("X-Webhook-Signature", base64.StdEncoding.EncodeToString(mac.Sum(nil)))
		if change != nil {
			change(req)
		}
		return req
	}
}

// signedURL is Square's scheme: base64 HMAC-SHA256 over url + body.
func signedURL(signedFor, sentTo, body string) func(t *testing.T) *http.Request {
	return func(t *testing.T) *http.Request {
		mac := hmac.New(sha256.New, []byte("square-test-signature-key"))
		mac.Write([]byte(signedFor + body))
		req, err := http.NewRequest(http.MethodPost, sentTo, strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Square-HmacSha256-Signature", base64.StdEncoding.EncodeToString(mac.Sum(nil)))
		return req
	}
}

func setHeader(name, value string) func(*http.Request) {
	return func(r *http.Request) { r.Header.Set(name, value) }
}

var standardWebhooksHostile = []hostile{
	{"standardwebhooks tampered body", sw(swValid, func(r *http.Request) {
		tampered := strings.Replace(swValid, "1050", "9050", 1)
		r.Body, r.ContentLength = io.NopCloser(strings.NewReader(tampered)), int64(len(tampered))
	}), 401},
	{"standardwebhooks wrong secret", signedSW("msg_hostile", swValid, 0, "whsec_"+base64.StdEncoding.EncodeToString([]byte("not-the-secret-at-all-!!")), nil), 401},
	{"standardwebhooks signature missing", sw(swValid, func(r *http.Request) { r.Header.Del("webhook-signature") }), 401},
	{"standardwebhooks signature empty", sw(swValid, setHeader("webhook-signature", "")), 401},
	{"standardwebhooks signature not base64", sw(swValid, setHeader("webhook-signature", "v1,not base64!")), 401},
	{"standardwebhooks signature in hex", sw(swValid, setHeader("webhook-signature", "v1,"+strings.Repeat("ab", 32))), 401},
	{"standardwebhooks only a v1a signature", sw(swValid, func(r *http.Request) {
		r.Header.Set("webhook-signature", strings.Replace(r.Header.Get("webhook-signature"), "v1,", "v1a,", 1))
	}), 401},
	{"standardwebhooks version in upper case", sw(swValid, func(r *http.Request) {
		r.Header.Set("webhook-signature", strings.Replace(r.Header.Get("webhook-signature"), "v1,", "V1,", 1))
	}), 401},
	{"standardwebhooks space after the comma", sw(swValid, func(r *http.Request) {
		r.Header.Set("webhook-signature", strings.Replace(r.Header.Get("webhook-signature"), "v1,", "v1, ", 1))
	}), 401},
	{"standardwebhooks signature header twice", sw(swValid, func(r *http.Request) {
		r.Header.Add("webhook-signature", "v1a,x")
	}), 401},
	{"standardwebhooks id missing", sw(swValid, func(r *http.Request) { r.Header.Del("webhook-id") }), 401},
	{"standardwebhooks id with a dot, signed", signedSW("msg_1.2", swValid, 0, hostileSWSecret, nil), 401},
	{"standardwebhooks id changed after signing", sw(swValid, setHeader("webhook-id", "msg_other")), 401},
	{"standardwebhooks svix-id disagreeing with webhook-id", sw(swValid, setHeader("svix-id", "msg_other")), 401},
	{"standardwebhooks timestamp too old, signed", signedSW("msg_old", swValid, -6*time.Minute, hostileSWSecret, nil), 401},
	{"standardwebhooks timestamp in the future, signed", signedSW("msg_future", swValid, 6*time.Minute, hostileSWSecret, nil), 401},
	{"standardwebhooks timestamp not digits", sw(swValid, func(r *http.Request) {
		r.Header.Set("webhook-timestamp", r.Header.Get("webhook-timestamp")+".0")
	}), 401},
	{"standardwebhooks duplicate JSON key, signed", sw(`{"type":"order.refunded","type":"order.paid","data":{"metadata":{"order_id":"o"}}}`, nil), 400},
	{"standardwebhooks JSON keys differing in case, signed", sw(`{"type":"order.refunded","Type":"order.paid","data":{"metadata":{"order_id":"o"}}}`, nil), 400},
	{"standardwebhooks invalid UTF-8, signed", sw("{\"type\":\"order.paid\",\"data\":{\"metadata\":{\"order_id\":\"o\xff\"}}}", nil), 400},
	{"standardwebhooks JSON array, signed", sw(`[`+swValid+`]`, nil), 400},
	{"standardwebhooks order missing from a paid order, signed", sw(`{"type":"order.paid","data":{"id":"ord_h","metadata":{}}}`, nil), 400},
	{"standardwebhooks type missing, signed", sw(`{"data":{"id":"ord_h","metadata":{"order_id":"o"}}}`, nil), 400},
	{"standardwebhooks form content type, signed", sw(swValid, setHeader("Content-Type", "application/x-www-form-urlencoded")), 400},
	{"standardwebhooks PUT", sw(swValid, func(r *http.Request) { r.Method = http.MethodPut }), 405},
	{"standardwebhooks header of 2 MB", sw(swValid, setHeader("X-Padding", strings.Repeat("a", 2<<20))), 431},
}

var hmacHostile = []hostile{
	// Lemon Squeezy: hex of the body.
	{"hmac tampered body", fromGolden("hmac/lemonsqueezy_tampered", "/hmac/ls", nil), 401},
	{"hmac wrong secret", fromGolden("hmac/lemonsqueezy_wrong_secret", "/hmac/ls", nil), 401},
	{"hmac signature missing", fromGolden("hmac/lemonsqueezy_unsigned", "/hmac/ls", nil), 401},
	{"hmac signature empty", signedLS(lsValid, setHeader("X-Signature", "")), 401},
	{"hmac signature not hex", signedLS(lsValid, setHeader("X-Signature", strings.Repeat("zz", 32))), 401},
	{"hmac base64 where hex is configured", fromGolden("hmac/lemonsqueezy_base64_signature", "/hmac/ls", nil), 401},
	{"hmac signature truncated", fromGolden("hmac/lemonsqueezy_truncated_signature", "/hmac/ls", nil), 401},
	{"hmac signature with a space inside", signedLS(lsValid, func(r *http.Request) {
		s := r.Header.Get("X-Signature")
		r.Header.Set("X-Signature", s[:10]+" "+s[10:])
	}), 401},
	{"hmac signature header twice", signedLS(lsValid, func(r *http.Request) { r.Header.Add("X-Signature", r.Header.Get("X-Signature")) }), 401},
	{"hmac duplicate JSON key, signed", signedLS(`{"meta":{"custom_data":{"order_id":"o"}},"data":{"attributes":{"status":"failed","status":"paid"}}}`, nil), 400},
	{"hmac JSON keys differing in case, signed", signedLS(`{"meta":{"custom_data":{"order_id":"o"}},"data":{"attributes":{"status":"failed","Status":"paid"}}}`, nil), 400},
	{"hmac invalid UTF-8, signed", signedLS("{\"meta\":{\"custom_data\":{\"order_id\":\"o\xff\"}},\"data\":{\"attributes\":{\"status\":\"paid\"}}}", nil), 400},
	{"hmac order missing from a paid order, signed", signedLS(`{"meta":{},"data":{"attributes":{"status":"paid","total":1,"currency":"USD"}}}`, nil), 400},
	{"hmac status missing, signed", signedLS(`{"meta":{"custom_data":{"order_id":"o"}},"data":{"attributes":{}}}`, nil), 400},
	{"hmac fractional minor amount, signed", signedLS(strings.Replace(lsValid, "1050", "10.5", 1), nil), 400},
	{"hmac text/plain content type, signed", signedLS(lsValid, setHeader("Content-Type", "text/plain")), 400},
	{"hmac query shadowing a body member", signedLS(lsValid, func(r *http.Request) { r.URL.RawQuery = "meta=x" }), 400},
	{"hmac GET", signedLS(lsValid, func(r *http.Request) { r.Method = http.MethodGet }), 405},
	{"hmac header of 2 MB", signedLS(lsValid, setHeader("X-Padding", strings.Repeat("a", 2<<20))), 431},
	// GitHub-style: sha256= prefix, id from X-GitHub-Delivery.
	{"hmac GitHub-style without the prefix", fromGolden("hmac/github_no_prefix", "/hmac/github", nil), 401},
	{"hmac GitHub-style prefix in upper case", fromGolden("hmac/github_uppercase_prefix", "/hmac/github", nil), 401},
	{"hmac GitHub-style sha1= only", fromGolden("hmac/github_sha1_prefix", "/hmac/github", nil), 401},
	{"hmac GitHub-style delivery id missing, signed", fromGolden("hmac/github_no_delivery", "/hmac/github", nil), 400},
	// base64 over {header.X-Timestamp}.{body}, within 5m.
	{"hmac timestamp too old, signed", signedTS(tsValid, -6*time.Minute, nil), 401},
	{"hmac timestamp in the future, signed", signedTS(tsValid, 6*time.Minute, nil), 401},
	{"hmac timestamp header missing", signedTS(tsValid, 0, func(r *http.Request) { r.Header.Del("X-Timestamp") }), 401},
	{"hmac timestamp changed after signing", signedTS(tsValid, 0, func(r *http.Request) {
		ts, _ := strconv.ParseInt(r.Header.Get("X-Timestamp"), 10, 64)
		r.Header.Set("X-Timestamp", strconv.FormatInt(ts-1, 10))
	}), 401},
	{"hmac base64 signature unpadded", signedTS(tsValid, 0, func(r *http.Request) {
		r.Header.Set("X-Webhook-Signature", strings.TrimRight(r.Header.Get("X-Webhook-Signature"), "="))
	}), 401},
	// SHA-512, and {url}.
	{"hmac SHA-256 where SHA-512 is configured", fromGolden("hmac/lemonsqueezy_order_paid", "/hmac/sha512", func(r *http.Request, b []byte) []byte {
		r.Header.Set("X-Paystack-Signature", r.Header.Get("X-Signature"))
		return b
	}), 401},
	{"hmac signed for another URL", signedURL("http://localhost:9080/hmac/other", "http://localhost:9080/hmac/url", `{"a":1}`), 401},
	{"hmac signed without the query it was sent with", signedURL("http://localhost:9080/hmac/url", "http://localhost:9080/hmac/url?x=1", `{"a":1}`), 401},
}

// TestHMACProvidersEndToEnd: on the hostile catalogue's routes, genuine
// notifications are forwarded once and acknowledged with an empty 200, a
// retry of the same event is acknowledged without being forwarded again,
// and the normalized event carries what the mapping says.
func TestHMACProvidersEndToEnd(t *testing.T) {
	up := newUpstream(t)
	tc := caddytest.NewTester(t)
	initServer(tc, hostileCaddyfile(strings.TrimPrefix(up.URL, "http://"), "store bolt "+filepath.Join(t.TempDir(), "dedup.db"), startHostileAPI(t)), "caddyfile")

	for _, c := range []struct {
		name  string
		build func(t *testing.T) *http.Request
		want  map[string]any
	}{
		{"standardwebhooks", sw(swValid, nil), map[string]any{"id": "msg_hostile", "status": "succeeded", "order_id": "ORD-H", "amount": "10.50", "currency": "USD"}},
		{"standardwebhooks svix headers", signedSW("msg_svix", swValid, 0, hostileSWSecret, func(r *http.Request) {
			for _, h := range []string{"id", "timestamp", "signature"} {
				r.Header.Set("svix-"+h, r.Header.Get("webhook-"+h))
				r.Header.Del("webhook-" + h)
			}
		}), map[string]any{"id": "msg_svix", "status": "succeeded"}},
		{"lemonsqueezy", signedLS(lsValid, nil), map[string]any{"status": "succeeded", "order_id": "ORD-H", "amount": "10.50"}},
		{"github", fromGolden("hmac/github_sponsorship", "/hmac/github", nil), map[string]any{"id": "72d3162e-cc78-11e3-81ab-4c9367dc0958", "status": "unknown"}},
		{"timestamped", signedTS(tsValid, 0, nil), map[string]any{"id": "evt_h", "status": "succeeded", "order_id": "ORD-H"}},
		{"sha512", fromGolden("hmac/sha512_charge_success", "/hmac/sha512", nil), map[string]any{"status": "unknown"}},
		{"url with its query", signedURL("http://localhost:9080/hmac/url?shop=1", "http://localhost:9080/hmac/url?shop=1", `{"a":1}`), map[string]any{"status": "unknown"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := send(t, tc, c.build(t))
			require.Equal(t, http.StatusOK, r.Status, r.Body)
			assert.Empty(t, r.Body)
			got := up.take()
			require.Len(t, got, 1)
			var event map[string]any
			require.NoError(t, json.Unmarshal(got[0].Body, &event))
			for k, v := range c.want {
				assert.Equal(t, v, event[k], k)
			}
			assert.Empty(t, got[0].Header.Get("Webhook-Signature"), "the signature does not sign the normalized event")
			assert.Empty(t, got[0].Header.Get("X-Signature"))

			r = send(t, tc, c.build(t))
			assert.Equal(t, http.StatusOK, r.Status, "a retry is acknowledged")
			assert.Empty(t, up.take(), "and not forwarded again")
		})
	}
}
