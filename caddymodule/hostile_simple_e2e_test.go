package caddymodule_test

// The hostile cases of razorpay, square and paystack, the providers whose
// signature is one header carrying the HMAC of the body (Square: of its
// notification URL and the body). They join hostileCatalogue and run in
// TestHostileInputCatalogue against the routes added here.

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"hash"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddytest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	razorpaySecret = "razorpay-test-secret"
	squareKey      = "square-test-signature-key"
	paystackSecret = "sk_test_paynotify0000000000000000000000"
	// squarePublicURL is the url option: the URL Square posts to, in front
	// of the proxy; the test reaches Caddy at another, as Caddy behind a
	// load balancer is.
	squarePublicURL = "https://shop.example/notify/square"
)

func init() {
	hostileRoutes = append(hostileRoutes, `
	handle /razorpay {
		paynotify razorpay {
			secret razorpay-test-secret razorpay-old-secret
			STORE
		}
		reverse_proxy UPSTREAM
	}
	handle /square {
		paynotify square {
			secret square-test-signature-key square-old-signature-key
			url https://shop.example/notify/square
			STORE
		}
		reverse_proxy UPSTREAM
	}
	handle /paystack {
		paynotify paystack {
			secret sk_test_paynotify0000000000000000000000 sk_test_paynotifyold000000000000000000
			STORE
		}
		reverse_proxy UPSTREAM
	}
`)
	hostileCatalogue = append(hostileCatalogue, razorpayHostile...)
	hostileCatalogue = append(hostileCatalogue, squareHostile...)
	hostileCatalogue = append(hostileCatalogue, paystackHostile...)
}

