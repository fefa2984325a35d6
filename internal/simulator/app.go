package simulator

import (
	"encoding/json"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"time"
)

// Faults are the probabilities of each fault a FaultyApp injects.
type Faults struct {
	Error5xx float64       // answers 503
	Slow     float64       // answers after SlowFor, past the proxy's timeout
	SlowFor  time.Duration //
	Reset    float64       // reads the request, then drops the connection without a reply
}

// FaultyApp stands in for the merchant app: it records each event it
// accepted (answered 2xx in full) and injects faults. A slow request whose
// client gave up is rolled back, as a PHP script is aborted when its client
// disconnects. During an outage every connection is closed at once.
type FaultyApp struct {
	Server *httptest.Server
	Faults Faults

	outage   atomic.Bool
	accepted Tally // order id → times accepted
	Injected Tally // fault → count
}

// NewFaultyApp starts the app on a loopback port.
func NewFaultyApp(f Faults) *FaultyApp {
	a := &FaultyApp{Faults: f}
	a.Server = httptest.NewUnstartedServer(http.HandlerFunc(a.serve))
	a.Server.Config.ConnState = func(c net.Conn, state http.ConnState) {
		if state == http.StateNew && a.outage.Load() {
			c.Close()
		}
	}
	a.Server.Start()
	return a
}

// Outage makes the app unreachable for d, in the background.
func (a *FaultyApp) Outage(d time.Duration) {
	a.Injected.Add("outage")
	a.outage.Store(true)
	a.Server.CloseClientConnections()
	time.AfterFunc(d, func() { a.outage.Store(false) })
}

// Accepted returns how many times each order's event was accepted.
func (a *FaultyApp) Accepted() map[string]int { return a.accepted.Snapshot() }

func (a *FaultyApp) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	if a.outage.Load() {
		a.Injected.Add("outage_drop")
		hijackClose(w)
		return
	}
	switch p := rand.Float64(); {
	case p < a.Faults.Error5xx:
		a.Injected.Add("5xx")
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	case p < a.Faults.Error5xx+a.Faults.Slow:
		a.Injected.Add("slow")
		select {
		case <-time.After(a.Faults.SlowFor):
		case <-r.Context().Done():
			return // the proxy gave up: roll back
		}
	case p < a.Faults.Error5xx+a.Faults.Slow+a.Faults.Reset:
		a.Injected.Add("reset")
		hijackClose(w)
		return
	}
	var event struct {
		OrderID string `json:"order_id"`
	}
	if json.Unmarshal(body, &event) != nil || event.OrderID == "" {
		w.WriteHeader(http.StatusUnprocessableEntity)
		return
	}
	a.accepted.Add(event.OrderID)
	w.WriteHeader(http.StatusOK)
}

func hijackClose(w http.ResponseWriter) {
	if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
		conn.Close()
	}
}
