package caddymodule

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/paynotify/paynotify/verifiers"
)

func TestUnmarshalCaddyfileHMACAndStandardWebhooks(t *testing.T) {
	var h Handler
	require.NoError(t, h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(`paynotify hmac {
		secret {env.SENDER_SECRET} old
		header X-Webhook-Signature
		algorithm sha512
		encoding base64
		prefix v1=
		signed {header.X-Timestamp}.{body}
		timestamp X-Timestamp 2m
		event_id header:X-Event-Id
		field order_id data.metadata.order_id
		field status type
		status succeeded payment.paid payment.settled
		status failed payment.failed
		status succeeded payment.captured
		amount_unit minor
	}`)))
	assert.JSONEq(t, `{"name":"hmac","secrets":["{env.SENDER_SECRET}","old"],"header":"X-Webhook-Signature",
		"algorithm":"sha512","encoding":"base64","prefix":"v1=","signed":"{header.X-Timestamp}.{body}",
		"timestamp_header":"X-Timestamp","tolerance":120000000000,"event_id":"header:X-Event-Id",
		"fields":{"order_id":"data.metadata.order_id","status":"type"},
		"statuses":{"succeeded":["payment.paid","payment.settled","payment.captured"],"failed":["payment.failed"]},
		"amount_unit":"minor"}`, string(h.ProviderRaw))

	h = Handler{}
	require.NoError(t, h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(`paynotify standardwebhooks {
		secret polar_whs_abc
		secret_encoding raw
		tolerance 10m
		field order_id data.metadata.order_id
	}`)))
	assert.JSONEq(t, `{"name":"standardwebhooks","secrets":["polar_whs_abc"],"secret_encoding":"raw",
		"tolerance":600000000000,"fields":{"order_id":"data.metadata.order_id"}}`, string(h.ProviderRaw))
}

// TestHMACCaddyfileErrors: every configuration error of hmac and
// standardwebhooks is reported by the Caddyfile parser with its line.
func TestHMACCaddyfileErrors(t *testing.T) {
	const hmacHead = "paynotify hmac {\n secret s3cr3t\n header X-Sig\n" // lines 1-3
	cases := []struct{ input, want string }{
		{"paynotify hmac {\n secret s3cr3t\n}", `paynotify hmac: header: required for provider "hmac": the request header that carries the signature, at Testfile:1`},
		{"paynotify hmac {\n header X-Sig\n}", `paynotify hmac: secret: required for provider "hmac"`},
		{hmacHead + " algorithm md5\n}", `paynotify hmac: algorithm: "md5" is not sha256, sha1 or sha512, at Testfile:4`},
		{hmacHead + " encoding base32\n}", `paynotify hmac: encoding: "base32" is not hex or base64, at Testfile:4`},
		{"paynotify hmac {\n secret s3cr3t\n header X:Sig\n}", `paynotify hmac: header: "X:Sig" is not a header name, at Testfile:3`},
		{hmacHead + " signed {ts}.{body}\n}", "paynotify hmac: signed: unknown placeholder {ts}: the placeholders are {body}, {url} and {header.<Name>}, at Testfile:4"},
		{hmacHead + " signed {header.X-Timestamp}\n}", "signed: the template must contain {body}: otherwise the body is not authenticated, at Testfile:4"},
		{hmacHead + " signed {header.X-Sig}{body}\n}", "signed: signs header X-Sig, which carries the signature, at Testfile:4"},
		{hmacHead + "\n timestamp X-Ts\n}", "timestamp: header X-Ts is not signed: add {header.X-Ts} to signed, at Testfile:5"},
		{hmacHead + " signed {header.X-Ts}{body}\n timestamp X-Ts soon\n}", `timestamp: "soon" is not a positive duration such as 5m, at Testfile:5`},
		{hmacHead + " timestamp\n}", "timestamp takes a header name and an optional tolerance such as 5m, at Testfile:4"},
		{hmacHead + " field reference a.b\n}", `field: "reference" is not one of order_id, transaction_id, status, amount, currency, occurred_at, at Testfile:4`},
		{hmacHead + " field order_id\n}", "field needs a member"},
		{hmacHead + " field order_id a..b\n}", `field order_id: path "a..b" has an empty segment, at Testfile:4`},
		{hmacHead + " field order_id a\n field order_id b\n}", "field order_id given twice, at Testfile:5"},
		{hmacHead + " field status type\n field order_id o\n status paid x\n}", `status: "paid" is not a paynotify.v1 status (pending, authorized, succeeded, failed, cancelled, refunded, expired, disputed, unknown), at Testfile:6`},
		{hmacHead + " field status type\n field order_id o\n status succeeded paid\n status failed x paid\n}", `status: value "paid" is listed under both failed and succeeded, at Testfile:7`},
		{hmacHead + " status succeeded\n}", "status needs a status and at least one value, e.g. status succeeded paid, at Testfile:4"},
		{hmacHead + " field order_id o\n\n status succeeded paid\n}", "paynotify hmac: status: status lines map the value found by field status <path>: add that line, at Testfile:6"},
		{hmacHead + " field status type\n status succeeded paid\n}", "status: a mapped status is a payment event, which needs its order: add field order_id <path>, at Testfile:5"},
		{hmacHead + " event_id header:\n}", "event_id: header: needs a header name, e.g. header:X-Event-Id, at Testfile:4"},
		{hmacHead + " event_id header:X-Sig\n}", "event_id: the signature header is not an event id, at Testfile:4"},
		{hmacHead + " event_id data..id\n}", `event_id: path "data..id" has an empty segment (or header:<Name>), at Testfile:4`},
		{hmacHead + " amount_unit cents\n}", `amount_unit: "cents" is not major or minor, at Testfile:4`},
		{hmacHead + " secret_encoding raw\n}", `secret_encoding: does not apply to provider "hmac"`},
		{"paynotify standardwebhooks {\n secret whsec_s3cr3t!\n}", "paynotify standardwebhooks: secret: secret 1 is not whsec_ followed by standard base64 (for a sender that signs with the secret's own bytes, set secret_encoding raw), at Testfile:2"},
		{"paynotify standardwebhooks {\n secret s3cr3t\n secret_encoding hex\n}", `secret_encoding: "hex" is not base64 or raw, at Testfile:3`},
		{"paynotify standardwebhooks {\n secret s3cr3t\n secret_encoding raw\n tolerance 0s\n}", `tolerance: "0s" is not a positive duration`},
		{"paynotify standardwebhooks {\n secret s3cr3t\n secret_encoding raw\n header X-Sig\n}", `header: does not apply to provider "standardwebhooks"`},
		{"paynotify standardwebhooks {\n secret s3cr3t\n secret_encoding raw\n status refunded a\n status refunded b\n status expired a\n}", `status: value "a" is listed under both expired and refunded, at Testfile:6`},
	}
	for _, tc := range cases {
		t.Run(tc.want, func(t *testing.T) {
			var h Handler
			err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tc.input))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.NotContains(t, err.Error(), "s3cr3t", "no secret in the message")
		})
	}
}

