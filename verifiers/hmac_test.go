package verifiers

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"hash"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The hmac configurations of testdata/gen_golden_hmac.py.
var (
	// Lemon Squeezy: X-Signature, hex HMAC-SHA256 of the body.
	lsConfig = options{Secrets: []string{"lemon-test-signing-secret", "lemon-old-signing-secret"}, Extra: map[string]any{
		"header": "X-Signature",
		"fields": map[string]string{
			"status": "data.attributes.status", "order_id": "meta.custom_data.order_id", "transaction_id": "data.id",
			"amount": "data.attributes.total", "currency": "data.attributes.currency", "occurred_at": "data.attributes.created_at",
		},
		"statuses":    map[string][]string{"succeeded": {"paid"}, "refunded": {"refunded", "partial_refund"}, "pending": {"pending"}, "failed": {"failed"}},
		"amount_unit": "minor",
	}}
	// GitHub-style: X-Hub-Signature-256: sha256=<hex>, the id in X-GitHub-Delivery.
	ghConfig = options{Secrets: []string{"github-test-webhook-secret"}, Extra: map[string]any{
		"header": "X-Hub-Signature-256", "prefix": "sha256=", "event_id": "header:X-GitHub-Delivery",
	}}
	// base64 over {header.X-Timestamp}.{body}, X-Timestamp within 5m.
	tsConfig = options{Secrets: []string{"timestamped-test-secret"}, Extra: map[string]any{
		"header": "X-Webhook-Signature", "encoding": "base64", "signed": "{header.X-Timestamp}.{body}",
		"timestamp_header": "X-Timestamp", "tolerance": "5m", "event_id": "id",
		"fields": map[string]string{
			"status": "type", "order_id": "payment.reference", "transaction_id": "payment.id",
			"amount": "payment.amount", "currency": "payment.currency", "occurred_at": "created",
		},
		"statuses": map[string][]string{"succeeded": {"payment.succeeded"}, "failed": {"payment.failed"}},
	}}
	sha1Config = options{Secrets: []string{"sha1-test-secret"}, Extra: map[string]any{
		"header": "X-Signature-Sha1", "algorithm": "sha1",
	}}
	// Paystack's shape: hex HMAC-SHA512.
	sha512Config = options{Secrets: []string{"sk_test_paystack_secret_key"}, Extra: map[string]any{
		"header": "X-Paystack-Signature", "algorithm": "sha512", "event_id": "data.id",
		"fields": map[string]string{
			"status": "event", "order_id": "data.reference", "amount": "data.amount", "currency": "data.currency",
			"occurred_at": "data.paid_at",
		},
		"statuses": map[string][]string{"succeeded": {"charge.success"}, "failed": {"charge.failed"}}, "amount_unit": "minor",
	}}
	// Square's scheme: base64 over {url}{body}.
	urlConfig = options{Secrets: []string{"square-test-signature-key"}, Extra: map[string]any{
		"header": "X-Square-HmacSha256-Signature", "encoding": "base64", "signed": "{url}{body}", "event_id": "event_id",
		"fields": map[string]string{
			"status": "data.object.payment.status", "order_id": "data.object.payment.reference_id",
			"amount": "data.object.payment.amount_money.amount", "currency": "data.object.payment.amount_money.currency",
		},
		"statuses": map[string][]string{"succeeded": {"COMPLETED"}}, "amount_unit": "minor",
	}}
)

func init() {
	completeOptions["hmac"] = "header X-Signature\nfield order_id data.order_id"
	hexBody := func(header string) func(b *testing.B, req *Request) ([]byte, []byte) {
		return func(b *testing.B, req *Request) ([]byte, []byte) {
			want, err := hex.DecodeString(strings.TrimPrefix(req.Header.Get(header), "sha256="))
			if err != nil {
				b.Fatal(err)
			}
			return req.Body, want
		}
	}
	benchCases = append(benchCases,
		benchCase{provider: "hmac", name: "hmac-lemonsqueezy", file: "hmac/lemonsqueezy_order_paid", config: lsConfig, newHash: sha256.New, signed: hexBody("X-Signature")},
		benchCase{provider: "hmac", name: "hmac-sha512", file: "hmac/sha512_charge_success", config: sha512Config, newHash: sha512.New, signed: hexBody("X-Paystack-Signature")},
	)
}

