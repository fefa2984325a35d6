// Package standin serves stand-ins of the payment providers' APIs that
// paynotify asks about notifications (verify by inquiry): oobit's
// getStatus.asp, octopus' order/get, Mollie's payments API, PayPal's IPN
// postback and PayPal's OAuth and verify-webhook-signature APIs. Tests, the
// simulator and the soak run point a provider's inquire option at one.
//
// A stand-in answers as the provider documents it, from the transactions
// the test (or the simulated provider) registered, and can be made to
// misbehave: slow, failing with 5xx, answering garbage or an error code,
// lying about a transaction, or redirecting elsewhere; always or for a
// fraction of the calls.
//
// The provider APIs are written here apart from package verifiers, from
// PRODUCT.md and the providers' documents, so that a shared misreading
// shows up as a refused notification.
package standin

import (
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Fault is how a stand-in misbehaves on a call.
type Fault int

const (
	// None: it answers as the provider does.
	None Fault = iota
	// Slow: it answers only after SlowFor (or when the caller gives up).
	Slow
	// ServerError: 500 with an HTML page, as a load balancer would.
	ServerError
	// Garbage: 200 with a body that is not the API's format.
	Garbage
	// ErrorCode: 200 (or the provider's usual status) with the provider's
	// own error answer (oobit "error":"1", octopus "result":"error", a PayPal
	// error object, ...).
	ErrorCode
	// Lie: it answers that the transaction is other than it is (another
	// status or amount; INVALID; verification FAILURE).
	Lie
	// Unknown: it does not know the transaction (404, an empty list).
	Unknown
	// Huge: 200 with a body over 1 MiB.
	Huge
	// Redirect: 302 to another host.
	Redirect
	// Drop: the connection is closed without an answer.
	Drop
)

var faultNames = map[Fault]string{None: "none", Slow: "slow", ServerError: "server_error", Garbage: "garbage",
	ErrorCode: "error_code", Lie: "lie", Unknown: "unknown", Huge: "huge", Redirect: "redirect", Drop: "drop"}

func (f Fault) String() string { return faultNames[f] }

// API is one stand-in server for every provider API. Its zero value is not
// usable; call New.
type API struct {
	mux *http.ServeMux

	mu       sync.Mutex
	fault    Fault
	fraction float64 // with fault: the share of calls that get it; 1 = all
	rng      *rand.Rand
	slowFor  time.Duration
	calls    map[string]int
	states   map[string]any
}

// routes are the provider stand-ins: each file registers its own in init.
var routes []func(a *API, mux *http.ServeMux)

// New returns a stand-in API with no fault.
func New() *API {
	a := &API{mux: http.NewServeMux(), fraction: 1, rng: rand.New(rand.NewPCG(1, 2)), slowFor: time.Minute,
		calls: map[string]int{}, states: map[string]any{}}
	for _, add := range routes {
		add(a, a.mux)
	}
	return a
}

// ServeHTTP implements http.Handler.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.mux.ServeHTTP(w, r) }

// SetFault makes every following call misbehave with f (None: behave).
func (a *API) SetFault(f Fault) { a.SetFaultFraction(f, 1) }

// SetFaultFraction makes a share (0 to 1) of the following calls, drawn at
// random, misbehave with f.
func (a *API) SetFaultFraction(f Fault, share float64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.fault, a.fraction = f, share
}

// SetSlowFor sets how long a Slow answer takes (default a minute).
func (a *API) SetSlowFor(d time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.slowFor = d
}

// Calls returns how many calls a route got: "oobit", "octopus", "mollie",
// "paypal_ipn", "paypal_token", "paypal_verify".
func (a *API) Calls(route string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.calls[route]
}

// call counts a call of route and returns the fault it gets.
func (a *API) call(route string) Fault {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.calls[route]++
	if a.fault == None || (a.fraction < 1 && a.rng.Float64() >= a.fraction) {
		return None
	}
	return a.fault
}

// state returns a provider's state, made by newState on first use.
func state[T any](a *API, name string, newState func() *T) *T {
	a.mu.Lock()
	defer a.mu.Unlock()
	s, ok := a.states[name].(*T)
	if !ok {
		s = newState()
		a.states[name] = s
	}
	return s
}

// misbehave answers the faults that look the same at every provider and
// reports whether it did: Slow, ServerError, Garbage, Huge, Redirect and
// Drop. ErrorCode, Lie and Unknown are the provider's to answer.
func (a *API) misbehave(w http.ResponseWriter, r *http.Request, f Fault) bool {
	switch f {
	case Slow:
		a.mu.Lock()
		d := a.slowFor
		a.mu.Unlock()
		select {
		case <-time.After(d):
		case <-r.Context().Done():
		}
		http.Error(w, "late", http.StatusGatewayTimeout)
	case ServerError:
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte("<html><body><h1>500 Internal Server Error</h1></body></html>"))
	case Garbage:
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte("<html><body>Service temporarily in maintenance</body></html>"))
	case Huge:
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"padding":"` + strings.Repeat("x", 1<<20+100) + `"}`))
	case Redirect:
		http.Redirect(w, r, "http://127.0.0.2:1/elsewhere", http.StatusFound)
	case Drop:
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				_ = conn.Close()
				return true
			}
		}
		panic(http.ErrAbortHandler)
	default:
		return false
	}
	return true
}
