package caddymodule_test

// End-to-end tests of deliver queued with the bolt store: the provider's
// ACK does not wait for the app, and what was acknowledged reaches the app
// however it misbehaves (down, slow, 5xx), once per event.

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddytest"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/paynotify/paynotify/internal/testredis"
)

// queueApp is the merchant app for queued routes: it answers with the
// statuses of plan in turn (then 200), each after delay, and records what
// it accepted (2xx) and every attempt.
type queueApp struct {
	t        *testing.T
	listener net.Listener
	server   *http.Server
	mu       sync.Mutex
	plan     []int
	delay    time.Duration
	attempts []received
	accepted []received
}

// newQueueApp starts the app on a free loopback port.
func newQueueApp(t *testing.T, plan ...int) *queueApp {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	a := &queueApp{t: t, plan: plan}
	a.serve(l)
	t.Cleanup(a.stop)
	return a
}

func (a *queueApp) addr() string { return a.listener.Addr().String() }

func (a *queueApp) serve(l net.Listener) {
	a.listener = l
	a.server = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got := received{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Clone(), nil, body}
		a.mu.Lock()
		delay := a.delay
		status := http.StatusOK
		if len(a.plan) > 0 {
			status, a.plan = a.plan[0], a.plan[1:]
		}
		a.attempts = append(a.attempts, got)
		a.mu.Unlock()
		time.Sleep(delay)
		if status/100 == 2 {
			a.mu.Lock()
			a.accepted = append(a.accepted, got)
			a.mu.Unlock()
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte("app page"))
	})}
	go a.server.Serve(l)
}

// stop takes the app down (its port stays known for restart).
func (a *queueApp) stop() { a.server.Close() }

// restart brings the app back on the same port.
func (a *queueApp) restart() {
	l, err := net.Listen("tcp", a.addr())
	require.NoError(a.t, err)
	a.serve(l)
}

func (a *queueApp) snapshot() (attempts, accepted []received) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]received(nil), a.attempts...), append([]received(nil), a.accepted...)
}

