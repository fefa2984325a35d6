package caddymodule_test

// The hostile catalogue of the batch providers, adyen and gocardless (see
// hostile_e2e_test.go). GoCardless' bad signatures get 498, its convention.

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The secrets of testdata/gen_golden_adyen.py and gen_golden_gocardless.py.
const (
	adyenTestKey  = "09A101BDBD5B1238FE30628D19AA125F297E0CCF31AC73635A07FCAE2BB3D263"
	adyenOldKey   = "1CDC8A284235F54528C72764ADEB977D707E2D21B834F1A1AECB1EE663CFA255"
	gocardlessKey = "gocardless-test-secret"
)

func init() {
	hostileRoutes = append(hostileRoutes, `
	handle /adyen {
		paynotify adyen {
			secret `+adyenTestKey+` `+adyenOldKey+`
			STORE
		}
		reverse_proxy UPSTREAM
	}
	handle /adyen/large {
		paynotify adyen {
			secret `+adyenTestKey+`
			max_body 2MiB
			STORE
			dedup_scope adyen-large
		}
		reverse_proxy UPSTREAM
	}
	handle /gocardless {
		paynotify gocardless {
			secret `+gocardlessKey+`
			STORE
		}
		reverse_proxy UPSTREAM
	}
	handle /gocardless/large {
		paynotify gocardless {
			secret `+gocardlessKey+`
			max_body 2MiB
			STORE
			dedup_scope gocardless-large
		}
		reverse_proxy UPSTREAM
	}
`)
	hostileCatalogue = append(hostileCatalogue, adyenHostile...)
	hostileCatalogue = append(hostileCatalogue, gocardlessHostile...)
}

// adyenSignature swaps the hmacSignature of every item of a golden Adyen
// request for what change makes of it.
func adyenSignature(change func(sig string) string) func(r *http.Request, b []byte) []byte {
	return func(_ *http.Request, b []byte) []byte {
		const field = `"hmacSignature":"`
		i := bytes.Index(b, []byte(field)) + len(field)
		j := i + bytes.IndexByte(b[i:], '"')
		return append(append(append([]byte{}, b[:i]...), change(string(b[i:j]))...), b[j:]...)
	}
}

// adyenItems is a batch of n copies of the genuine item of adyen/authorisation.
func adyenItems(n int) func(r *http.Request, b []byte) []byte {
	return func(_ *http.Request, b []byte) []byte {
		var body struct {
			NotificationItems []json.RawMessage `json:"notificationItems"`
		}
		if err := json.Unmarshal(b, &body); err != nil || len(body.NotificationItems) != 1 {
			panic(fmt.Sprintf("adyen/authorisation is not a batch of one: %v", err))
		}
		items := make([]string, n)
		for i := range items {
			items[i] = string(body.NotificationItems[0])
		}
		return []byte(`{"live":"false","notificationItems":[` + strings.Join(items, ",") + `]}`)
	}
}

func withHeader(name, value string) func(r *http.Request, b []byte) []byte {
	return func(r *http.Request, b []byte) []byte {
		r.Header.Set(name, value)
		return b
	}
}

func withMethod(method string) func(r *http.Request, b []byte) []byte {
	return func(r *http.Request, b []byte) []byte {
		r.Method = method
		return b
	}
}

