package caddymodule_test

// The hostile input catalogue: bad notifications of every provider sent to a
// real Caddy, each with the exact status it must get, no ACK, and nothing
// forwarded. Where an attack needs a validly signed body (a duplicated JSON
// key, invalid UTF-8…), the case signs it, so that only the content checks
// can refuse it.

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddytest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/paynotify/paynotify/internal/standin"
)

// hostileRoutes are the routes of the providers whose cases live in files
// of their own (hostile_<provider>_e2e_test.go adds its handle blocks here
// and its cases to hostileCatalogue, in an init function). UPSTREAM and
// STORE are replaced as in the blocks below, INQUIRE by the base URL of
// hostileAPI (http://127.0.0.1:port, no slash at the end).
var hostileRoutes []string

// hostileAPI is the stand-in provider API the inquiring routes ask, set
// before the cases are built: a case registers the genuine transaction its
// forgery contradicts.
var hostileAPI *standin.API

// startHostileAPI starts hostileAPI and returns its URL, for INQUIRE.
func startHostileAPI(t *testing.T) string {
	hostileAPI = standin.New()
	api := httptest.NewServer(hostileAPI)
	t.Cleanup(api.Close)
	return api.URL
}

func hostileCaddyfile(up, store, inquire string) string {
	return globalOptions + strings.NewReplacer("UPSTREAM", up, "STORE", store, "INQUIRE", inquire).Replace(strings.Replace(`
http://localhost:9080 {
	handle /octo3 {
		paynotify octo3 {
			secret octo3-test-secret
			STORE
		}
		reverse_proxy UPSTREAM
	}
	handle /octo3/allow {
		paynotify octo3 {
			secret octo3-test-secret
			allow_ip 198.51.100.0/24
			STORE
			dedup_scope octo3-allow
		}
		reverse_proxy UPSTREAM
	}
	handle /octo3/small {
		paynotify octo3 {
			secret octo3-test-secret
			max_body 300B
			STORE
			dedup_scope octo3-small
		}
		reverse_proxy UPSTREAM
	}
	handle /checkout {
		paynotify checkout {
			secret cko-test-signature-key
			authorization cko-test-authorization
			STORE
		}
		reverse_proxy UPSTREAM
	}
	handle /octopus {
		paynotify octopus {
			secret octopus-test-secret
			key octopus-test-key
			STORE
		}
		reverse_proxy UPSTREAM
	}
	handle /oobit {
		paynotify oobit {
			secret oobit-test-hash-key
			allow_ip 127.0.0.1 198.51.100.0/24
			STORE
		}
		reverse_proxy UPSTREAM
	}
ROUTES}
`, "ROUTES", strings.Join(hostileRoutes, ""), 1))
}

// hostile builds one bad request.
type hostile struct {
	name   string
	build  func(t *testing.T) *http.Request
	status int
}

// fromGolden is a golden request, changed by change.
func fromGolden(name, path string, change func(r *http.Request, body []byte) []byte) func(t *testing.T) *http.Request {
	return func(t *testing.T) *http.Request {
		req := golden(t, name, path)
		if change == nil {
			return req
		}
		body, err := io.ReadAll(req.Body)
		require.NoError(t, err)
		body = change(req, body)
		req.Body = io.NopCloser(bytes.NewReader(body))
		req.ContentLength = int64(len(body))
		return req
	}
}

