package standin

import (
	"bytes"
	"io"
	"net/http"
)

// PayPal's IPN postback: POST /paypal/cgi-bin/webscr with
// cmd=_notify-validate& followed by the IPN exactly as PayPal sent it; the
// answer is VERIFIED or INVALID (text/html). Tests set
// inquire <stand-in>/paypal/cgi-bin/webscr.

type paypalIPNState struct {
	sent map[string]bool // the bodies PayPal sent
}

func (a *API) paypalIPN() *paypalIPNState {
	return state(a, "paypal_ipn", func() *paypalIPNState { return &paypalIPNState{sent: map[string]bool{}} })
}

// AddPayPalIPN registers body as an IPN PayPal sent: its postback, byte for
// byte, is VERIFIED.
func (a *API) AddPayPalIPN(body []byte) {
	s := a.paypalIPN()
	a.mu.Lock()
	defer a.mu.Unlock()
	s.sent[string(body)] = true
}

func init() {
	routes = append(routes, func(a *API, mux *http.ServeMux) {
		mux.HandleFunc("POST /paypal/cgi-bin/webscr", a.paypalIPNPostback)
	})
}

// paypalIPNValidate starts every postback.
var paypalIPNValidate = []byte("cmd=_notify-validate&")

func (a *API) paypalIPNPostback(w http.ResponseWriter, r *http.Request) {
	f := a.call("paypal_ipn")
	if a.misbehave(w, r, f) {
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return
	}
	rest, ok := bytes.CutPrefix(body, paypalIPNValidate)
	s := a.paypalIPN()
	a.mu.Lock()
	sent := ok && s.sent[string(rest)]
	calls := a.calls["paypal_ipn"]
	a.mu.Unlock()
	w.Header().Set("Content-Type", "text/html; charset=UTF-8")
	switch f {
	case ErrorCode:
		// PayPal's failure modes: an error page with 200, or nothing.
		if calls%2 == 1 {
			_, _ = io.WriteString(w, "<html><head><title>PayPal</title></head><body><h1>Sorry — your last action could not be completed</h1></body></html>")
		}
		return
	case Lie, Unknown:
		sent = false
	}
	if sent {
		_, _ = io.WriteString(w, "VERIFIED")
		return
	}
	_, _ = io.WriteString(w, "INVALID")
}