// hmacURL is the URL a golden request was received at, as Caddy would see
// it behind TLS: https, its Host, its request target.
func hmacURL(t *testing.T, name string) string {
	raw, err := os.ReadFile(filepath.Join("..", "testdata", name+".http"))
	require.NoError(t, err)
	hr, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw)))
	require.NoError(t, err)
	return "https://" + hr.Host + hr.RequestURI
}

func TestHMACLemonSqueezy(t *testing.T) {
	testProvider(t, "hmac", lsConfig, []string{
		"lemonsqueezy_order_paid", "lemonsqueezy_order_refunded", "lemonsqueezy_order_pending",
		"lemonsqueezy_old_secret", "lemonsqueezy_uppercase_hex", "lemonsqueezy_vnd_json",
	}, []rejectCase{
		{"lemonsqueezy_tampered", nil, ErrSignature, "X-Signature header matches none of the 2 configured secrets"},
		{"lemonsqueezy_wrong_secret", nil, ErrSignature, "matches none"},
		{"lemonsqueezy_unsigned", nil, ErrSignature, "no X-Signature header"},
		{"lemonsqueezy_base64_signature", nil, ErrSignature, "X-Signature header is not a hex HMAC-SHA256"},
		{"lemonsqueezy_truncated_signature", nil, ErrSignature, "is not a hex HMAC-SHA256"},
		{"lemonsqueezy_duplicate_key", nil, ErrMalformed, `JSON key "status" given twice`},
		{"lemonsqueezy_casefold_key", nil, ErrMalformed, `JSON key "Status" given twice`},
		{"lemonsqueezy_invalid_utf8", nil, ErrMalformed, "not valid UTF-8"},
		{"lemonsqueezy_missing_status", nil, ErrMalformed, "mandatory field data.attributes.status (field status) is missing"},
		{"lemonsqueezy_missing_order", nil, ErrMalformed, "the succeeded event has no order id at meta.custom_data.order_id"},
		{"lemonsqueezy_text_content_type", nil, ErrMalformed, `content type "text/plain", want application/json`},
		{"lemonsqueezy_fractional_minor", nil, ErrMalformed, "data.attributes.total is not a whole number of minor units"},
	})
	e := verifyGolden(t, mustNew(t, "hmac", lsConfig), "hmac/lemonsqueezy_order_paid")
	assert.Equal(t, StatusSucceeded, e.Status)
	assert.Equal(t, "ORD-20240501-0001", e.OrderID)
	assert.Equal(t, "10.50", e.Amount)
	assert.Equal(t, EventID("hmac", string(goldenRequest(t, "hmac/lemonsqueezy_order_paid").Body)), e.ID, "default: a hash of the body")
	assert.Equal(t, e.ID, verifyGolden(t, mustNew(t, "hmac", lsConfig), "hmac/lemonsqueezy_old_secret").ID)
}

// TestHMACLemonSqueezyVector: NOTES.md §2's derived Lemon Squeezy example
// (secret lssecret), with no mapping: the body is forwarded as raw.
func TestHMACLemonSqueezyVector(t *testing.T) {
	v := mustNew(t, "hmac", options{Secrets: []string{"lssecret"}}.with("header", "X-Signature"))
	e := verifyGolden(t, v, "hmac/lemonsqueezy_vector")
	assert.Equal(t, StatusUnknown, e.Status)
	assert.JSONEq(t, `{"meta":{"event_name":"order_created"}}`, string(e.Raw))
	checkGolden(t, "hmac/lemonsqueezy_vector", []Event{e})
}