var adyenHostile = []hostile{
	// Signatures: 401 for the whole batch.
	{"adyen tampered amount", fromGolden("adyen/tampered", "/adyen", nil), 401},
	{"adyen one bad item among two good ones", fromGolden("adyen/one_bad_item", "/adyen", nil), 401},
	{"adyen wrong secret", fromGolden("adyen/wrong_secret", "/adyen", nil), 401},
	{"adyen key used as text, not hex-decoded", fromGolden("adyen/text_key", "/adyen", nil), 401},
	{"adyen hmacSignature missing", fromGolden("adyen/unsigned", "/adyen", nil), 401},
	{"adyen additionalData missing", fromGolden("adyen/no_additional_data", "/adyen", nil), 401},
	{"adyen hmacSignature empty", fromGolden("adyen/authorisation", "/adyen", adyenSignature(func(string) string { return "" })), 401},
	{"adyen hmacSignature not base64", fromGolden("adyen/bad_base64", "/adyen", nil), 401},
	{"adyen hmacSignature in hex", fromGolden("adyen/hex_signature", "/adyen", nil), 401},
	{"adyen hmacSignature in base64url", fromGolden("adyen/authorisation", "/adyen", adyenSignature(func(s string) string {
		return strings.NewReplacer("+", "-", "/", "_").Replace(s)
	})), 401},
	{"adyen hmacSignature without padding", fromGolden("adyen/authorisation", "/adyen", adyenSignature(func(s string) string {
		return strings.TrimRight(s, "=")
	})), 401},
	{"adyen hmacSignature with a leading space", fromGolden("adyen/authorisation", "/adyen", adyenSignature(func(s string) string { return " " + s })), 401},
	{"adyen hmacSignature twice, comma-joined", fromGolden("adyen/authorisation", "/adyen", adyenSignature(func(s string) string { return s + "," + s })), 401},
	{"adyen signed field changed (success true to false)", fromGolden("adyen/authorisation", "/adyen", func(_ *http.Request, b []byte) []byte {
		return bytes.Replace(b, []byte(`"success":"true"`), []byte(`"success":"false"`), 1)
	}), 401},
	// Content: 400 for the whole batch, signatures valid.
	{"adyen duplicate JSON key, signed", fromGolden("adyen/duplicate_key_in_item", "/adyen", nil), 400},
	{"adyen duplicate top-level JSON key, signed", fromGolden("adyen/duplicate_key", "/adyen", nil), 400},
	{"adyen JSON keys differing in case, signed", fromGolden("adyen/case_folded_key", "/adyen", nil), 400},
	{"adyen invalid UTF-8 in an unsigned field", fromGolden("adyen/invalid_utf8", "/adyen", nil), 400},
	{"adyen colon moved across a field boundary, signature valid", fromGolden("adyen/colon_shifted", "/adyen", nil), 400},
	{"adyen success missing, signed", fromGolden("adyen/missing_success", "/adyen", nil), 400},
	{"adyen success not a boolean string, signed", fromGolden("adyen/success_not_boolean", "/adyen", nil), 400},
	{"adyen merchantReference missing on a payment event, signed", fromGolden("adyen/missing_reference", "/adyen", nil), 400},
	{"adyen fractional minor amount, signed", fromGolden("adyen/fractional_value", "/adyen", nil), 400},
	{"adyen negative amount, signed", fromGolden("adyen/negative_value", "/adyen", nil), 400},
	{"adyen empty batch", fromGolden("adyen/empty_batch", "/adyen", nil), 400},
	{"adyen no notificationItems", fromGolden("adyen/no_items", "/adyen", nil), 400},
	{"adyen item without NotificationRequestItem", fromGolden("adyen/item_without_request", "/adyen", nil), 400},
	{"adyen batch of 501 genuine items, over the item limit", fromGolden("adyen/authorisation", "/adyen/large", adyenItems(501)), 400},
	{"adyen query shadowing a top-level member", fromGolden("adyen/authorisation", "/adyen", func(r *http.Request, b []byte) []byte {
		r.URL.RawQuery = "live=true"
		return b
	}), 400},
	// Transport.
	{"adyen form content type", fromGolden("adyen/form_content_type", "/adyen", nil), 400},
	{"adyen no content type", fromGolden("adyen/authorisation", "/adyen", func(r *http.Request, b []byte) []byte { r.Header.Del("Content-Type"); return b }), 400},
	{"adyen GET", fromGolden("adyen/get_method", "/adyen", nil), 405},
	{"adyen PUT", fromGolden("adyen/authorisation", "/adyen", withMethod(http.MethodPut)), 405},
	{"adyen batch over max_body", fromGolden("adyen/authorisation", "/adyen", adyenItems(200)), 413},
	{"adyen header of 2 MB", fromGolden("adyen/authorisation", "/adyen", withHeader("X-Padding", strings.Repeat("a", 2<<20))), 431},
}

