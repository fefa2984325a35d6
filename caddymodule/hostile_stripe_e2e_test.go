package caddymodule_test

// The hostile cases of stripe and paddle. Both sign a Unix time with the
// body, so every case is signed here at time.Now() (a golden request's time
// is long past the tolerance and would hide what else is wrong with it).

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddytest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	stripeHostileSecret = "whsec_hostile_stripe"
	paddleHostileSecret = "pdl_ntfset_hostile_paddle"
)

// timedSigned is a notification to path whose header is built by header
// from the time (shifted by skew from now) and the hex HMAC of
// "<time><join><body>" under secret; change alters the request last.
func timedSigned(path, headerName, secret string, join byte, skew time.Duration, body string,
	header func(ts, sig string) string, change func(*http.Request)) func(t *testing.T) *http.Request {
	return func(t *testing.T) *http.Request {
		ts := strconv.FormatInt(time.Now().Add(skew).Unix(), 10)
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write([]byte(ts + string(join) + body))
		req, err := http.NewRequest(http.MethodPost, "http://localhost:9080"+path, strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(headerName, header(ts, hex.EncodeToString(mac.Sum(nil))))
		if change != nil {
			change(req)
		}
		return req
	}
}

func stripeHostile(body string, header func(ts, sig string) string, change func(*http.Request)) func(t *testing.T) *http.Request {
	return timedSigned("/stripe", "Stripe-Signature", stripeHostileSecret, '.', 0, body, header, change)
}

func paddleHostile(body string, header func(ts, sig string) string, change func(*http.Request)) func(t *testing.T) *http.Request {
	return timedSigned("/paddle", "Paddle-Signature", paddleHostileSecret, ':', 0, body, header, change)
}

func stripeHeader(ts, sig string) string { return "t=" + ts + ",v1=" + sig }
func paddleHeader(ts, sig string) string { return "ts=" + ts + ";h1=" + sig }

// header2MB pads the request with a header Go's server refuses (431).
func header2MB(r *http.Request) { r.Header.Set("X-Padding", strings.Repeat("a", 2<<20)) }

const (
	stripeValid = `{"id":"evt_hostile","object":"event","created":1714558830,"type":"payment_intent.succeeded",` +
		`"data":{"object":{"id":"pi_h","object":"payment_intent","amount":1050,"currency":"usd","metadata":{"order_id":"ORD-H"}}}}`
	paddleValid = `{"event_id":"evt_hostile","event_type":"transaction.completed","occurred_at":"2024-05-01T10:20:28Z",` +
		`"data":{"id":"txn_h","currency_code":"USD","custom_data":{"order_id":"ORD-H"},"details":{"totals":{"grand_total":"1050"}}}}`
)

func init() {
	hostileRoutes = append(hostileRoutes, `
	handle /stripe {
		paynotify stripe {
			secret `+stripeHostileSecret+`
			STORE
		}
		reverse_proxy UPSTREAM
	}
	handle /paddle {
		paynotify paddle {
			secret `+paddleHostileSecret+`
			STORE
		}
		reverse_proxy UPSTREAM
	}
`)
	old, future := -(5*time.Minute + 30*time.Second), 5*time.Minute+30*time.Second
	hostileCatalogue = append(hostileCatalogue,
		// stripe: signature
		hostile{"stripe tampered body", stripeHostile(stripeValid, stripeHeader, func(r *http.Request) {
			setBody(r, strings.Replace(stripeValid, "1050", "9050", 1))
		}), 401},
		hostile{"stripe wrong secret", timedSigned("/stripe", "Stripe-Signature", "whsec_guess", '.', 0, stripeValid, stripeHeader, nil), 401},
		hostile{"stripe Paddle's join (<t>:<body>)", timedSigned("/stripe", "Stripe-Signature", stripeHostileSecret, ':', 0, stripeValid, stripeHeader, nil), 401},
		hostile{"stripe signature header missing", stripeHostile(stripeValid, stripeHeader, func(r *http.Request) { r.Header.Del("Stripe-Signature") }), 401},
		hostile{"stripe signature header empty", stripeHostile(stripeValid, func(string, string) string { return "" }, nil), 401},
		hostile{"stripe signature header not name=value", stripeHostile(stripeValid, func(ts, sig string) string { return ts + "," + sig }, nil), 401},
		hostile{"stripe no t", stripeHostile(stripeValid, func(_, sig string) string { return "v1=" + sig }, nil), 401},
		hostile{"stripe t given twice", stripeHostile(stripeValid, func(ts, sig string) string { return "t=" + ts + ",t=1,v1=" + sig }, nil), 401},
		hostile{"stripe v0 only", stripeHostile(stripeValid, func(ts, sig string) string { return "t=" + ts + ",v0=" + sig }, nil), 401},
		hostile{"stripe v2 only", stripeHostile(stripeValid, func(ts, sig string) string { return "t=" + ts + ",v2=" + sig }, nil), 401},
		hostile{"stripe upper-case names", stripeHostile(stripeValid, func(ts, sig string) string { return "T=" + ts + ",V1=" + sig }, nil), 401},
		hostile{"stripe spaces after the commas", stripeHostile(stripeValid, func(ts, sig string) string { return "t=" + ts + ", v1=" + sig }, nil), 401},
		hostile{"stripe v1 not hex", stripeHostile(stripeValid, func(ts, sig string) string { return "t=" + ts + ",v1=" + strings.Repeat("z", 64) }, nil), 401},
		hostile{"stripe v1 truncated", stripeHostile(stripeValid, func(ts, sig string) string { return "t=" + ts + ",v1=" + sig[:32] }, nil), 401},
		hostile{"stripe v1 in base64", stripeHostile(stripeValid, func(ts, _ string) string {
			return "t=" + ts + ",v1=q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq80="
		}, nil), 401},
		hostile{"stripe two signature headers", stripeHostile(stripeValid, stripeHeader, func(r *http.Request) {
			r.Header.Add("Stripe-Signature", r.Header.Get("Stripe-Signature"))
		}), 401},
		hostile{"stripe t too old", timedSigned("/stripe", "Stripe-Signature", stripeHostileSecret, '.', old, stripeValid, stripeHeader, nil), 401},
		hostile{"stripe t in the future", timedSigned("/stripe", "Stripe-Signature", stripeHostileSecret, '.', future, stripeValid, stripeHeader, nil), 401},
		// stripe: body, signed
		hostile{"stripe duplicate JSON key, signed", stripeHostile(strings.Replace(stripeValid, `"type":`, `"type":"payment_intent.payment_failed","type":`, 1), stripeHeader, nil), 400},
		hostile{"stripe JSON keys differing in case, signed", stripeHostile(strings.Replace(stripeValid, `"type":`, `"Type":"payment_intent.payment_failed","type":`, 1), stripeHeader, nil), 400},
		hostile{"stripe invalid UTF-8, signed", stripeHostile(strings.Replace(stripeValid, "ORD-H", "ORD-\xff", 1), stripeHeader, nil), 400},
		hostile{"stripe JSON array, signed", stripeHostile("["+stripeValid+"]", stripeHeader, nil), 400},
		hostile{"stripe order reference missing, signed", stripeHostile(strings.Replace(stripeValid, `"order_id":"ORD-H"`, `"cart":"c1"`, 1), stripeHeader, nil), 400},
		hostile{"stripe id missing, signed", stripeHostile(strings.Replace(stripeValid, `"id":"evt_hostile",`, "", 1), stripeHeader, nil), 400},
		hostile{"stripe type missing, signed", stripeHostile(strings.Replace(stripeValid, `"type":"payment_intent.succeeded",`, "", 1), stripeHeader, nil), 400},
		hostile{"stripe fractional minor amount, signed", stripeHostile(strings.Replace(stripeValid, "1050", "10.5", 1), stripeHeader, nil), 400},
		hostile{"stripe query shadowing type", stripeHostile(stripeValid, stripeHeader, func(r *http.Request) { r.URL.RawQuery = "type=charge.refunded" }), 400},
		// stripe: transport
		hostile{"stripe text/plain content type, signed", stripeHostile(stripeValid, stripeHeader, func(r *http.Request) { r.Header.Set("Content-Type", "text/plain") }), 400},
		hostile{"stripe GET", stripeHostile(stripeValid, stripeHeader, func(r *http.Request) { r.Method = http.MethodGet }), 405},
		hostile{"stripe header of 2 MB", stripeHostile(stripeValid, stripeHeader, header2MB), 431},

		// paddle: signature
		hostile{"paddle tampered body", paddleHostile(paddleValid, paddleHeader, func(r *http.Request) {
			setBody(r, strings.Replace(paddleValid, `"1050"`, `"9050"`, 1))
		}), 401},
		hostile{"paddle wrong secret", timedSigned("/paddle", "Paddle-Signature", "pdl_ntfset_guess", ':', 0, paddleValid, paddleHeader, nil), 401},
		hostile{"paddle Stripe's join (<ts>.<body>)", timedSigned("/paddle", "Paddle-Signature", paddleHostileSecret, '.', 0, paddleValid, paddleHeader, nil), 401},
		hostile{"paddle signature header missing", paddleHostile(paddleValid, paddleHeader, func(r *http.Request) { r.Header.Del("Paddle-Signature") }), 401},
		hostile{"paddle signature header empty", paddleHostile(paddleValid, func(string, string) string { return "" }, nil), 401},
		hostile{"paddle signature header not name=value", paddleHostile(paddleValid, func(string, string) string { return "invalid_header" }, nil), 401},
		hostile{"paddle no ts", paddleHostile(paddleValid, func(_, sig string) string { return "h1=" + sig }, nil), 401},
		hostile{"paddle ts given twice", paddleHostile(paddleValid, func(ts, sig string) string { return "ts=" + ts + ";ts=1;h1=" + sig }, nil), 401},
		hostile{"paddle h2 only", paddleHostile(paddleValid, func(ts, sig string) string { return "ts=" + ts + ";h2=" + sig }, nil), 401},
		hostile{"paddle upper-case names", paddleHostile(paddleValid, func(ts, sig string) string { return "TS=" + ts + ";H1=" + sig }, nil), 401},
		hostile{"paddle comma separators", paddleHostile(paddleValid, func(ts, sig string) string { return "ts=" + ts + ",h1=" + sig }, nil), 401},
		hostile{"paddle spaces after the semicolons", paddleHostile(paddleValid, func(ts, sig string) string { return "ts=" + ts + "; h1=" + sig }, nil), 401},
		hostile{"paddle h1 not hex", paddleHostile(paddleValid, func(ts, _ string) string { return "ts=" + ts + ";h1=invalid_signature" }, nil), 401},
		hostile{"paddle two signature headers", paddleHostile(paddleValid, paddleHeader, func(r *http.Request) {
			r.Header.Add("Paddle-Signature", r.Header.Get("Paddle-Signature"))
		}), 401},
		hostile{"paddle ts too old", timedSigned("/paddle", "Paddle-Signature", paddleHostileSecret, ':', old, paddleValid, paddleHeader, nil), 401},
		hostile{"paddle ts in the future", timedSigned("/paddle", "Paddle-Signature", paddleHostileSecret, ':', future, paddleValid, paddleHeader, nil), 401},
		// paddle: body, signed
		hostile{"paddle duplicate JSON key, signed", paddleHostile(strings.Replace(paddleValid, `"event_type":`, `"event_type":"transaction.payment_failed","event_type":`, 1), paddleHeader, nil), 400},
		hostile{"paddle JSON keys differing in case, signed", paddleHostile(strings.Replace(paddleValid, `"event_type":`, `"Event_Type":"transaction.payment_failed","event_type":`, 1), paddleHeader, nil), 400},
		hostile{"paddle invalid UTF-8, signed", paddleHostile(strings.Replace(paddleValid, "ORD-H", "ORD-\xff", 1), paddleHeader, nil), 400},
		hostile{"paddle order reference missing, signed", paddleHostile(strings.Replace(paddleValid, `"order_id":"ORD-H"`, `"cart":"c1"`, 1), paddleHeader, nil), 400},
		hostile{"paddle event_id missing, signed", paddleHostile(strings.Replace(paddleValid, `"event_id":"evt_hostile",`, "", 1), paddleHeader, nil), 400},
		hostile{"paddle amount as a JSON number, signed", paddleHostile(strings.Replace(paddleValid, `"1050"`, `1050`, 1), paddleHeader, nil), 400},
		hostile{"paddle negative amount, signed", paddleHostile(strings.Replace(paddleValid, `"1050"`, `"-1050"`, 1), paddleHeader, nil), 400},
		hostile{"paddle query shadowing event_type", paddleHostile(paddleValid, paddleHeader, func(r *http.Request) { r.URL.RawQuery = "event_type=transaction.canceled" }), 400},
		// paddle: transport
		hostile{"paddle form content type, signed", paddleHostile(paddleValid, paddleHeader, func(r *http.Request) {
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}), 400},
		hostile{"paddle PUT", paddleHostile(paddleValid, paddleHeader, func(r *http.Request) { r.Method = http.MethodPut }), 405},
		hostile{"paddle header of 2 MB", paddleHostile(paddleValid, paddleHeader, header2MB), 431},
	)
}

// setBody replaces the body of r after it was signed.
func setBody(r *http.Request, body string) {
	r.Body = io.NopCloser(strings.NewReader(body))
	r.ContentLength = int64(len(body))
}

// TestStripePaddleHostileRoutesAcceptGenuine is the control of the cases
// above: through the same routes, a notification signed the way the cases
// sign theirs is acknowledged and forwarded once, and its replay is
// acknowledged without reaching the app again; so the refusals above are
// for what each case changed.
func TestStripePaddleHostileRoutesAcceptGenuine(t *testing.T) {
	up := newUpstream(t)
	tc := caddytest.NewTester(t)
	initServer(tc, hostileCaddyfile(strings.TrimPrefix(up.URL, "http://"), "store bolt "+filepath.Join(t.TempDir(), "dedup.db"), startHostileAPI(t)), "caddyfile")
	for name, build := range map[string]func(t *testing.T) *http.Request{
		"stripe": stripeHostile(stripeValid, stripeHeader, nil),
		"paddle": paddleHostile(paddleValid, paddleHeader, nil),
		// Several signatures, the configured secret's last, and other schemes.
		"stripe rolled": stripeHostile(strings.Replace(stripeValid, "evt_hostile", "evt_rolled", 1), func(ts, sig string) string {
			return "t=" + ts + ",v1=" + strings.Repeat("0", 64) + ",v1=" + sig + ",v0=" + sig
		}, nil),
		"paddle rolled": paddleHostile(strings.Replace(paddleValid, "evt_hostile", "evt_rolled", 1), func(ts, sig string) string {
			return "ts=" + ts + ";h1=" + strings.Repeat("0", 64) + ";h1=" + sig + ";h2=" + sig
		}, nil),
	} {
		t.Run(name, func(t *testing.T) {
			r := send(t, tc, build(t))
			assert.Equal(t, http.StatusOK, r.Status)
			assert.Empty(t, r.Body)
			got := up.take()
			require.Len(t, got, 1)
			assert.Contains(t, string(got[0].Body), `"order_id":"ORD-H"`)
			r = send(t, tc, build(t))
			assert.Equal(t, http.StatusOK, r.Status, "a replay within the dedup window is acknowledged")
			assert.Empty(t, up.take(), "and not forwarded again")
		})
	}
}