func TestHMACGitHubStyle(t *testing.T) {
	testProvider(t, "hmac", ghConfig, []string{"github_sponsorship"}, []rejectCase{
		{"github_no_prefix", nil, ErrSignature, "X-Hub-Signature-256 header does not start with the configured prefix"},
		{"github_sha1_prefix", nil, ErrSignature, "does not start with the configured prefix"},
		{"github_uppercase_prefix", nil, ErrSignature, "does not start with the configured prefix"},
		{"github_no_delivery", nil, ErrMalformed, "no event id at header X-GitHub-Delivery"},
	})
	e := verifyGolden(t, mustNew(t, "hmac", ghConfig), "hmac/github_sponsorship")
	assert.Equal(t, "72d3162e-cc78-11e3-81ab-4c9367dc0958", e.ID)
	assert.Equal(t, StatusUnknown, e.Status)
}

func TestHMACTimestamped(t *testing.T) {
	testProvider(t, "hmac", tsConfig, []string{"timestamped_succeeded", "timestamped_failed", "timestamped_at_tolerance"}, []rejectCase{
		{"timestamped_too_old", nil, ErrSignature, "X-Timestamp header is 5m1s old, over the tolerance of 5m0s"},
		{"timestamped_future", nil, ErrSignature, "X-Timestamp header is 5m1s in the future"},
		{"timestamped_timestamp_swapped", nil, ErrSignature, "X-Webhook-Signature header matches none"},
		{"timestamped_tampered", nil, ErrSignature, "matches none"},
	})
	e := verifyGolden(t, mustNew(t, "hmac", tsConfig), "hmac/timestamped_succeeded")
	assert.Equal(t, "evt_0001", e.ID)
	assert.Equal(t, "12.50", e.Amount)
	assert.Equal(t, "HKD", e.Currency)
	assert.Equal(t, time.Unix(1714558830, 0).UTC(), e.OccurredAt, "Unix seconds")
}

func TestHMACSHA1AndSHA512(t *testing.T) {
	testProvider(t, "hmac", sha1Config, []string{"sha1_form"}, []rejectCase{
		{"sha1_form_query_shadow", nil, ErrMalformed, `query parameter "status" would shadow the field "status"`},
		{"sha512_charge_success", nil, ErrSignature, "no X-Signature-Sha1 header"},
	})
	e := verifyGolden(t, mustNew(t, "hmac", sha1Config), "hmac/sha1_form")
	assert.JSONEq(t, `{"body":"order=ORD-7&status=paid&amount=12.50"}`, string(e.Raw), "a form body without mapping: as text")

	testProvider(t, "hmac", sha512Config, []string{"sha512_charge_success", "sha512_charge_failed"}, nil)
	e = verifyGolden(t, mustNew(t, "hmac", sha512Config), "hmac/sha512_charge_success")
	assert.Equal(t, "302961", e.ID, "a number at event_id, as sent")
	assert.Equal(t, "10500.00", e.Amount)
	assert.Equal(t, "NGN", e.Currency)
	// A SHA-256 signature where SHA-512 is configured is refused by length.
	sha256As512 := sha512Config.with("header", "X-Signature")
	_, err := mustNew(t, "hmac", sha256As512).Verify(t.Context(), goldenRequest(t, "hmac/lemonsqueezy_order_paid"))
	assert.ErrorContains(t, err, "X-Signature header is not a hex HMAC-SHA512")
}

// TestHMACURL: {url} is the URL as received, query included; the golden
// requests are verified as Caddy would receive them behind TLS.
func TestHMACURL(t *testing.T) {
	v := mustNew(t, "hmac", urlConfig)
	for _, name := range []string{"url_payment_completed", "url_query"} {
		req := goldenRequest(t, "hmac/"+name)
		events, err := v.Verify(withRequestURL(t.Context(), hmacURL(t, "hmac/"+name)), req)
		require.NoError(t, err, name)
		checkGolden(t, "hmac/"+name, events)
		assert.Equal(t, StatusSucceeded, events[0].Status)
		assert.Equal(t, "13b867cf-db3d-4b1c-90b6-2f32a9d78124", events[0].ID)
	}
	// Signed for /notify/hmac, received at /notify/other.
	_, err := v.Verify(withRequestURL(t.Context(), hmacURL(t, "hmac/url_other_path")), goldenRequest(t, "hmac/url_other_path"))
	assert.ErrorIs(t, err, ErrSignature)
	// Received over plain HTTP: another URL.
	_, err = v.Verify(withRequestURL(t.Context(), strings.Replace(hmacURL(t, "hmac/url_payment_completed"), "https", "http", 1)),
		goldenRequest(t, "hmac/url_payment_completed"))
	assert.ErrorIs(t, err, ErrSignature)
	// Outside Caddy, with no URL known.
	_, err = v.Verify(t.Context(), goldenRequest(t, "hmac/url_payment_completed"))
	assert.ErrorContains(t, err, "the request URL, which signed includes, is not known")
}

