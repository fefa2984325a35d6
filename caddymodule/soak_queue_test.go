package caddymodule

// The soak run's queued route (deliver queued): its app, and reading the
// queue's gauges from the admin endpoint's metrics.

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/paynotify/paynotify/internal/simulator"
)

// soakUpstreamSecret signs the queued route's deliveries (upstream_secret):
// a credential, never in the log.
const soakUpstreamSecret = "whsec_c29hay1xdWV1ZWQtdXBzdHJlYW0tc2VjcmV0"

// soakQueueApp is the app of the soak's queued route. It misbehaves as
// simulator.FaultyApp does (a share of 503s, slow answers, connections
// dropped after the request is read, an outage), with one difference: a
// slow request is not rolled back when its client gives up. The app
// finishes its work and accepts the event after the delivery's timeout,
// as an app that does not watch its client does; the worker saw no 2xx and
// delivers the event again. That is the duplicate deliver queued allows,
// and the only one this app can cause.
type soakQueueApp struct {
	server *httptest.Server
	faults simulator.Faults
	outage atomic.Bool
	secret *standardwebhooks.Webhook

	// Injected counts the faults: 5xx, slow, reset, outage, outage_drop,
	// and slow_client_gone (slow requests whose client had hung up when
	// the app accepted the event).
	Injected simulator.Tally
	attempts atomic.Int64

	mu       sync.Mutex
	accepted map[string][]soakAcceptance // order → each time the app accepted it
}

// soakAcceptance is what the app saw of one request it accepted.
type soakAcceptance struct {
	eventID, webhookID string
	signature          error // the upstream_secret signature's check
}

func newSoakQueueApp(f simulator.Faults) *soakQueueApp {
	wh, err := standardwebhooks.NewWebhook(soakUpstreamSecret)
	if err != nil {
		panic(err)
	}
	a := &soakQueueApp{faults: f, secret: wh, accepted: map[string][]soakAcceptance{}}
	a.server = httptest.NewUnstartedServer(http.HandlerFunc(a.serve))
	a.server.Config.ConnState = func(c net.Conn, state http.ConnState) {
		if state == http.StateNew && a.outage.Load() {
			c.Close()
		}
	}
	a.server.Start()
	return a
}

func (a *soakQueueApp) addr() string { return strings.TrimPrefix(a.server.URL, "http://") }

// Outage makes the app unreachable for d, in the background.
func (a *soakQueueApp) Outage(d time.Duration) {
	a.Injected.Add("outage")
	a.outage.Store(true)
	a.server.CloseClientConnections()
	time.AfterFunc(d, func() { a.outage.Store(false) })
}

// Accepted returns, per order, each acceptance of its event.
func (a *soakQueueApp) Accepted() map[string][]soakAcceptance {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make(map[string][]soakAcceptance, len(a.accepted))
	for k, v := range a.accepted {
		out[k] = append([]soakAcceptance(nil), v...)
	}
	return out
}

func (a *soakQueueApp) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	a.attempts.Add(1)
	if a.outage.Load() {
		a.Injected.Add("outage_drop")
		hijackClose(w)
		return
	}
	switch p := rand.Float64(); {
	case p < a.faults.Error5xx:
		a.Injected.Add("5xx")
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	case p < a.faults.Error5xx+a.faults.Slow:
		a.Injected.Add("slow")
		time.Sleep(a.faults.SlowFor) // the work goes on whatever the client does
		if r.Context().Err() != nil {
			a.Injected.Add("slow_client_gone")
		}
	case p < a.faults.Error5xx+a.faults.Slow+a.faults.Reset:
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
	got := soakAcceptance{
		eventID:   r.Header.Get("Paynotify-Event-Id"),
		webhookID: r.Header.Get(standardwebhooks.HeaderWebhookID),
		signature: a.secret.Verify(body, r.Header),
	}
	a.mu.Lock()
	a.accepted[event.OrderID] = append(a.accepted[event.OrderID], got)
	a.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

func hijackClose(w http.ResponseWriter) {
	if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
		conn.Close()
	}
}

// queueGauges reads the queue's gauges of provider from the admin
// endpoint's metrics (localhost:2999): caddy_paynotify_queue_depth and
// caddy_paynotify_dead_letters.
func queueGauges(provider string) (depth, dead float64, err error) {
	res, err := http.Get("http://localhost:2999/metrics")
	if err != nil {
		return 0, 0, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return 0, 0, fmt.Errorf("GET /metrics: %s", res.Status)
	}
	found := map[string]float64{}
	scanner := bufio.NewScanner(res.Body)
	scanner.Buffer(make([]byte, 1<<20), 1<<20)
	for scanner.Scan() {
		for _, name := range []string{"caddy_paynotify_queue_depth", "caddy_paynotify_dead_letters"} {
			if v, ok := strings.CutPrefix(scanner.Text(), name+`{provider="`+provider+`"} `); ok {
				if found[name], err = strconv.ParseFloat(v, 64); err != nil {
					return 0, 0, fmt.Errorf("%s: %v", name, err)
				}
			}
		}
	}
	if err := scanner.Err(); err != nil {
		return 0, 0, err
	}
	if _, ok := found["caddy_paynotify_queue_depth"]; !ok {
		return 0, 0, fmt.Errorf("no caddy_paynotify_queue_depth of %s in the metrics", provider)
	}
	return found["caddy_paynotify_queue_depth"], found["caddy_paynotify_dead_letters"], nil
}

// drainQueue waits until the queue of provider is empty (depth 0) or
// within has passed, and returns the last depth read and how long it took.
func drainQueue(provider string, within time.Duration) (depth, dead float64, took time.Duration, err error) {
	start := time.Now()
	for {
		depth, dead, err = queueGauges(provider)
		if (err == nil && depth == 0) || time.Since(start) > within {
			return depth, dead, time.Since(start), err
		}
		time.Sleep(50 * time.Millisecond)
	}
}