// signedCheckout is a checkout webhook with body, correctly signed.
func signedCheckout(body string, change func(*http.Request)) func(t *testing.T) *http.Request {
	return func(t *testing.T) *http.Request {
		mac := hmac.New(sha256.New, []byte("cko-test-signature-key"))
		mac.Write([]byte(body))
		req, err := http.NewRequest(http.MethodPost, "http://localhost:9080/checkout", strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Cko-Signature", hex.EncodeToString(mac.Sum(nil)))
		req.Header.Set("Authorization", "cko-test-authorization")
		if change != nil {
			change(req)
		}
		return req
	}
}

// signedOctopus is an octopus callback of string fields, correctly signed
// over the key-sorted k=v& string.
func signedOctopus(fields map[string]string) func(t *testing.T) *http.Request {
	return func(t *testing.T) *http.Request {
		keys := make([]string, 0, len(fields))
		for k := range fields {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var signed, body []string
		for _, k := range keys {
			signed = append(signed, k+"="+fields[k])
			body = append(body, `"`+k+`":"`+fields[k]+`"`)
		}
		mac := hmac.New(sha256.New, []byte("octopus-test-secret"))
		mac.Write([]byte(strings.Join(signed, "&")))
		req, err := http.NewRequest(http.MethodPost, "http://localhost:9080/octopus", strings.NewReader("{"+strings.Join(body, ",")+"}"))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("OC-Signature", hex.EncodeToString(mac.Sum(nil)))
		req.Header.Set("OC-Key", "octopus-test-key")
		return req
	}
}

const ckoValid = `{"id":"evt_hostile","type":"payment_captured","data":{"id":"pay_1","reference":"ORD-H","amount":1050,"currency":"HKD"}}`

var octopusValid = map[string]string{
	"merchant_order_id": "ORD-H", "payment_status": "completed", "currency": "php", "final_amount": "99.50",
}

func withField(base map[string]string, k, v string) map[string]string {
	out := map[string]string{k: v}
	for key, val := range base {
		if key != k {
			out[key] = val
		}
	}
	return out
}

func without(base map[string]string, k string) map[string]string {
	out := map[string]string{}
	for key, val := range base {
		if key != k {
			out[key] = val
		}
	}
	return out
}

var hostileCatalogue = []hostile{
	// octo3: signature
	{"octo3 tampered amount", fromGolden("octo3/tampered_amount", "/octo3", nil), 401},
	{"octo3 wrong secret", fromGolden("octo3/wrong_secret", "/octo3", nil), 401},
	{"octo3 unsigned", fromGolden("octo3/unsigned", "/octo3", nil), 401},
	{"octo3 signature not hex", fromGolden("octo3/bad_hex", "/octo3", nil), 401},
	{"octo3 signature of the wrong length", fromGolden("octo3/short_hash", "/octo3", nil), 401},
	// Cut mid-field: the form's checks refuse it before its signature is read.
	{"octo3 truncated body", fromGolden("octo3/accepted", "/octo3", func(_ *http.Request, b []byte) []byte { return b[:len(b)/2] }), 400},
	{"octo3 sha256 signature where sha1 is configured", fromGolden("octo3/sha256", "/octo3", nil), 401},
	// octo3: body
	{"octo3 field given twice", fromGolden("octo3/duplicate_field", "/octo3", nil), 400},
	{"octo3 field without a name", fromGolden("octo3/accepted", "/octo3", func(_ *http.Request, b []byte) []byte { return append(b, "&=x"...) }), 400},
	{"octo3 bad percent escape", fromGolden("octo3/accepted", "/octo3", func(_ *http.Request, b []byte) []byte { return append(b, "&locale=%zz"...) }), 400},
	{"octo3 semicolon separator", fromGolden("octo3/accepted", "/octo3", func(_ *http.Request, b []byte) []byte { return append(b, ";locale=x"...) }), 400},
	{"octo3 invalid UTF-8", fromGolden("octo3/accepted", "/octo3", func(_ *http.Request, b []byte) []byte { return append(b, "&merch_data=%FF%FE"...) }), 400},
	{"octo3 mandatory field missing", fromGolden("octo3/missing_mandatory", "/octo3", nil), 400},
	{"octo3 amount with a comma", fromGolden("octo3/bad_amount", "/octo3", nil), 400},
	{"octo3 amount with an exponent", fromGolden("octo3/exponent_amount", "/octo3", nil), 400},
	{"octo3 amount that overflows", fromGolden("octo3/overflow_amount", "/octo3", nil), 400},
	{"octo3 negative amount", fromGolden("octo3/negative_amount", "/octo3", nil), 400},
	{"octo3 padded amount", fromGolden("octo3/padded_amount", "/octo3", nil), 400},
	{"octo3 renamed field, signature valid", fromGolden("octo3/renamed_field", "/octo3", nil), 400},
	{"octo3 value moved across a field boundary, signature valid", fromGolden("octo3/shift_into_action", "/octo3", nil), 400},
	{"octo3 refund regrouped into acq_response_code, signature valid", fromGolden("octo3/refund_regrouped", "/octo3", nil), 400},
	{"octo3 digits moved between two amounts, signature valid", fromGolden("octo3/shift_between_amounts", "/octo3", nil), 400},
	{"octo3 undocumented field", fromGolden("octo3/unknown_field", "/octo3", nil), 400},
	{"octo3 query shadowing a signed field", fromGolden("octo3/query_shadows_field", "/octo3", nil), 400},
	{"octo3 JSON content type", fromGolden("octo3/json_content_type", "/octo3", nil), 400},
	{"octo3 no content type", fromGolden("octo3/accepted", "/octo3", func(r *http.Request, b []byte) []byte { r.Header.Del("Content-Type"); return b }), 400},
	{"octo3 multipart content type", fromGolden("octo3/accepted", "/octo3", func(r *http.Request, b []byte) []byte {
		r.Header.Set("Content-Type", "multipart/form-data; boundary=x")
		return b
	}), 400},
	// octo3: transport
	{"octo3 GET", fromGolden("octo3/get_method", "/octo3", nil), 405},
	{"octo3 DELETE", fromGolden("octo3/accepted", "/octo3", func(r *http.Request, b []byte) []byte { r.Method = http.MethodDelete; return b }), 405},
	{"octo3 body over max_body", fromGolden("octo3/accepted", "/octo3/small", nil), 413},
	{"octo3 chunked body over max_body", fromGolden("octo3/accepted", "/octo3/small", func(r *http.Request, b []byte) []byte {
		r.ContentLength = -1
		return b
	}), 413},
	{"octo3 source outside allow_ip, through the trusted proxy", fromGolden("octo3/accepted", "/octo3/allow", func(r *http.Request, b []byte) []byte {
		r.Header.Set("X-Forwarded-For", "192.0.2.66")
		return b
	}), 403},
	{"octo3 header of 2 MB", fromGolden("octo3/accepted", "/octo3", func(r *http.Request, b []byte) []byte {
		r.Header.Set("X-Padding", strings.Repeat("a", 2<<20))
		return b
	}), 431},

	// checkout
	{"checkout unsigned", signedCheckout(ckoValid, func(r *http.Request) { r.Header.Del("Cko-Signature") }), 401},
	{"checkout empty signature header", signedCheckout(ckoValid, func(r *http.Request) { r.Header.Set("Cko-Signature", "") }), 401},
	{"checkout signature of the wrong length", signedCheckout(ckoValid, func(r *http.Request) { r.Header.Set("Cko-Signature", "abcd") }), 401},
	{"checkout signature in base64", signedCheckout(ckoValid, func(r *http.Request) {
		r.Header.Set("Cko-Signature", "q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq80=")
	}), 401},
	{"checkout tampered body", fromGolden("checkout/tampered", "/checkout", nil), 401},
	{"checkout truncated body", fromGolden("checkout/payment_captured", "/checkout", func(_ *http.Request, b []byte) []byte { return b[:len(b)-10] }), 401},
	{"checkout Authorization missing", signedCheckout(ckoValid, func(r *http.Request) { r.Header.Del("Authorization") }), 403},
	{"checkout Authorization empty", signedCheckout(ckoValid, func(r *http.Request) { r.Header.Set("Authorization", "") }), 403},
	{"checkout Authorization wrong", signedCheckout(ckoValid, func(r *http.Request) { r.Header.Set("Authorization", "Bearer guess") }), 403},
	{"checkout duplicate JSON key, signed", signedCheckout(`{"id":"evt_d","type":"payment_declined","type":"payment_captured","data":{"reference":"o","amount":1,"currency":"HKD"}}`, nil), 400},
	{"checkout JSON keys differing in case, signed", signedCheckout(`{"id":"evt_d","type":"payment_declined","Type":"payment_captured","data":{"reference":"o","amount":1,"currency":"HKD"}}`, nil), 400},
	{"checkout invalid UTF-8, signed", signedCheckout("{\"id\":\"evt_u\",\"type\":\"payment_captured\",\"data\":{\"reference\":\"o\xff\",\"amount\":1,\"currency\":\"HKD\"}}", nil), 400},
	{"checkout byte order mark, signed", signedCheckout("\ufeff"+ckoValid, nil), 400},
	{"checkout JSON array, signed", signedCheckout(`[`+ckoValid+`]`, nil), 400},
	{"checkout JSON nested 40 deep, signed", signedCheckout(`{"id":"evt_n","type":"payment_captured","x":`+strings.Repeat(`{"a":`, 40)+`1`+strings.Repeat(`}`, 40)+`,"data":{"reference":"o","amount":1,"currency":"HKD"}}`, nil), 400},
	{"checkout data after the JSON, signed", signedCheckout(ckoValid+`{}`, nil), 400},
	{"checkout amount that overflows, signed", signedCheckout(strings.Replace(ckoValid, "1050", "99999999999999999999999", 1), nil), 400},
	{"checkout fractional minor amount, signed", signedCheckout(strings.Replace(ckoValid, "1050", "10.5", 1), nil), 400},
	{"checkout amount with an exponent, signed", signedCheckout(strings.Replace(ckoValid, "1050", "1e3", 1), nil), 400},
	{"checkout reference missing, signed", signedCheckout(strings.Replace(ckoValid, `"reference":"ORD-H",`, "", 1), nil), 400},
	{"checkout text/plain content type, signed", signedCheckout(ckoValid, func(r *http.Request) { r.Header.Set("Content-Type", "text/plain") }), 400},
	{"checkout PUT", signedCheckout(ckoValid, func(r *http.Request) { r.Method = http.MethodPut }), 405},

	// octopus
	{"octopus tampered", fromGolden("octopus/tampered", "/octopus", nil), 401},
	{"octopus number reformatted (99.50 → 99.5)", fromGolden("octopus/number_reformatted", "/octopus", nil), 401},
	{"octopus unsigned", fromGolden("octopus/unsigned", "/octopus", nil), 401},
	{"octopus OC-Key wrong", fromGolden("octopus/wrong_key", "/octopus", nil), 403},
	{"octopus OC-Key missing", fromGolden("octopus/no_key", "/octopus", nil), 403},
	{"octopus key with separators, signed", fromGolden("octopus/key_with_separators", "/octopus", nil), 400},
	{"octopus currency missing, signed", signedOctopus(without(octopusValid, "currency")), 400},
	{"octopus amount not a number, signed", signedOctopus(withField(octopusValid, "final_amount", "99,50")), 400},
	{"octopus duplicate key", fromGolden("octopus/duplicate_key", "/octopus", nil), 400},
	{"octopus currency swallowing the amount, signature valid", fromGolden("octopus/currency_swallows_amount", "/octopus", nil), 400},

	// oobit
	{"oobit tampered amount", fromGolden("oobit/tampered", "/oobit", nil), 401},
	{"oobit signature not base64", fromGolden("oobit/bad_base64", "/oobit", nil), 401},
	{"oobit hex where base64 is due", fromGolden("oobit/hex_not_base64", "/oobit", nil), 401},
	{"oobit unsigned", fromGolden("oobit/unsigned", "/oobit", nil), 401},
	{"oobit four-digit reply code, signed", fromGolden("oobit/shifted_reply_code", "/oobit", nil), 400},
	{"oobit GET with a body", fromGolden("oobit/get_with_body", "/oobit", nil), 400},
	{"oobit POST query shadowing a field", fromGolden("oobit/post_query_shadow", "/oobit", nil), 400},
	{"oobit field given twice", fromGolden("oobit/duplicate_field", "/oobit", nil), 400},
	{"oobit PUT", fromGolden("oobit/put", "/oobit", nil), 405},
	{"oobit source outside allow_ip", fromGolden("oobit/approved_get", "/oobit", func(r *http.Request, b []byte) []byte {
		r.Header.Set("X-Forwarded-For", "192.0.2.66")
		return b
	}), 403},
}

func TestHostileInputCatalogue(t *testing.T) {
	require.GreaterOrEqual(t, len(hostileCatalogue), 40)
	up := newUpstream(t)
	tc := caddytest.NewTester(t)
	initServer(tc, hostileCaddyfile(strings.TrimPrefix(up.URL, "http://"), "store bolt "+filepath.Join(t.TempDir(), "dedup.db"), startHostileAPI(t)), "caddyfile")

	seen := map[string]bool{}
	for _, h := range hostileCatalogue {
		require.False(t, seen[h.name], "a case named twice: %s", h.name)
		seen[h.name] = true
		t.Run(h.name, func(t *testing.T) {
			r := send(t, tc, h.build(t))
			assert.Equal(t, h.status, r.Status)
			for _, ack := range []string{"ACK", "success", "OK", "[accepted]"} {
				assert.NotEqual(t, ack, r.Body, "an ACK for a hostile request")
			}
			if h.status != http.StatusRequestHeaderFieldsTooLarge { // Go's server answers that one itself
				assert.Empty(t, r.Body, "an error reply says nothing to the sender")
			}
			assert.Empty(t, up.take(), "a hostile request reached the app")
		})
	}

	// A replay of a delivered event is acknowledged but not forwarded again.
	assert.Equal(t, "ACK", send(t, tc, golden(t, "octo3/accepted", "/octo3")).Body)
	assert.Len(t, up.take(), 1)
	assert.Equal(t, "ACK", send(t, tc, golden(t, "octo3/accepted", "/octo3")).Body)
	assert.Empty(t, up.take(), "a replay reached the app")
	perProvider := map[string]int{}
	for _, h := range hostileCatalogue {
		provider, _, _ := strings.Cut(h.name, " ")
		perProvider[provider]++
	}
	t.Logf("%d hostile inputs refused with their exact status, none forwarded; per provider: %v", len(hostileCatalogue), perProvider)
}