// simpleSigned is a notification of body to path whose header carries the
// HMAC of prefix+body under secret, in hex or base64, then changed by change.
func simpleSigned(path, header string, newHash func() hash.Hash, secret, prefix string, b64 bool, body string,
	change func(*http.Request)) func(t *testing.T) *http.Request {
	return func(t *testing.T) *http.Request {
		mac := hmac.New(newHash, []byte(secret))
		mac.Write([]byte(prefix))
		mac.Write([]byte(body))
		sig := hex.EncodeToString(mac.Sum(nil))
		if b64 {
			sig = base64.StdEncoding.EncodeToString(mac.Sum(nil))
		}
		req, err := http.NewRequest(http.MethodPost, "http://localhost:9080"+path, strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(header, sig)
		if change != nil {
			change(req)
		}
		return req
	}
}

func signedRazorpay(body string, change func(*http.Request)) func(t *testing.T) *http.Request {
	return simpleSigned("/razorpay", "X-Razorpay-Signature", sha256.New, razorpaySecret, "", false, body, func(r *http.Request) {
		r.Header.Set("X-Razorpay-Event-Id", "evt_hostile_1")
		if change != nil {
			change(r)
		}
	})
}

func signedSquare(body string, change func(*http.Request)) func(t *testing.T) *http.Request {
	return simpleSigned("/square", "X-Square-HmacSha256-Signature", sha256.New, squareKey, squarePublicURL, true, body, change)
}

func signedPaystack(body string, change func(*http.Request)) func(t *testing.T) *http.Request {
	return simpleSigned("/paystack", "X-Paystack-Signature", sha512.New, paystackSecret, "", false, body, change)
}

// setHeader sets a header; withSpace puts a space in the middle of one.
func withSpace(name string) func(*http.Request) {
	return func(r *http.Request) {
		v := r.Header.Get(name)
		r.Header.Set(name, v[:len(v)/2]+" "+v[len(v)/2:])
	}
}

func twice(name, other string) func(*http.Request) {
	return func(r *http.Request) { r.Header.Add(name, other) }
}

func bigHeader(r *http.Request) { r.Header.Set("X-Padding", strings.Repeat("a", 2<<20)) }

func method(m string) func(*http.Request) { return func(r *http.Request) { r.Method = m } }

const (
	rzpValid = `{"entity":"event","account_id":"acc_1","event":"payment.captured","contains":["payment"],"payload":{"payment":{"entity":` +
		`{"id":"pay_H1","amount":50000,"currency":"INR","status":"captured","order_id":"order_H1","notes":{"order_id":"ORD-H"}}}},"created_at":1714558800}`
	sqValid = `{"merchant_id":"M1","type":"payment.updated","event_id":"e-hostile-1","created_at":"2024-05-01T10:20:30Z","data":{"type":"payment","id":"p1",` +
		`"object":{"payment":{"id":"p1","status":"COMPLETED","reference_id":"ORD-H","amount_money":{"amount":1050,"currency":"USD"}}}}}`
	psValid = `{"event":"charge.success","data":{"id":302961,"reference":"ORD-H","amount":10000,"currency":"NGN","status":"success"}}`
)

var razorpayHostile = []hostile{
	// signature
	{"razorpay tampered body", fromGolden("razorpay/tampered", "/razorpay", nil), 401},
	{"razorpay wrong secret", fromGolden("razorpay/wrong_secret", "/razorpay", nil), 401},
	{"razorpay unsigned", fromGolden("razorpay/unsigned", "/razorpay", nil), 401},
	{"razorpay empty signature header", signedRazorpay(rzpValid, setHeader("X-Razorpay-Signature", "")), 401},
	{"razorpay signature not hex", fromGolden("razorpay/bad_hex", "/razorpay", nil), 401},
	{"razorpay signature in base64", fromGolden("razorpay/base64_signature", "/razorpay", nil), 401},
	{"razorpay signature with a sha256= prefix", fromGolden("razorpay/prefixed_signature", "/razorpay", nil), 401},
	{"razorpay HMAC-SHA512 signature", fromGolden("razorpay/sha512_signature", "/razorpay", nil), 401},
	{"razorpay signature with a space inside", signedRazorpay(rzpValid, withSpace("X-Razorpay-Signature")), 401},
	{"razorpay signature header given twice", signedRazorpay(rzpValid, twice("X-Razorpay-Signature", strings.Repeat("0", 64))), 401},
	{"razorpay truncated body", fromGolden("razorpay/payment_captured", "/razorpay", func(_ *http.Request, b []byte) []byte { return b[:len(b)-10] }), 401},
	// event id header (not signed)
	{"razorpay event id header missing", fromGolden("razorpay/no_event_id", "/razorpay", nil), 400},
	{"razorpay event id header of 129 bytes", fromGolden("razorpay/long_event_id", "/razorpay", nil), 400},
	{"razorpay event id header not ASCII", signedRazorpay(rzpValid, setHeader("X-Razorpay-Event-Id", "évt_1")), 400},
	{"razorpay event id header given twice", signedRazorpay(rzpValid, twice("X-Razorpay-Event-Id", "evt_other")), 400},
	// body, signed
	{"razorpay duplicate JSON key, signed", fromGolden("razorpay/duplicate_key", "/razorpay", nil), 400},
	{"razorpay JSON keys differing in case, signed", fromGolden("razorpay/casefold_key", "/razorpay", nil), 400},
	{"razorpay invalid UTF-8, signed", fromGolden("razorpay/invalid_utf8", "/razorpay", nil), 400},
	{"razorpay JSON array, signed", signedRazorpay(`[`+rzpValid+`]`, nil), 400},
	{"razorpay event missing, signed", fromGolden("razorpay/missing_event", "/razorpay", nil), 400},
	{"razorpay payment without an order id, signed", fromGolden("razorpay/no_order_id", "/razorpay", nil), 400},
	{"razorpay fractional paise, signed", fromGolden("razorpay/fractional_amount", "/razorpay", nil), 400},
	{"razorpay query shadowing a field", fromGolden("razorpay/query_shadows_field", "/razorpay", nil), 400},
	// transport
	{"razorpay form content type", fromGolden("razorpay/form_content_type", "/razorpay", nil), 400},
	{"razorpay GET", fromGolden("razorpay/get_method", "/razorpay", nil), 405},
	{"razorpay PUT", signedRazorpay(rzpValid, method(http.MethodPut)), 405},
	{"razorpay header of 2 MB", signedRazorpay(rzpValid, bigHeader), 431},
}

var squareHostile = []hostile{
	// signature
	{"square tampered body", fromGolden("square/tampered", "/square", nil), 401},
	{"square wrong secret", fromGolden("square/wrong_secret", "/square", nil), 401},
	{"square signed for the URL Caddy sees, not the configured url", simpleSigned("/square", "X-Square-HmacSha256-Signature", sha256.New,
		squareKey, "http://localhost:9080/square", true, sqValid, nil), 401},
	{"square signed over the body alone", fromGolden("square/body_only_signature", "/square", nil), 401},
	{"square JSON reformatted after signing", fromGolden("square/reformatted", "/square", nil), 401},
	{"square unsigned", fromGolden("square/unsigned", "/square", nil), 401},
	{"square empty signature header", signedSquare(sqValid, setHeader("X-Square-HmacSha256-Signature", "")), 401},
	{"square signature in hex", fromGolden("square/hex_signature", "/square", nil), 401},
	{"square signature in base64url", fromGolden("square/base64url_signature", "/square", nil), 401},
	{"square signature without padding", fromGolden("square/unpadded_signature", "/square", nil), 401},
	{"square signature with a space inside", signedSquare(sqValid, withSpace("X-Square-HmacSha256-Signature")), 401},
	{"square signature in lower case", signedSquare(sqValid, func(r *http.Request) {
		r.Header.Set("X-Square-HmacSha256-Signature", strings.ToLower(r.Header.Get("X-Square-HmacSha256-Signature")))
	}), 401},
	{"square legacy X-Square-Signature (HMAC-SHA1) only", fromGolden("square/legacy_only", "/square", nil), 401},
	{"square legacy header beside a wrong signature", simpleSigned("/square", "X-Square-HmacSha256-Signature", sha1.New, squareKey, squarePublicURL, true, sqValid,
		func(r *http.Request) {
			r.Header.Set("X-Square-Signature", r.Header.Get("X-Square-HmacSha256-Signature"))
		}), 401},
	{"square signature header given twice", signedSquare(sqValid, twice("X-Square-HmacSha256-Signature", "AAAA")), 401},
	// body, signed
	{"square duplicate JSON key, signed", fromGolden("square/duplicate_key", "/square", nil), 400},
	{"square JSON keys differing in case, signed", fromGolden("square/casefold_key", "/square", nil), 400},
	{"square invalid UTF-8, signed", fromGolden("square/invalid_utf8", "/square", nil), 400},
	{"square event_id missing, signed", fromGolden("square/missing_event_id", "/square", nil), 400},
	{"square payment status missing, signed", fromGolden("square/missing_payment_status", "/square", nil), 400},
	{"square payment without an order id, signed", fromGolden("square/no_order_id", "/square", nil), 400},
	{"square data after the JSON, signed", signedSquare(sqValid+`{}`, nil), 400},
	{"square query shadowing a field", fromGolden("square/query_shadows_field", "/square", nil), 400},
	// transport
	{"square form content type", fromGolden("square/form_content_type", "/square", nil), 400},
	{"square GET", signedSquare(sqValid, method(http.MethodGet)), 405},
	{"square header of 2 MB", signedSquare(sqValid, bigHeader), 431},
}

var paystackHostile = []hostile{
	// signature
	{"paystack tampered body", fromGolden("paystack/tampered", "/paystack", nil), 401},
	{"paystack wrong secret", fromGolden("paystack/wrong_secret", "/paystack", nil), 401},
	{"paystack unsigned", fromGolden("paystack/unsigned", "/paystack", nil), 401},
	{"paystack empty signature header", signedPaystack(psValid, setHeader("X-Paystack-Signature", "")), 401},
	{"paystack signature not hex", fromGolden("paystack/bad_hex", "/paystack", nil), 401},
	{"paystack HMAC-SHA256 signature", fromGolden("paystack/sha256_signature", "/paystack", nil), 401},
	{"paystack signature in base64", fromGolden("paystack/base64_signature", "/paystack", nil), 401},
	{"paystack signature with a sha512= prefix", signedPaystack(psValid, func(r *http.Request) {
		r.Header.Set("X-Paystack-Signature", "sha512="+r.Header.Get("X-Paystack-Signature"))
	}), 401},
	{"paystack signature with a space inside", signedPaystack(psValid, withSpace("X-Paystack-Signature")), 401},
	{"paystack signature header given twice", signedPaystack(psValid, twice("X-Paystack-Signature", strings.Repeat("0", 128))), 401},
	// body, signed
	{"paystack duplicate JSON key, signed", fromGolden("paystack/duplicate_key", "/paystack", nil), 400},
	{"paystack JSON keys differing in case, signed", fromGolden("paystack/casefold_key", "/paystack", nil), 400},
	{"paystack invalid UTF-8, signed", fromGolden("paystack/invalid_utf8", "/paystack", nil), 400},
	{"paystack event missing, signed", fromGolden("paystack/missing_event", "/paystack", nil), 400},
	{"paystack data.id missing, signed", fromGolden("paystack/missing_data_id", "/paystack", nil), 400},
	{"paystack charge without a reference, signed", fromGolden("paystack/no_reference", "/paystack", nil), 400},
	{"paystack fractional kobo, signed", fromGolden("paystack/fractional_amount", "/paystack", nil), 400},
	{"paystack JSON nested 40 deep, signed", signedPaystack(`{"event":"charge.success","x":`+strings.Repeat(`{"a":`, 40)+`1`+strings.Repeat(`}`, 40)+
		`,"data":{"id":1,"reference":"o","amount":1,"currency":"NGN","status":"success"}}`, nil), 400},
	{"paystack query shadowing a field", fromGolden("paystack/query_shadows_field", "/paystack", nil), 400},
	// transport
	{"paystack form content type", fromGolden("paystack/form_content_type", "/paystack", nil), 400},
	{"paystack DELETE", signedPaystack(psValid, method(http.MethodDelete)), 405},
	{"paystack header of 2 MB", signedPaystack(psValid, bigHeader), 431},
}

// TestSimpleProvidersDeliverOnce: a genuine notification of each provider
// is forwarded once and ACKed with an empty 200; the same notification again
// is ACKed without reaching the app; one signed with the old secret of the
// rotation is accepted.
func TestSimpleProvidersDeliverOnce(t *testing.T) {
	up := newUpstream(t)
	tc := caddytest.NewTester(t)
	initServer(tc, hostileCaddyfile(strings.TrimPrefix(up.URL, "http://"), "store bolt "+filepath.Join(t.TempDir(), "dedup.db"), startHostileAPI(t)), "caddyfile")
	for _, c := range []struct{ golden, path, eventID string }{
		{"razorpay/payment_captured", "/razorpay", "NxR3yGq1TzUw8e"},
		{"square/payment_completed", "/square", "6a8f5f28-54a1-4eb0-a98a-3111513fd4fc"},
		{"paystack/charge_success", "/paystack", ""},
	} {
		t.Run(c.golden, func(t *testing.T) {
			r := send(t, tc, golden(t, c.golden, c.path))
			assert.Equal(t, http.StatusOK, r.Status)
			assert.Empty(t, r.Body)
			got := up.take()
			require.Len(t, got, 1)
			assert.Equal(t, "succeeded", got[0].Header.Get("Paynotify-Status"))
			if c.eventID != "" {
				assert.Equal(t, c.eventID, got[0].Header.Get("Paynotify-Event-Id"))
			}
			r = send(t, tc, golden(t, c.golden, c.path))
			assert.Equal(t, http.StatusOK, r.Status)
			assert.Empty(t, up.take(), "a retry reached the app again")
			if c.path == "/razorpay" {
				// X-Razorpay-Event-Id is not signed: the captured body resent
				// under a new id is the same event, ACKed and not delivered.
				replay := golden(t, c.golden, c.path)
				replay.Header.Set("X-Razorpay-Event-Id", "evt_replayed_under_a_new_id")
				assert.Equal(t, http.StatusOK, send(t, tc, replay).Status)
				assert.Empty(t, up.take(), "a replay under a new event id reached the app")
			}
		})
	}
	// Rotation: the same events signed with the second secret of each
	// route verify (a signature failure would be 401) and are duplicates of
	// those delivered above.
	for _, c := range []struct{ golden, path string }{
		{"razorpay/old_secret", "/razorpay"}, {"square/old_secret", "/square"}, {"paystack/old_secret", "/paystack"},
	} {
		r := send(t, tc, golden(t, c.golden, c.path))
		assert.Equal(t, http.StatusOK, r.Status, c.golden)
	}
	assert.Empty(t, up.take(), "the events signed with the old secrets were delivered above")
}
