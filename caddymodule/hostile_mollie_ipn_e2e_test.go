package caddymodule_test

// The hostile cases of the two providers that nothing but an inquiry can
// authenticate: Mollie (the webhook is only id=tr_..., optionally signed)
// and PayPal IPN (no signature at all, a postback). The forgeries only the
// inquiry catches are here: an id Mollie does not know, an IPN PayPal did
// not send or that was changed. An id of a payment that is not paid is not
// a refusal: it is delivered with Mollie's status
// (TestMollieInquiryForgedWebhooks).

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/paynotify/paynotify/internal/standin"
)

const (
	mollieHostileKey    = "test_hostile_mollie_key"
	mollieHostileSecret = "mollie-hostile-webhook-secret"
)

// mollieHostile is a Mollie webhook with body, its X-Mollie-Signature
// made by header from the hex HMAC-SHA256 of body under the route's secret
// (header "" leaves it out); change alters the request last.
func mollieHostile(body string, header func(sig string) string, change func(*http.Request)) func(t *testing.T) *http.Request {
	return func(t *testing.T) *http.Request {
		hostileAPI.AddMolliePayment(mollieHostileKey, standin.MolliePayment{ID: "tr_HostilePaid", Status: "paid",
			Value: "10.00", Currency: "EUR", Metadata: map[string]any{"order_id": "ORD-H"}})
		mac := hmac.New(sha256.New, []byte(mollieHostileSecret))
		mac.Write([]byte(body))
		req, err := http.NewRequest(http.MethodPost, "http://localhost:9080/mollie", strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if header != nil {
			req.Header.Set("X-Mollie-Signature", header(hex.EncodeToString(mac.Sum(nil))))
		}
		if change != nil {
			change(req)
		}
		return req
	}
}

func mollieSig(sig string) string { return "sha256=" + sig }

// ipnHostile is the golden IPN name aimed at /paypal_ipn; with sent, the
// stand-in PayPal knows it (it sent it); change alters the body after that.
func ipnHostile(name string, sent bool, change func(r *http.Request, body []byte) []byte) func(t *testing.T) *http.Request {
	build := fromGolden("paypal_ipn/"+name, "/paypal_ipn", nil)
	return func(t *testing.T) *http.Request {
		req := build(t)
		body, err := io.ReadAll(req.Body)
		require.NoError(t, err)
		if sent {
			hostileAPI.AddPayPalIPN(body)
		}
		if change != nil {
			body = change(req, body)
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
		req.ContentLength = int64(len(body))
		return req
	}
}

func init() {
	hostileRoutes = append(hostileRoutes, `
	handle /mollie {
		paynotify mollie {
			api_key `+mollieHostileKey+`
			secret `+mollieHostileSecret+`
			inquire INQUIRE/mollie
			inquiry_timeout 2s
			STORE
		}
		reverse_proxy UPSTREAM
	}
	handle /paypal_ipn {
		paynotify paypal_ipn {
			receiver merchant@shop.example
			inquire INQUIRE/paypal/cgi-bin/webscr
			inquiry_timeout 2s
			STORE
		}
		reverse_proxy UPSTREAM
	}
`)
	const paid = "id=tr_HostilePaid"
	hostileCatalogue = append(hostileCatalogue,
		// mollie: what only the inquiry catches
		hostile{"mollie id Mollie does not know, signed", mollieHostile("id=tr_Forged4242", mollieSig, nil), 401},
		hostile{"mollie id of another account's payment, signed", func(t *testing.T) *http.Request {
			hostileAPI.AddMolliePayment("test_another_account", standin.MolliePayment{ID: "tr_OtherAccount", Status: "paid",
				Value: "10.00", Currency: "EUR", Metadata: map[string]any{"order_id": "ORD-H"}})
			return mollieHostile("id=tr_OtherAccount", mollieSig, nil)(t)
		}, 401},
		// mollie: the id, before it goes into the API's URL
		hostile{"mollie path traversal in id, signed", mollieHostile("id=tr_..%2F..%2Fv2%2Frefunds", mollieSig, nil), 400},
		hostile{"mollie query in id, signed", mollieHostile("id=tr_x%3Fy", mollieSig, nil), 400},
		hostile{"mollie encoded slash in id, signed", mollieHostile("id=tr_a%252Fb", mollieSig, nil), 400},
		hostile{"mollie order id instead of a payment id, signed", mollieHostile("id=ord_kEn1PlbGa", mollieSig, nil), 400},
		hostile{"mollie id of 65 characters, signed", mollieHostile("id=tr_"+strings.Repeat("a", 65), mollieSig, nil), 400},
		hostile{"mollie id given twice, signed", mollieHostile(paid+"&id=tr_Forged4242", mollieSig, nil), 400},
		hostile{"mollie id missing, signed", mollieHostile("status=paid", mollieSig, nil), 400},
		hostile{"mollie query shadowing id", mollieHostile(paid, mollieSig, func(r *http.Request) { r.URL.RawQuery = "id=tr_Forged4242" }), 400},
		hostile{"mollie invalid UTF-8, signed", mollieHostile(paid+"&x=%FF", mollieSig, nil), 400},
		hostile{"mollie JSON body, signed", mollieHostile(`{"id":"tr_HostilePaid"}`, mollieSig, func(r *http.Request) {
			r.Header.Set("Content-Type", "application/json")
		}), 400},
		hostile{"mollie GET", mollieHostile("", mollieSig, func(r *http.Request) {
			r.Method = http.MethodGet
			r.URL.RawQuery = paid
		}), 405},
		// mollie: the signature (the route has a secret)
		hostile{"mollie signature header missing", mollieHostile(paid, nil, nil), 401},
		hostile{"mollie signature header empty", mollieHostile(paid, func(string) string { return "" }, nil), 401},
		hostile{"mollie tampered body", mollieHostile(paid, mollieSig, func(r *http.Request) { setBody(r, "id=tr_Forged4242") }), 401},
		hostile{"mollie wrong secret", func(t *testing.T) *http.Request {
			mac := hmac.New(sha256.New, []byte("a-guessed-secret"))
			mac.Write([]byte(paid))
			return mollieHostile(paid, func(string) string { return "sha256=" + hex.EncodeToString(mac.Sum(nil)) }, nil)(t)
		}, 401},
		hostile{"mollie signature not hex", mollieHostile(paid, func(string) string { return "sha256=" + strings.Repeat("zz", 32) }, nil), 401},
		hostile{"mollie signature truncated", mollieHostile(paid, func(sig string) string { return "sha256=" + sig[:62] }, nil), 401},
		hostile{"mollie signature with sha1= only", mollieHostile(paid, func(sig string) string { return "sha1=" + sig }, nil), 401},
		hostile{"mollie signature with a space after sha256=", mollieHostile(paid, func(sig string) string { return "sha256= " + sig }, nil), 401},
		hostile{"mollie signature in base64", mollieHostile(paid, func(sig string) string {
			raw, _ := hex.DecodeString(sig)
			return "sha256=" + base64.StdEncoding.EncodeToString(raw)
		}, nil), 401},
		hostile{"mollie header of 2 MB", mollieHostile(paid, mollieSig, header2MB), 431},

		// paypal_ipn: what only the postback catches
		hostile{"paypal_ipn IPN PayPal did not send", ipnHostile("forged", false, nil), 401},
		hostile{"paypal_ipn tampered amount of a genuine IPN", func(t *testing.T) *http.Request {
			ipnHostile("completed", true, nil)(t) // PayPal sent the genuine one
			return ipnHostile("tampered_amount", false, nil)(t)
		}, 401},
		hostile{"paypal_ipn genuine Pending IPN upgraded to Completed", ipnHostile("pending", true, func(_ *http.Request, b []byte) []byte {
			return bytes.Replace(b, []byte("payment_status=Pending"), []byte("payment_status=Completed"), 1)
		}), 401},
		hostile{"paypal_ipn genuine IPN with a field added", ipnHostile("voided", true, func(_ *http.Request, b []byte) []byte {
			return append(b, "&note=x"...)
		}), 401},
		hostile{"paypal_ipn genuine IPN re-encoded (%20 for +)", ipnHostile("denied", true, func(_ *http.Request, b []byte) []byte {
			return bytes.ReplaceAll(b, []byte("+"), []byte("%20"))
		}), 401},
		// paypal_ipn: refused before the postback
		hostile{"paypal_ipn genuine IPN for another receiver", ipnHostile("receiver_mismatch", true, nil), 403},
		hostile{"paypal_ipn no receiver", ipnHostile("no_receiver", true, nil), 403},
		hostile{"paypal_ipn unknown charset", ipnHostile("unknown_charset", true, nil), 400},
		hostile{"paypal_ipn UTF-7 charset", ipnHostile("utf7", true, nil), 400},
		hostile{"paypal_ipn invalid UTF-8 under charset UTF-8", ipnHostile("invalid_utf8", true, nil), 400},
		hostile{"paypal_ipn field given twice", ipnHostile("field_twice", true, nil), 400},
		hostile{"paypal_ipn txn_id and ipn_track_id missing", ipnHostile("no_txn_id", true, nil), 400},
		hostile{"paypal_ipn order reference missing", ipnHostile("no_order", true, nil), 400},
		hostile{"paypal_ipn mc_gross not a decimal", ipnHostile("negative_garbage", true, nil), 400},
		hostile{"paypal_ipn query shadowing payment_status", ipnHostile("completed_utf8", true, func(r *http.Request, b []byte) []byte {
			r.URL.RawQuery = "payment_status=Completed"
			return b
		}), 400},
		hostile{"paypal_ipn JSON content type", ipnHostile("json_type", true, nil), 400},
		hostile{"paypal_ipn GET", ipnHostile("get", true, nil), 405},
		hostile{"paypal_ipn header of 2 MB", ipnHostile("expired", true, func(r *http.Request, b []byte) []byte {
			header2MB(r)
			return b
		}), 431},
	)
}