// TestHMACSignHonoursTheOptions: the test signer builds, for each golden
// configuration, a notification the verifier accepts, and whose signature
// an independent HMAC over the template recomputes.
func TestHMACSignHonoursTheOptions(t *testing.T) {
	now := goldenReceivedAt
	for name, c := range map[string]struct {
		o       options
		newHash func() hash.Hash
		signed  func(n Notification) string
		decode  func(string) ([]byte, error)
	}{
		"lemonsqueezy": {lsConfig, sha256.New, func(n Notification) string { return string(n.Body) }, hex.DecodeString},
		"github": {ghConfig, sha256.New, func(n Notification) string { return string(n.Body) }, func(s string) ([]byte, error) {
			return hex.DecodeString(strings.TrimPrefix(s, "sha256="))
		}},
		"timestamped": {tsConfig, sha256.New, func(n Notification) string { return n.Header.Get("X-Timestamp") + "." + string(n.Body) }, base64.StdEncoding.DecodeString},
		"sha1":        {sha1Config, sha1.New, func(n Notification) string { return string(n.Body) }, hex.DecodeString},
		"sha512":      {sha512Config, sha512.New, func(n Notification) string { return string(n.Body) }, hex.DecodeString},
		"url":         {urlConfig, sha256.New, func(n Notification) string { return "https://shop.example/n" + string(n.Body) }, base64.StdEncoding.DecodeString},
	} {
		p := mustNew(t, "hmac", c.o).(*HMAC)
		n, err := p.Sign(Draft{Fields: p.Example("ORD-7", now), Path: "/n", URL: "https://shop.example/n", Now: now})
		require.NoError(t, err, name)
		mac := hmac.New(c.newHash, []byte(c.o.Secrets[0]))
		mac.Write([]byte(c.signed(n)))
		got, err := c.decode(n.Header.Get(p.Header))
		require.NoError(t, err, name)
		assert.Equal(t, mac.Sum(nil), got, name)
		if name == "timestamped" {
			assert.Equal(t, strconv.FormatInt(now.Unix(), 10), n.Header.Get("X-Timestamp"))
		}
		ctx := withRequestURL(context.Background(), "https://shop.example/n")
		events, err := p.Verify(ctx, &Request{Method: n.Method, Header: n.Header, Body: n.Body, ReceivedAt: now})
		require.NoError(t, err, name)
		if p.Fields["order_id"] != "" {
			assert.Equal(t, "ORD-7", events[0].OrderID, name)
		}
		if len(p.Statuses) > 0 {
			assert.Equal(t, StatusSucceeded, events[0].Status, name)
		}
	}
	// {url} without the URL it is sent to.
	p := mustNew(t, "hmac", urlConfig).(*HMAC)
	_, err := p.Sign(Draft{Fields: p.Example("ORD-7", now), Path: "/n", Now: now})
	assert.ErrorContains(t, err, "signed: signs {url}")
}

func TestHMACTemplate(t *testing.T) {
	parts, err := parseTemplate("v0:{header.X-Timestamp}:{http.request.header.X-Id}{url}{body}|")
	require.NoError(t, err)
	assert.Equal(t, []templatePart{{kind: 'l', text: "v0:"}, {kind: 'h', header: "X-Timestamp"}, {kind: 'l', text: ":"},
		{kind: 'h', header: "X-Id"}, {kind: 'u'}, {kind: 'b'}, {kind: 'l', text: "|"}}, parts)
	for template, want := range map[string]string{
		"{header.X-Timestamp}":    "must contain {body}",
		"{query.a}{body}":         "unknown placeholder {query.a}",
		"{Body}":                  "unknown placeholder {Body}",
		"{header.}{body}":         `"" is not a header name`,
		"{header.X Y}{body}":      `"X Y" is not a header name`,
		"{body":                   "an unclosed {",
		"https://x.example{body}": "",
	} {
		_, err := parseTemplate(template)
		if want == "" {
			assert.NoError(t, err, template)
		} else if assert.Error(t, err, template) {
			assert.Contains(t, err.Error(), want, template)
		}
	}
}

