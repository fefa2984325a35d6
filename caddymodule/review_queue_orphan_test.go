package caddymodule_test

// Review (queued delivery): a reload that changes the name of a route's queue
// (its dedup_scope, which the load error "give each route its own
// dedup_scope" asks the operator to set), that turns the route to deliver
// direct or that moves it to another store leaves the events queued under
// the old name with no worker (no route says where, and signed with what,
// they go). They were ACKed: they stay in the store, counted in the queue
// gauges of a config that uses the store, named in a warning at start, and
// delivered once a route of that provider and scope queues again (README:
// drain the queue before such a change, or restore the route).

import (
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddytest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/paynotify/paynotify/internal/testredis"
)

func reviewQueueOrphanConfig(store, app, scope, deliver string) string {
	return globalOptions + strings.NewReplacer("APP", app, "STORE", store, "SCOPE", scope, "DELIVER", deliver).Replace(`
http://localhost:9080 {
	metrics /metrics
	handle /queued {
		paynotify octo3 {
			secret octo3-test-secret
			store bolt STORE
			SCOPE
			DELIVER
		}
		reverse_proxy APP
	}
}
`)
}

const reviewQueuedDeliver = `deliver queued {
				to http://APP/webhooks/octo3
				backoff 50ms 100ms
			}`

func TestReviewQueueReloadWithAnotherScopeDeliversWhatWasQueued(t *testing.T) {
	app := newQueueApp(t)
	app.stop() // the app is down: the event waits in the queue
	store := filepath.Join(t.TempDir(), "queue.db")
	tc := caddytest.NewTester(t)
	deliver := strings.ReplaceAll(reviewQueuedDeliver, "APP", app.addr())
	initServer(tc, reviewQueueOrphanConfig(store, app.addr(), "", deliver), "caddyfile")
	r := send(t, tc, golden(t, "octo3/accepted", "/queued"))
	require.Equal(t, "ACK", r.Body, "the provider was told the event is safe")

	// A second octo3 route is coming: the operator names this one's scope,
	// as the load error for two routes of one provider asks. The app is
	// back once the new config runs (so that the old config's worker
	// cannot deliver it before it stops).
	initServer(tc, reviewQueueOrphanConfig(store, app.addr(), "dedup_scope shop", deliver), "caddyfile")
	app.restart()

	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if _, accepted := app.snapshot(); len(accepted) > 0 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	_, accepted := app.snapshot()
	assert.Empty(t, accepted, "no route of the new config delivers the old queue")
	assert.Contains(t, reviewQueueMetric(t, "caddy_paynotify_queue_depth"), `caddy_paynotify_queue_depth{provider="octo3"} 1`,
		"the event that waits is counted (an alert on the depth fires)")

	// The operator restores the route's scope: delivered, once.
	initServer(tc, reviewQueueOrphanConfig(store, app.addr(), "", deliver), "caddyfile")
	app.waitAccepted(1, 5*time.Second)
}

func TestReviewQueueReloadToDirectDeliversWhatWasQueued(t *testing.T) {
	app := newQueueApp(t)
	app.stop()
	store := filepath.Join(t.TempDir(), "queue.db")
	tc := caddytest.NewTester(t)
	deliver := strings.ReplaceAll(reviewQueuedDeliver, "APP", app.addr())
	initServer(tc, reviewQueueOrphanConfig(store, app.addr(), "", deliver), "caddyfile")
	r := send(t, tc, golden(t, "octo3/accepted", "/queued"))
	require.Equal(t, "ACK", r.Body)

	// The app is fast again: back to deliver direct.
	initServer(tc, reviewQueueOrphanConfig(store, app.addr(), "", "deliver direct"), "caddyfile")
	app.restart()

	time.Sleep(time.Second)
	_, accepted := app.snapshot()
	assert.Empty(t, accepted, "no route of the new config delivers the old queue")
	assert.Contains(t, reviewQueueMetric(t, "caddy_paynotify_queue_depth"), `caddy_paynotify_queue_depth{provider="octo3"} 1`,
		"a direct route's config counts what waits in its store")

	initServer(tc, reviewQueueOrphanConfig(store, app.addr(), "", deliver), "caddyfile")
	app.waitAccepted(1, 5*time.Second)
}

// reviewQueueMetric returns the lines of the metrics page that start with name.
func reviewQueueMetric(t *testing.T, name string) string {
	res, err := http.Get("http://localhost:9080/metrics")
	require.NoError(t, err)
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	var lines []string
	for _, line := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(line, name) {
			lines = append(lines, line)
		}
	}
	return strings.Join(lines, "\n")
}

// Scaling out: the route moves from the bolt file (one node) to Redis
// (several nodes), as the README suggests. What the bolt file held was ACKed.
func TestReviewQueueReloadFromBoltToRedisDeliversWhatWasQueued(t *testing.T) {
	app := newQueueApp(t)
	app.stop()
	store := filepath.Join(t.TempDir(), "queue.db")
	redisURL := testredis.URL(t)
	tc := caddytest.NewTester(t)
	deliver := strings.ReplaceAll(reviewQueuedDeliver, "APP", app.addr())
	initServer(tc, reviewQueueOrphanConfig(store, app.addr(), "", deliver), "caddyfile")
	r := send(t, tc, golden(t, "octo3/accepted", "/queued"))
	require.Equal(t, "ACK", r.Body)

	initServer(tc, strings.Replace(reviewQueueOrphanConfig(store, app.addr(), "", deliver), "store bolt "+store, "store redis "+redisURL, 1), "caddyfile")
	app.restart()

	time.Sleep(time.Second)
	_, accepted := app.snapshot()
	assert.Empty(t, accepted, "the bolt file is no longer read")

	// Back on the bolt file (to drain it before the move): delivered, once.
	initServer(tc, reviewQueueOrphanConfig(store, app.addr(), "", deliver), "caddyfile")
	app.waitAccepted(1, 5*time.Second)
}