// waitAccepted waits until the app accepted n requests (or fails the test
// after within).
func (a *queueApp) waitAccepted(n int, within time.Duration) []received {
	a.t.Helper()
	deadline := time.Now().Add(within)
	for {
		_, accepted := a.snapshot()
		if len(accepted) >= n || time.Now().After(deadline) {
			require.Len(a.t, accepted, n, "requests the app accepted")
			return accepted
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func startQueueCaddy(t *testing.T, app string, deliver string) *caddytest.Tester {
	return startQueueCaddyOn(t, "bolt "+filepath.Join(t.TempDir(), "queue.db"), app, deliver)
}

// startQueueCaddyOn is startQueueCaddy with the store given ("bolt <path>"
// or "redis <url>").
func startQueueCaddyOn(t *testing.T, store, app, deliver string) *caddytest.Tester {
	tc := caddytest.NewTester(t)
	initServer(tc, globalOptions+strings.NewReplacer("APP", app, "STORE", store,
		"WHSEC", upstreamSecret, "DELIVER", deliver).Replace(`
http://localhost:9080 {
	handle /queued {
		paynotify octo3 {
			secret octo3-test-secret
			store STORE
			upstream_secret WHSEC
			deliver queued {
				to http://APP/webhooks/octo3
				DELIVER
			}
		}
	}
}
`), "caddyfile")
	return tc
}

func TestQueuedAckDoesNotWaitForTheAppAndDeliveryRetriesUntil2xx(t *testing.T) {
	app := newQueueApp(t, 503, 500, 502)
	tc := startQueueCaddy(t, app.addr(), "backoff 50ms 200ms\n timeout 2s")

	r := send(t, tc, golden(t, "octo3/accepted", "/queued"))
	assert.Equal(t, http.StatusOK, r.Status)
	assert.Equal(t, "ACK", r.Body, "the ACK once the event is stored")
	assertNoAppLeak(t, r)

	accepted := app.waitAccepted(1, 10*time.Second)
	attempts, _ := app.snapshot()
	require.Len(t, attempts, 4, "three failures, then the 2xx")
	got := accepted[0]
	assert.Equal(t, "/webhooks/octo3", got.Path)
	assert.Equal(t, http.MethodPost, got.Method)
	assert.Equal(t, "application/json", got.Header.Get("Content-Type"))
	assert.Contains(t, string(got.Body), `"schema":"paynotify.v1"`)
	assert.Equal(t, "127.0.0.1", got.Header.Get("X-Forwarded-For"))

	// Every attempt is signed afresh, with the same webhook-id.
	wh, err := standardwebhooks.NewWebhook(upstreamSecret)
	require.NoError(t, err)
	for i, a := range attempts {
		assert.NoError(t, wh.Verify(a.Body, a.Header), "attempt %d's signature", i+1)
		assert.Equal(t, got.Header.Get("Paynotify-Event-Id"), a.Header.Get("webhook-id"), "attempt %d's webhook-id", i+1)
	}

	// The provider's retry is a duplicate: acknowledged, not queued again.
	r = send(t, tc, golden(t, "octo3/accepted", "/queued"))
	assert.Equal(t, "ACK", r.Body)
	time.Sleep(300 * time.Millisecond)
	_, accepted = app.snapshot()
	assert.Len(t, accepted, 1, "a retry of a queued event reaches the app again")
}

func TestQueuedEventWaitsForAnAppThatIsDown(t *testing.T) {
	app := newQueueApp(t)
	app.stop()
	tc := startQueueCaddy(t, app.addr(), "backoff 50ms 100ms")

	start := time.Now()
	for _, name := range []string{"octo3/accepted", "octo3/declined"} {
		r := send(t, tc, golden(t, name, "/queued"))
		assert.Equal(t, http.StatusOK, r.Status, name)
	}
	fmt.Println("ACKs while the app is down took", time.Since(start))
	time.Sleep(time.Second) // longer than a provider would wait, in this test's time
	attempts, _ := app.snapshot()
	assert.Empty(t, attempts)

	app.restart()
	app.waitAccepted(2, 5*time.Second)
}

func TestQueuedAckBeforeASlowAppAnswers(t *testing.T) {
	app := newQueueApp(t)
	app.delay = 1500 * time.Millisecond // past the provider's patience, in this test's time
	tc := startQueueCaddy(t, app.addr(), "timeout 5s")

	r := send(t, tc, golden(t, "octo3/accepted", "/queued"))
	assert.Equal(t, "ACK", r.Body)
	_, accepted := app.snapshot()
	assert.Empty(t, accepted, "the ACK came only after the app accepted")
	app.waitAccepted(1, 5*time.Second)
}

func TestQueuedAttemptPastTimeoutIsRetried(t *testing.T) {
	app := newQueueApp(t)
	app.delay = time.Second
	tc := startQueueCaddy(t, app.addr(), "timeout 300ms\n backoff 100ms 200ms")

	r := send(t, tc, golden(t, "octo3/accepted", "/queued"))
	assert.Equal(t, "ACK", r.Body)
	time.Sleep(500 * time.Millisecond)
	app.mu.Lock()
	app.delay = 0 // the app is fast again
	app.mu.Unlock()
	accepted := app.waitAccepted(2, 5*time.Second)
	// The app finished the attempt that timed out, then took the retry:
	// at least once means this, and the app tells them apart by webhook-id.
	assert.Equal(t, accepted[0].Header.Get("webhook-id"), accepted[1].Header.Get("webhook-id"))
	time.Sleep(300 * time.Millisecond)
	_, accepted = app.snapshot()
	assert.Len(t, accepted, 2, "no attempt after the 2xx")
}

func TestQueuedStoreUnavailableIs503WithoutACK(t *testing.T) {
	app := newQueueApp(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "queue.db")
	// Another process's lock, as bbolt sees it: the file held open.
	held, err := bolt.Open(path, 0o600, nil)
	require.NoError(t, err)
	defer held.Close()
	tc := caddytest.NewTester(t)
	initServer(tc, globalOptions+strings.NewReplacer("APP", app.addr(), "STORE", path).Replace(`
http://localhost:9080 {
	handle /queued {
		paynotify octo3 {
			secret octo3-test-secret
			store bolt STORE
			deliver queued {
				to http://APP/webhooks/octo3
			}
		}
	}
}
`), "caddyfile")
	r := send(t, tc, golden(t, "octo3/accepted", "/queued"))
	assert.Equal(t, http.StatusServiceUnavailable, r.Status)
	assert.NotEqual(t, "ACK", r.Body)
	held.Close()
	r = send(t, tc, golden(t, "octo3/accepted", "/queued"))
	assert.Equal(t, "ACK", r.Body, "the provider's retry once the store is back")
	app.waitAccepted(1, 5*time.Second)
}

func TestQueuedRoutesOfEveryShape(t *testing.T) {
	app := newQueueApp(t)
	tc := caddytest.NewTester(t)
	initServer(tc, globalOptions+strings.NewReplacer("APP", app.addr(), "STORE", filepath.Join(t.TempDir(), "queue.db")).Replace(`
http://localhost:9080 {
	handle /oobit {
		paynotify oobit {
			secret oobit-test-hash-key
			allow_ip 127.0.0.1
			forward original
			dedup off
			deliver queued {
				to http://APP/oobit.php?shop=7
			}
		}
	}
	handle /gocardless {
		paynotify gocardless {
			secret gocardless-test-secret
			store bolt STORE
			deliver queued {
				to http://APP/gocardless
			}
		}
	}
	handle /gocardless/original {
		paynotify gocardless {
			secret gocardless-test-secret
			store bolt STORE
			dedup_scope original
			forward original
			deliver queued {
				to http://APP/gocardless-original
			}
		}
	}
}
`), "caddyfile")

	// A GET forwarded as the original: its query after the app URL's own.
	req := golden(t, "oobit/approved_get", "/oobit")
	query := req.URL.RawQuery
	assert.Equal(t, "OK", send(t, tc, req).Body)
	got := app.waitAccepted(1, 5*time.Second)[0]
	assert.Equal(t, http.MethodGet, got.Method)
	assert.Equal(t, "/oobit.php", got.Path)
	assert.Equal(t, "shop=7&"+query, got.RawQuery)
	assert.Empty(t, got.Body)

	// A batch normalized: one delivery per event; as the original: one.
	ids := goldenIDs(t, "gocardless/batch")
	require.Greater(t, len(ids), 1)
	assert.Equal(t, http.StatusNoContent, send(t, tc, golden(t, "gocardless/batch", "/gocardless")).Status)
	batch := app.waitAccepted(1+len(ids), 5*time.Second)[1:]
	var delivered []string
	for _, g := range batch {
		assert.Equal(t, "/gocardless", g.Path)
		delivered = append(delivered, g.Header.Get("Paynotify-Event-Id"))
	}
	assert.ElementsMatch(t, ids, delivered)

	req = golden(t, "gocardless/batch", "/gocardless/original")
	sent, _ := io.ReadAll(req.Body)
	req.Body = io.NopCloser(strings.NewReader(string(sent)))
	assert.Equal(t, http.StatusNoContent, send(t, tc, req).Status)
	got = app.waitAccepted(2+len(ids), 5*time.Second)[1+len(ids)]
	assert.Equal(t, "/gocardless-original", got.Path)
	assert.Equal(t, string(sent), string(got.Body), "the original body, byte for byte")
	assert.Equal(t, strings.Join(ids, ", "), got.Header.Get("Paynotify-Event-Id"))
	assert.NotEmpty(t, got.Header.Get("Webhook-Signature"), "the provider's own signature goes with the original")
}

func TestQueuedConfigErrors(t *testing.T) {
	site := func(routes string) string {
		return globalOptions + "http://localhost:9080 {\n" + routes + "\n}\n"
	}
	route := func(path, to, extra string) string {
		return fmt.Sprintf("handle %s {\n paynotify octo3 {\n secret s\n %s\n deliver queued {\n to %s\n }\n }\n}\n", path, extra, to)
	}
	// Two routes of one provider and scope that deliver to different apps.
	caddytest.AssertLoadError(t, site(route("/a", "http://127.0.0.1:1/a", "dedup_scope shop")+route("/b", "http://127.0.0.1:1/b", "dedup_scope shop")),
		"caddyfile", "deliver: another octo3 route of this config queues under dedup_scope")
	caddytest.AssertLoadError(t, site(route("/a", "{env.PAYNOTIFY_TEST_UNSET_URL}", "")), "caddyfile",
		"deliver: to: evaluated placeholder {env.PAYNOTIFY_TEST_UNSET_URL} is empty")
}

func TestQueuedOnRedis(t *testing.T) {
	app := newQueueApp(t, 503, 500)
	tc := startQueueCaddyOn(t, "redis "+testredis.URL(t), app.addr(), "backoff 50ms 200ms")

	assert.Equal(t, "ACK", send(t, tc, golden(t, "octo3/accepted", "/queued")).Body)
	assert.Equal(t, "ACK", send(t, tc, golden(t, "octo3/accepted", "/queued")).Body, "the retry: a duplicate")
	assert.Equal(t, "ACK", send(t, tc, golden(t, "octo3/declined", "/queued")).Body)
	accepted := app.waitAccepted(2, 10*time.Second)
	assert.NotEqual(t, accepted[0].Header.Get("webhook-id"), accepted[1].Header.Get("webhook-id"))
	time.Sleep(300 * time.Millisecond)
	attempts, accepted := app.snapshot()
	assert.Len(t, accepted, 2, "each event once")
	assert.Len(t, attempts, 4, "two failures, then each event's 2xx")
}
