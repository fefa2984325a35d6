package caddymodule_test

// The hostile cases of paypal (REST webhooks, verified by PayPal's
// verify-webhook-signature API, here hostileAPI). The transmissions are
// signed by the stand-in as PayPal signs them; the forgeries that only
// PayPal's check catches (a tampered or re-serialized event, another
// webhook's transmission, a signature changed in one character) are refused
// by the API, the others before it is asked.

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const (
	paypalHostileWebhook = "WH-HOSTILE-8PT597110X"
	paypalHostileValid   = `{"id":"WH-HOSTILE-1","event_version":"1.0","create_time":"2024-05-01T10:20:29.613Z",` +
		`"resource_type":"capture","event_type":"PAYMENT.CAPTURE.COMPLETED","summary":"Payment completed",` +
		`"resource":{"id":"CAPH1","status":"COMPLETED","amount":{"currency_code":"USD","value":"10.50"},"invoice_id":"ORD-H"}}`
)

// paypalHostile is body signed by hostileAPI for webhook, sent to /paypal;
// change alters the request last.
func paypalHostile(webhook, body string, change func(*http.Request)) func(t *testing.T) *http.Request {
	return func(t *testing.T) *http.Request {
		hostileAPI.SetPayPalClient("hostile-client", "hostile-client-secret")
		req, err := http.NewRequest(http.MethodPost, "http://localhost:9080/paypal", strings.NewReader(body))
		require.NoError(t, err)
		req.Header = hostileAPI.SignPayPalWebhook(webhook, []byte(body))
		req.Header.Set("Content-Type", "application/json")
		if change != nil {
			change(req)
		}
		return req
	}
}

func paypalValid(change func(*http.Request)) func(t *testing.T) *http.Request {
	return paypalHostile(paypalHostileWebhook, paypalHostileValid, change)
}

func paypalBodyWith(old, new string) string { return strings.Replace(paypalHostileValid, old, new, 1) }