func TestHMACConfig(t *testing.T) {
	base := options{Secrets: []string{"s"}}.with("header", "X-Sig")
	for _, c := range []struct {
		o    options
		want string
	}{
		{options{Secrets: []string{"s"}}, `header: required for provider "hmac"`},
		{options{}.with("header", "X-Sig"), `secret: required for provider "hmac"`},
		{base.with("header", "X Sig"), `header: "X Sig" is not a header name`},
		{base.with("algorithm", "md5"), `algorithm: "md5" is not sha256, sha1 or sha512`},
		{base.with("encoding", "base32"), `encoding: "base32" is not hex or base64`},
		{base.with("signed", "{ts}.{body}"), "signed: unknown placeholder {ts}"},
		{base.with("signed", "{header.X-Sig}{body}"), "signed: signs header X-Sig, which carries the signature"},
		{base.with("timestamp_header", "X-Ts"), "timestamp: header X-Ts is not signed: add {header.X-Ts} to signed"},
		{base.with("tolerance", "5m"), "timestamp: a tolerance needs a timestamp header"},
		{base.with("event_id", "header:X-Sig"), "event_id: the signature header is not an event id"},
		{base.with("event_id", "a..b"), "event_id: path"},
		{base.with("statuses", map[string][]string{"paid": {"x"}}), `status: "paid" is not a paynotify.v1 status`},
	} {
		_, err := newVerifier("hmac", c.o)
		if assert.Error(t, err, c.want) {
			assert.Contains(t, err.Error(), c.want)
			assert.NotContains(t, err.Error(), `"s"`)
		}
	}
}

// TestHMACHeaders: the signature and every signed header are one value;
// the signature is compared as decoded, case-insensitively for hex.
func TestHMACHeaders(t *testing.T) {
	v := mustNew(t, "hmac", tsConfig)
	good := goldenRequest(t, "hmac/timestamped_succeeded")
	for name, change := range map[string]func(h http.Header){
		"signature twice":       func(h http.Header) { h.Add("X-Webhook-Signature", h.Get("X-Webhook-Signature")) },
		"timestamp twice":       func(h http.Header) { h.Add("X-Timestamp", h.Get("X-Timestamp")) },
		"no timestamp":          func(h http.Header) { h.Del("X-Timestamp") },
		"timestamp with a sign": func(h http.Header) { h.Set("X-Timestamp", "+"+h.Get("X-Timestamp")) },
		"signature unpadded": func(h http.Header) {
			h.Set("X-Webhook-Signature", strings.TrimRight(h.Get("X-Webhook-Signature"), "="))
		},
		"signature URL-safe b64": func(h http.Header) {
			h.Set("X-Webhook-Signature", strings.NewReplacer("+", "-", "/", "_").Replace(h.Get("X-Webhook-Signature"))+"x")
		},
		"signature with a space": func(h http.Header) { h.Set("X-Webhook-Signature", " "+h.Get("X-Webhook-Signature")) },
	} {
		req := *good
		req.Header = good.Header.Clone()
		change(req.Header)
		_, err := v.Verify(t.Context(), &req)
		assert.ErrorIs(t, err, ErrSignature, name)
	}
	_, err := v.Verify(t.Context(), good)
	assert.NoError(t, err)
}

// FuzzHMAC: with the timestamped template, an accepted request's timestamp
// and body must be those of a request the sender signed.
func FuzzHMAC(f *testing.F) {
	fuzzVerifier(f, "hmac", tsConfig, func(r *Request) string {
		return r.Header.Get("X-Timestamp") + "." + string(r.Body)
	})
}
