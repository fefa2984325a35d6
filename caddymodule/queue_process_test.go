package caddymodule_test

// Tests of deliver queued across the life of real Caddy processes (the test
// binary re-executed as Caddy, see testcaddy.Start): SIGKILL, SIGTERM and
// reloads, with the bolt file; two nodes on one Redis with one killed. What
// was ACKed reaches the app; only an event whose delivery was in flight at a
// kill may reach it twice, and each test counts those.
//
// Each Caddy runs on free ports, so these tests need no caddytest lock.

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/paynotify/paynotify/internal/testcaddy"
	"github.com/paynotify/paynotify/internal/testredis"
)

// eventApp is the merchant app: it counts the requests it gets per
// Paynotify-Event-Id (each one is a delivery: the app acts on what it
// reads, whatever becomes of its answer), answering 200 after delay. It
// can be taken down and brought back on the same port.
type eventApp struct {
	t      *testing.T
	addr   string
	mu     sync.Mutex
	server *http.Server
	delay  time.Duration
	got    map[string]int    // event id → requests
	order  map[string]string // event id → order id
	busy   map[string]int    // event id → requests not yet answered
	total  int
}

// newEventApp starts the app on a free loopback port.
func newEventApp(t *testing.T) *eventApp {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	a := &eventApp{t: t, addr: l.Addr().String(), got: map[string]int{}, order: map[string]string{}, busy: map[string]int{}}
	a.serve(l)
	t.Cleanup(a.down)
	return a
}

func (a *eventApp) serve(l net.Listener) {
	server := &http.Server{Handler: http.HandlerFunc(a.handle)}
	a.mu.Lock()
	a.server = server
	a.mu.Unlock()
	go server.Serve(l)
}

func (a *eventApp) handle(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var event struct {
		OrderID string `json:"order_id"`
	}
	_ = json.Unmarshal(body, &event)
	id := r.Header.Get("Paynotify-Event-Id")
	a.mu.Lock()
	a.got[id]++
	a.order[id] = event.OrderID
	a.busy[id]++
	a.total++
	delay := a.delay
	a.mu.Unlock()
	time.Sleep(delay)
	w.WriteHeader(http.StatusOK)
	a.mu.Lock()
	if a.busy[id]--; a.busy[id] == 0 {
		delete(a.busy, id)
	}
	a.mu.Unlock()
}

// down takes the app down: its port refuses connections.
func (a *eventApp) down() {
	a.mu.Lock()
	server := a.server
	a.mu.Unlock()
	server.Close()
}

// up brings the app back on the same port.
func (a *eventApp) up() {
	l, err := net.Listen("tcp", a.addr)
	require.NoError(a.t, err)
	a.serve(l)
}

func (a *eventApp) setDelay(d time.Duration) {
	a.mu.Lock()
	a.delay = d
	a.mu.Unlock()
}

func (a *eventApp) requests() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.total
}