// signedGoCardless is a GoCardless webhook with body, signed with the test
// secret, then changed by change.
func signedGoCardless(body string, change func(*http.Request)) func(t *testing.T) *http.Request {
	return func(t *testing.T) *http.Request {
		mac := hmac.New(sha256.New, []byte(gocardlessKey))
		mac.Write([]byte(body))
		path := "/gocardless"
		if len(body) > 64<<10 {
			path = "/gocardless/large"
		}
		req, err := http.NewRequest(http.MethodPost, "http://localhost:9080"+path, strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Webhook-Signature", hex.EncodeToString(mac.Sum(nil)))
		if change != nil {
			change(req)
		}
		return req
	}
}

const gcValidEvent = `{"id":"EVHOSTILE0001","created_at":"2024-05-01T10:20:30.000Z","resource_type":"payments","action":"confirmed","links":{"payment":"PMHOSTILE0001"},"resource_metadata":{"order_id":"ORD-H"}}`

func gcBody(events ...string) string {
	return `{"events":[` + strings.Join(events, ",") + `],"meta":{"webhook_id":"WBHOSTILE"}}`
}

func gcEvents(n int) []string {
	events := make([]string, n)
	for i := range events {
		events[i] = strings.ReplaceAll(gcValidEvent, "HOSTILE0001", fmt.Sprintf("HOSTILE%04d", i))
	}
	return events
}

var gcValid = gcBody(gcValidEvent)

func gcSignature(change func(sig string) string) func(*http.Request) {
	return func(r *http.Request) { r.Header.Set("Webhook-Signature", change(r.Header.Get("Webhook-Signature"))) }
}

var gocardlessHostile = []hostile{
	// Signatures: 498.
	{"gocardless tampered body", fromGolden("gocardless/tampered", "/gocardless", nil), 498},
	{"gocardless second event of a batch tampered", fromGolden("gocardless/tampered_second_event", "/gocardless", nil), 498},
	{"gocardless wrong secret", fromGolden("gocardless/wrong_secret", "/gocardless", nil), 498},
	{"gocardless official vector without its trailing newline", fromGolden("gocardless/trailing_newline_dropped", "/gocardless", nil), 498},
	{"gocardless Webhook-Signature missing", signedGoCardless(gcValid, func(r *http.Request) { r.Header.Del("Webhook-Signature") }), 498},
	{"gocardless Webhook-Signature empty", signedGoCardless(gcValid, gcSignature(func(string) string { return "" })), 498},
	{"gocardless Webhook-Signature not hex", fromGolden("gocardless/bad_hex", "/gocardless", nil), 498},
	{"gocardless Webhook-Signature in base64", fromGolden("gocardless/base64_signature", "/gocardless", nil), 498},
	{"gocardless Webhook-Signature of the wrong length", signedGoCardless(gcValid, gcSignature(func(s string) string { return s[:32] })), 498},
	{"gocardless Webhook-Signature with a sha256= prefix", signedGoCardless(gcValid, gcSignature(func(s string) string { return "sha256=" + s })), 498},
	// (Spaces around a header value are not part of it in HTTP: net/http drops them.)
	{"gocardless Webhook-Signature with a space inside", signedGoCardless(gcValid, gcSignature(func(s string) string { return s[:32] + " " + s[32:] })), 498},
	{"gocardless two signatures in one header", signedGoCardless(gcValid, gcSignature(func(s string) string { return s + "," + s })), 498},
	{"gocardless signature in another header", signedGoCardless(gcValid, func(r *http.Request) {
		r.Header.Set("Webhook-Signature-V2", r.Header.Get("Webhook-Signature"))
		r.Header.Del("Webhook-Signature")
	}), 498},
	// Content: 400, signature valid.
	{"gocardless duplicate JSON key, signed", fromGolden("gocardless/duplicate_key", "/gocardless", nil), 400},
	{"gocardless JSON keys differing in case, signed", fromGolden("gocardless/case_folded_key", "/gocardless", nil), 400},
	{"gocardless invalid UTF-8, signed", fromGolden("gocardless/invalid_utf8", "/gocardless", nil), 400},
	{"gocardless empty events, signed", fromGolden("gocardless/empty_events", "/gocardless", nil), 400},
	{"gocardless no events, signed", fromGolden("gocardless/no_events", "/gocardless", nil), 400},
	{"gocardless event that is not an object, signed", fromGolden("gocardless/event_not_object", "/gocardless", nil), 400},
	{"gocardless event id missing, signed", fromGolden("gocardless/missing_id", "/gocardless", nil), 400},
	{"gocardless payment event without links.payment, signed", fromGolden("gocardless/payment_without_link", "/gocardless", nil), 400},
	{"gocardless batch of 501 events, over the item limit, signed", signedGoCardless(gcBody(gcEvents(501)...), nil), 400},
	{"gocardless JSON array, signed", signedGoCardless(`[`+gcValid+`]`, nil), 400},
	{"gocardless data after the JSON, signed", signedGoCardless(gcValid+`{}`, nil), 400},
	// Transport.
	{"gocardless form content type", fromGolden("gocardless/form_content_type", "/gocardless", nil), 400},
	{"gocardless GET", fromGolden("gocardless/get_method", "/gocardless", nil), 405},
	{"gocardless DELETE", signedGoCardless(gcValid, func(r *http.Request) { r.Method = http.MethodDelete }), 405},
	{"gocardless body over max_body", signedGoCardless(gcBody(gcEvents(400)...), func(r *http.Request) { r.URL.Path = "/gocardless" }), 413},
	{"gocardless header of 2 MB", signedGoCardless(gcValid, func(r *http.Request) { r.Header.Set("X-Padding", strings.Repeat("a", 2<<20)) }), 431},
}