func init() {
	hostileRoutes = append(hostileRoutes, `
	handle /paypal {
		paynotify paypal {
			webhook_id `+paypalHostileWebhook+`
			client_id hostile-client
			client_secret hostile-client-secret
			inquire INQUIRE/paypal
			STORE
		}
		reverse_proxy UPSTREAM
	}
`)
	header := func(name, value string) func(*http.Request) {
		return func(r *http.Request) { r.Header.Set(name, value) }
	}
	hostileCatalogue = append(hostileCatalogue,
		// paypal: what only PayPal's verify API catches (one call each)
		hostile{"paypal tampered amount", paypalValid(func(r *http.Request) {
			setBody(r, paypalBodyWith(`"value":"10.50"`, `"value":"90.50"`))
		}), 401},
		hostile{"paypal another webhook's transmission", paypalHostile("WH-OTHER-1JE4291016473214C", paypalHostileValid, nil), 401},
		hostile{"paypal signature changed in one character", paypalValid(func(r *http.Request) {
			sig := []byte(r.Header.Get("Paypal-Transmission-Sig"))
			sig[20] = map[bool]byte{true: 'B', false: 'A'}[sig[20] == 'A']
			r.Header.Set("Paypal-Transmission-Sig", string(sig))
		}), 401},
		hostile{"paypal event re-serialized after signing", paypalValid(func(r *http.Request) {
			var v any
			_ = json.Unmarshal([]byte(paypalHostileValid), &v)
			pretty, _ := json.MarshalIndent(v, "", "  ")
			setBody(r, string(pretty))
		}), 401},
		hostile{"paypal transmission of another event", paypalValid(func(r *http.Request) {
			setBody(r, paypalBodyWith(`"id":"WH-HOSTILE-1"`, `"id":"WH-HOSTILE-2"`))
		}), 401},
		hostile{"paypal transmission time changed", paypalValid(header("Paypal-Transmission-Time", "2031-01-01T00:00:00Z")), 401},
		// paypal: the transmission headers, refused before PayPal is asked
		hostile{"paypal certificate URL on another host", paypalValid(header("Paypal-Cert-Url", "https://certs.evil.example/v1/notifications/certs/CERT-1")), 401},
		hostile{"paypal certificate URL under a paypal.com-looking host", paypalValid(header("Paypal-Cert-Url", "https://api.paypal.com.evil.example/certs/CERT-1")), 401},
		hostile{"paypal certificate URL with user info", paypalValid(header("Paypal-Cert-Url", "https://api.paypal.com@evil.example/certs/CERT-1")), 401},
		hostile{"paypal certificate URL over http", paypalValid(header("Paypal-Cert-Url", "http://api.sandbox.paypal.com/v1/notifications/certs/CERT-standin")), 401},
		hostile{"paypal transmission id missing", paypalValid(func(r *http.Request) { r.Header.Del("Paypal-Transmission-Id") }), 401},
		hostile{"paypal transmission time missing", paypalValid(func(r *http.Request) { r.Header.Del("Paypal-Transmission-Time") }), 401},
		hostile{"paypal signature header missing", paypalValid(func(r *http.Request) { r.Header.Del("Paypal-Transmission-Sig") }), 401},
		hostile{"paypal auth algo missing", paypalValid(func(r *http.Request) { r.Header.Del("Paypal-Auth-Algo") }), 401},
		hostile{"paypal certificate URL missing", paypalValid(func(r *http.Request) { r.Header.Del("Paypal-Cert-Url") }), 401},
		hostile{"paypal signature header empty", paypalValid(header("Paypal-Transmission-Sig", "")), 401},
		hostile{"paypal signature not base64", paypalValid(header("Paypal-Transmission-Sig", "not-base64!!")), 401},
		hostile{"paypal signature of 3000 characters", paypalValid(header("Paypal-Transmission-Sig", strings.Repeat("QUFB", 750))), 401},
		hostile{"paypal two signature headers", paypalValid(func(r *http.Request) {
			r.Header.Add("Paypal-Transmission-Sig", r.Header.Get("Paypal-Transmission-Sig"))
		}), 401},
		hostile{"paypal two certificate URLs", paypalValid(func(r *http.Request) {
			r.Header.Add("Paypal-Cert-Url", "https://certs.evil.example/CERT-1")
		}), 401},
		// paypal: body, signed
		hostile{"paypal duplicate JSON key, signed", paypalHostile(paypalHostileWebhook,
			paypalBodyWith(`"event_type":`, `"event_type":"PAYMENT.CAPTURE.DENIED","event_type":`), nil), 400},
		hostile{"paypal JSON keys differing in case, signed", paypalHostile(paypalHostileWebhook,
			paypalBodyWith(`"event_type":`, `"Event_Type":"PAYMENT.CAPTURE.DENIED","event_type":`), nil), 400},
		hostile{"paypal invalid UTF-8, signed", paypalHostile(paypalHostileWebhook, paypalBodyWith("ORD-H", "ORD-\xff"), nil), 400},
		hostile{"paypal id missing, signed", paypalHostile(paypalHostileWebhook, paypalBodyWith(`"id":"WH-HOSTILE-1",`, ""), nil), 400},
		hostile{"paypal event_type missing, signed", paypalHostile(paypalHostileWebhook,
			paypalBodyWith(`"event_type":"PAYMENT.CAPTURE.COMPLETED",`, ""), nil), 400},
		hostile{"paypal order reference missing, signed", paypalHostile(paypalHostileWebhook, paypalBodyWith(`,"invoice_id":"ORD-H"`, ""), nil), 400},
		hostile{"paypal amount not a decimal, signed", paypalHostile(paypalHostileWebhook, paypalBodyWith(`"10.50"`, `"10,50"`), nil), 400},
		hostile{"paypal query shadowing event_type", paypalValid(func(r *http.Request) { r.URL.RawQuery = "event_type=PAYMENT.CAPTURE.COMPLETED" }), 400},
		// paypal: transport
		hostile{"paypal text/plain content type, signed", paypalValid(header("Content-Type", "text/plain")), 400},
		hostile{"paypal GET", paypalValid(func(r *http.Request) { r.Method = http.MethodGet }), 405},
		hostile{"paypal header of 2 MB", paypalValid(header2MB), 431},
	)
}