// inFlight lists the events whose request the app has but has not answered.
func (a *eventApp) inFlight() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var ids []string
	for id := range a.busy {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// counts returns the requests per event id, and the order of each event.
func (a *eventApp) counts() (got map[string]int, order map[string]string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	got, order = map[string]int{}, map[string]string{}
	for id, n := range a.got {
		got[id], order[id] = n, a.order[id]
	}
	return got, order
}

// waitRequests waits until the app got at least n requests.
func (a *eventApp) waitRequests(n int, within time.Duration) {
	a.t.Helper()
	deadline := time.Now().Add(within)
	for a.requests() < n {
		if time.Now().After(deadline) {
			a.t.Fatalf("the app got %d requests within %v, not %d", a.requests(), within, n)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// waitOrders waits until the app got an event of each order, and returns
// the requests per event id.
func (a *eventApp) waitOrders(orders []string, within time.Duration) map[string]int {
	a.t.Helper()
	deadline := time.Now().Add(within)
	for {
		got, order := a.counts()
		missing := slices.DeleteFunc(slices.Clone(orders), func(o string) bool {
			for id := range got {
				if order[id] == o {
					return true
				}
			}
			return false
		})
		if len(missing) == 0 {
			assert.Len(a.t, got, len(orders), "one event per order")
			return got
		}
		if time.Now().After(deadline) {
			a.t.Fatalf("within %v the app did not get the events of %d ACKed orders: %v", within, len(missing), missing)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// queuedSites is a Caddyfile site with a queued octo3 route on /queued that
// keeps its queue in store ("bolt <path>" or "redis <url>").
func queuedSites(store, app, deliver string) string {
	return "http:// {\n" + queuedRoute("/queued", "", store, app, deliver) + "}\n"
}

// queuedRoute is a handle block of a queued octo3 route on path, with
// dedup_scope scope unless it is "".
func queuedRoute(path, scope, store, app, deliver string) string {
	if scope != "" {
		scope = "dedup_scope " + scope
	}
	return strings.NewReplacer("PATH", path, "SCOPE", scope, "STORE", store, "APP", app, "DELIVER", deliver).Replace(`
	handle PATH {
		paynotify octo3 {
			secret octo3-test-secret
			store STORE
			SCOPE
			deliver queued {
				to http://APP/webhooks/octo3
				DELIVER
			}
		}
	}
`)
}

// orders returns n order ids of a test.
func orders(prefix string, n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("%s-%02d", prefix, i)
	}
	return ids
}

// notifyQueued sends the genuine octo3 notification of order to p's path
// and requires the provider's ACK.
func notifyQueued(t *testing.T, p *testcaddy.Process, path, order string) {
	t.Helper()
	req := signedOcto3(t, order)
	u, err := url.Parse(p.URL + path)
	require.NoError(t, err)
	req.URL, req.Host = u, u.Host
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode, "%s: %s", order, body)
	require.Equal(t, "ACK", string(body), order)
}

// queueDepth reads caddy_paynotify_queue_depth{provider="octo3"} from p's
// admin endpoint.
func queueDepth(t *testing.T, p *testcaddy.Process) float64 {
	t.Helper()
	res, err := http.Get("http://" + p.Admin + "/metrics")
	require.NoError(t, err)
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if value, ok := strings.CutPrefix(sc.Text(), `caddy_paynotify_queue_depth{provider="octo3"} `); ok {
			v, err := strconv.ParseFloat(value, 64)
			require.NoError(t, err)
			return v
		}
	}
	require.NoError(t, sc.Err())
	t.Fatal("caddy_paynotify_queue_depth of octo3 is not on /metrics")
	return 0
}

// waitEmpty waits until p's queue is empty: nothing is left to deliver.
func waitEmpty(t *testing.T, p *testcaddy.Process, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		depth := queueDepth(t, p)
		if depth == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%v notifications still queued after %v", depth, within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// assertOnce asserts that every event reached the app exactly once.
func assertOnce(t *testing.T, got map[string]int) {
	t.Helper()
	for id, n := range got {
		assert.Equal(t, 1, n, "event %s reached the app %d times", id, n)
	}
}

// assertTwiceOnlyInFlight asserts that the events that reached the app more
// than once are among those in flight at the moment (the kill), at most
// twice each, and logs them; it returns them.
func assertTwiceOnlyInFlight(t *testing.T, got map[string]int, inFlight []string, concurrency int, moment string) []string {
	t.Helper()
	var twice []string
	for id, n := range got {
		if n > 1 {
			twice = append(twice, id)
			assert.Contains(t, inFlight, id, "event %s reached the app %d times but was not in flight at %s", id, n, moment)
			assert.Equal(t, 2, n, "event %s, in flight at %s, reached the app %d times", id, moment, n)
		}
	}
	assert.LessOrEqual(t, len(inFlight), concurrency, "deliveries in flight at %s", moment)
	t.Logf("%d events reached the app twice; %d were in flight at %s (concurrency %d)", len(twice), len(inFlight), moment, concurrency)
	return twice
}

func TestQueueProcessKilledWhileTheAppIsDown(t *testing.T) {
	start := time.Now()
	app := newEventApp(t)
	app.down()
	sites := queuedSites("bolt "+filepath.Join(t.TempDir(), "queue.db"), app.addr, "backoff 50ms 200ms")
	caddy := testcaddy.Start(t, sites)
	sent := orders("KILL-DOWN", 20)
	for _, order := range sent {
		notifyQueued(t, caddy, "/queued", order)
	}
	time.Sleep(300 * time.Millisecond) // a few failed attempts each
	caddy.Kill()
	assert.Zero(t, app.requests())

	app.up()
	caddy = testcaddy.Start(t, sites)
	got := app.waitOrders(sent, 10*time.Second)
	waitEmpty(t, caddy, 5*time.Second)
	assertOnce(t, got)

	// The dedup records are in the same file: the provider's retry of an
	// event queued before the kill is a duplicate, ACKed, not queued again.
	notifyQueued(t, caddy, "/queued", sent[3])
	time.Sleep(500 * time.Millisecond)
	assert.Zero(t, queueDepth(t, caddy))
	got, _ = app.counts()
	assert.Len(t, got, len(sent))
	assertOnce(t, got)
	t.Logf("took %v", time.Since(start).Round(time.Millisecond))
}

func TestQueueProcessKilledMidDelivery(t *testing.T) {
	start := time.Now()
	const concurrency = 4
	app := newEventApp(t)
	app.setDelay(2 * time.Second)
	sites := queuedSites("bolt "+filepath.Join(t.TempDir(), "queue.db"), app.addr,
		fmt.Sprintf("concurrency %d\n timeout 5s\n backoff 50ms 200ms", concurrency))
	caddy := testcaddy.Start(t, sites)
	sent := orders("KILL-MID", 20)
	for _, order := range sent {
		notifyQueued(t, caddy, "/queued", order)
	}
	// The first four were delivered (their slots were freed after their
	// outcome was stored, so the next four could start); the next four
	// are in flight for two seconds.
	app.waitRequests(2*concurrency, 10*time.Second)
	caddy.Kill()
	inFlight := app.inFlight()
	require.NotEmpty(t, inFlight, "deliveries in flight at the kill")

	app.setDelay(10 * time.Millisecond)
	caddy = testcaddy.Start(t, sites)
	app.waitOrders(sent, 15*time.Second)
	waitEmpty(t, caddy, 5*time.Second)
	got, _ := app.counts()
	twice := assertTwiceOnlyInFlight(t, got, inFlight, concurrency, "the kill")
	// The outcome of an attempt that did not end was never stored: each of
	// them is delivered again after the restart.
	assert.ElementsMatch(t, inFlight, twice, "the events delivered twice are those in flight at the kill")
	t.Logf("took %v", time.Since(start).Round(time.Millisecond))
}

func TestQueueProcessSIGTERM(t *testing.T) {
	start := time.Now()
	app := newEventApp(t)
	app.down()
	sites := queuedSites("bolt "+filepath.Join(t.TempDir(), "queue.db"), app.addr, "backoff 50ms 200ms\n timeout 5s")
	caddy := testcaddy.Start(t, sites)
	sent := orders("TERM-DOWN", 10)
	for _, order := range sent {
		notifyQueued(t, caddy, "/queued", order)
	}
	assert.NoError(t, caddy.Term(), "caddy's exit after SIGTERM")

	app.up()
	caddy = testcaddy.Start(t, sites)
	got := app.waitOrders(sent, 10*time.Second)
	waitEmpty(t, caddy, 5*time.Second)
	assertOnce(t, got)

	// SIGTERM with deliveries in flight: they end within the stop's grace
	// (the app answers in 1 s), so none is delivered again after the
	// restart.
	app.setDelay(time.Second)
	more := orders("TERM-MID", 4)
	for _, order := range more {
		notifyQueued(t, caddy, "/queued", order)
	}
	app.waitRequests(len(sent)+len(more), 5*time.Second)
	require.NotEmpty(t, app.inFlight())
	assert.NoError(t, caddy.Term(), "caddy's exit after SIGTERM")
	assert.Empty(t, app.inFlight(), "SIGTERM did not wait for the deliveries in flight")
	caddy = testcaddy.Start(t, sites)
	time.Sleep(500 * time.Millisecond)
	assert.Zero(t, queueDepth(t, caddy))
	got = app.waitOrders(append(sent, more...), time.Second)
	assertOnce(t, got)
	t.Logf("took %v", time.Since(start).Round(time.Millisecond))
}

func TestQueueProcessReload(t *testing.T) {
	start := time.Now()
	app := newEventApp(t)
	app.down()
	store := "bolt " + filepath.Join(t.TempDir(), "queue.db")
	sites := queuedSites(store, app.addr, "backoff 50ms 200ms\n timeout 5s")
	caddy := testcaddy.Start(t, sites)
	sent := orders("RELOAD-DOWN", 10)
	for _, order := range sent {
		notifyQueued(t, caddy, "/queued", order)
	}

	// Another backoff, and another route.
	changed := "http:// {\n" + queuedRoute("/queued", "", store, app.addr, "backoff 100ms 300ms\n timeout 5s") +
		queuedRoute("/other", "other", store, app.addr, "") + "}\n"
	caddy.Reload(changed)
	app.up()
	got := app.waitOrders(sent, 10*time.Second)
	waitEmpty(t, caddy, 5*time.Second)
	assertOnce(t, got)
	notifyQueued(t, caddy, "/other", "RELOAD-OTHER")
	app.waitOrders(append(slices.Clone(sent), "RELOAD-OTHER"), 5*time.Second)

	// A reload while deliveries are in flight: the old config's workers
	// stop, the new config's take over the rest.
	const concurrency = 4
	app.setDelay(time.Second)
	more := orders("RELOAD-MID", 12)
	for _, order := range more {
		notifyQueued(t, caddy, "/queued", order)
	}
	app.waitRequests(len(sent)+1+concurrency, 5*time.Second)
	inFlight := app.inFlight()
	require.NotEmpty(t, inFlight)
	caddy.Reload(sites)
	app.setDelay(10 * time.Millisecond)
	all := append(append(slices.Clone(sent), "RELOAD-OTHER"), more...)
	app.waitOrders(all, 15*time.Second)
	waitEmpty(t, caddy, 5*time.Second)
	got, _ = app.counts()
	// The process lives on, and so do the leases of the old config's
	// deliveries: the new config's workers do not take them again.
	twice := assertTwiceOnlyInFlight(t, got, inFlight, concurrency, "the reload")
	assert.Empty(t, twice, "a reload made the app get events twice")
	t.Logf("took %v", time.Since(start).Round(time.Millisecond))
}

func TestQueueProcessTwoNodesOnOneRedisOneKilled(t *testing.T) {
	start := time.Now()
	const concurrency = 4
	app := newEventApp(t)
	// Slower than the attempt's timeout: A is killed before its attempts
	// end, and the app is fast again for B.
	app.setDelay(3 * time.Second)
	sites := queuedSites("redis "+testredis.URL(t), app.addr, fmt.Sprintf("concurrency %d\n timeout 1s", concurrency))
	a := testcaddy.Start(t, sites)
	b := testcaddy.Start(t, sites)

	// A's worker is woken when A queues; B only polls.
	sent := orders("NODES-KILL", concurrency)
	for _, order := range sent {
		notifyQueued(t, a, "/queued", order)
	}
	app.waitRequests(concurrency, 5*time.Second)
	a.Kill()
	killed := time.Now()
	inFlight := app.inFlight()
	app.setDelay(0)
	app.waitOrders(sent, 5*time.Second)
	waitEmpty(t, b, 15*time.Second) // B delivered what A held
	got, _ := app.counts()
	twice := assertTwiceOnlyInFlight(t, got, inFlight, concurrency, "A's kill")
	assert.NotEmpty(t, twice, "no event that A was delivering was delivered again by B")
	t.Logf("B took over A's events %v after A's kill (lease %v)", time.Since(killed).Round(100*time.Millisecond), 2*time.Second+5*time.Second)

	// Both nodes up (A restarted), the app up: each event once.
	a = testcaddy.Start(t, sites)
	more := orders("NODES-BOTH", 10)
	for i, order := range more {
		notifyQueued(t, []*testcaddy.Process{a, b}[i%2], "/queued", order)
	}
	all := append(slices.Clone(sent), more...)
	app.waitOrders(all, 10*time.Second)
	waitEmpty(t, a, 5*time.Second)
	got, order := app.counts()
	for _, o := range more {
		for id := range got {
			if order[id] == o {
				assert.Equal(t, 1, got[id], "event %s of %s reached the app %d times", id, o, got[id])
			}
		}
	}
	t.Logf("took %v", time.Since(start).Round(time.Millisecond))
}