// TestHMACTemplateThroughCaddyfileAdapter: the Caddyfile adapter rewrites
// {header.X} into {http.request.header.X} before the directive sees it;
// the template means the same, and the config loads.
func TestHMACTemplateThroughCaddyfileAdapter(t *testing.T) {
	text := `http://localhost:9080 {
	paynotify hmac {
		secret s
		header X-Signature
		encoding base64
		signed {header.X-Timestamp}.{url}.{body}
		timestamp X-Timestamp
		dedup off
	}
	respond ok
}`
	cfgJSON, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(text), map[string]any{"filename": "Caddyfile"})
	require.NoError(t, err)
	assert.Contains(t, string(cfgJSON), `"signed":"{http.request.header.X-Timestamp}.{url}.{body}"`)
	var cfg caddy.Config
	require.NoError(t, json.Unmarshal(cfgJSON, &cfg))
	require.NoError(t, caddy.Validate(&cfg))

	_, _, err = caddyconfig.GetAdapter("caddyfile").Adapt([]byte(strings.Replace(text, "{url}", "{uri}", 1)), map[string]any{"filename": "Caddyfile"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "signed: unknown placeholder {http.request.uri}")
}

// TestSignHMACFromTheConfiguredOptions: caddy paynotify sign hmac builds,
// from the directive's options given as --option lines, a notification
// that the provider so configured accepts, here with every option that
// changes the signature, {url} included (verified as Caddy prepares a
// request, through its replacer).
func TestSignHMACFromTheConfiguredOptions(t *testing.T) {
	lines := []string{
		"header X-Webhook-Signature", "algorithm sha512", "encoding base64", "prefix v1=",
		"signed {header.X-Timestamp}.{url}.{body}", "timestamp X-Timestamp 1m", "event_id header:X-Event-Id",
		"field order_id data.order", "field status type", "field amount data.amount", "field currency data.currency",
		"status succeeded payment.paid", "status failed payment.failed", "amount_unit minor",
	}
	d := caddyfile.NewTestDispenser("paynotify hmac {\n secret s3cret\n " + strings.Join(lines, "\n ") + "\n}")
	var h Handler
	require.NoError(t, h.UnmarshalCaddyfile(d))
	var cfg json.RawMessage = h.ProviderRaw
	v, err := verifiers.LookupProvider("hmac")
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(cfg, v))
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	require.NoError(t, v.Provision(ctx))

	var mu sync.Mutex
	var got []verifiers.Event
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r = caddyhttp.PrepareRequest(r, caddy.NewReplacer(), w, nil)
		body, _ := io.ReadAll(r.Body)
		events, err := v.Verify(r.Context(), &verifiers.Request{Method: r.Method, Header: r.Header, RawQuery: r.URL.RawQuery,
			Body: body, ReceivedAt: time.Now()})
		if err != nil {
			t.Log(err)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		mu.Lock()
		got = append(got, events...)
		mu.Unlock()
	}))
	defer srv.Close()

	args := []string{"sign", "hmac", "--secret", "s3cret", "--order", "ORD-77", "--url", srv.URL + "/notify/hmac",
		"--field", "type=payment.failed"}
	for _, l := range lines {
		args = append(args, "--option", l)
	}
	stdout, stderr, err := run(t, args...)
	require.NoError(t, err, stdout+stderr)
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, got, 1)
	assert.Equal(t, "ORD-77", got[0].OrderID)
	assert.Equal(t, verifiers.StatusFailed, got[0].Status)
	assert.Equal(t, "10.50", got[0].Amount)
	assert.True(t, strings.HasPrefix(got[0].ID, "evt_"), "the id header the signer set")

	// The same notification printed as curl carries the prefix.
	stdout, _, err = run(t, append(args[:len(args):len(args)], "--curl")...)
	require.NoError(t, err)
	assert.Contains(t, stdout, "'X-Webhook-Signature: v1=")
	assert.Contains(t, stdout, "'X-Timestamp: ")

	// Without the signature options, the signature is another.
	stdout, stderr, err = run(t, "sign", "hmac", "--secret", "s3cret", "--url", srv.URL+"/notify/hmac",
		"--option", "header X-Webhook-Signature", "--option", "field order_id data.order")
	require.Error(t, err, stdout+stderr)
	assert.Contains(t, stdout, "401")
}
