package caddymodule_test

// Review (queued delivery): a reload that changes the name of a route's queue
// (its dedup_scope, which the load error "give each route its own
// dedup_scope" asks the operator to set) or that turns the route to deliver
// direct leaves the events queued under the old name in the store with no
// worker: they were ACKed, and they never reach the app, nor the queue
// gauges.

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
	tc.InitServer(reviewQueueOrphanConfig(store, app.addr(), "", deliver), "caddyfile")
	r := send(t, tc, golden(t, "octo3/accepted", "/queued"))
	require.Equal(t, "ACK", r.Body, "the provider was told the event is safe")

	// A second octo3 route is coming: the operator names this one's scope,
	// as the load error for two routes of one provider asks. The app is
	// back once the new config runs (so that the old config's worker
	// cannot deliver it before it stops).
	tc.InitServer(reviewQueueOrphanConfig(store, app.addr(), "dedup_scope shop", deliver), "caddyfile")
	app.restart()

	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if _, accepted := app.snapshot(); len(accepted) > 0 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	_, accepted := app.snapshot()
	assert.Len(t, accepted, 1, "the ACKed event queued before the reload reaches the app")
	depth := reviewQueueMetric(t, "caddy_paynotify_queue_depth")
	if len(accepted) == 0 {
		assert.Contains(t, depth, `caddy_paynotify_queue_depth{provider="octo3"} 1`,
			"the event that waits is at least counted (an alert on the depth would fire)")
	}
}

func TestReviewQueueReloadToDirectDeliversWhatWasQueued(t *testing.T) {
	app := newQueueApp(t)
	app.stop()
	store := filepath.Join(t.TempDir(), "queue.db")
	tc := caddytest.NewTester(t)
	deliver := strings.ReplaceAll(reviewQueuedDeliver, "APP", app.addr())
	tc.InitServer(reviewQueueOrphanConfig(store, app.addr(), "", deliver), "caddyfile")
	r := send(t, tc, golden(t, "octo3/accepted", "/queued"))
	require.Equal(t, "ACK", r.Body)

	// The app is fast again: back to deliver direct.
	tc.InitServer(reviewQueueOrphanConfig(store, app.addr(), "", "deliver direct"), "caddyfile")
	app.restart()

	time.Sleep(3 * time.Second)
	_, accepted := app.snapshot()
	assert.Len(t, accepted, 1, "the ACKed event queued before the switch to direct reaches the app")
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
	tc.InitServer(reviewQueueOrphanConfig(store, app.addr(), "", deliver), "caddyfile")
	r := send(t, tc, golden(t, "octo3/accepted", "/queued"))
	require.Equal(t, "ACK", r.Body)

	tc.InitServer(strings.Replace(reviewQueueOrphanConfig(store, app.addr(), "", deliver), "store bolt "+store, "store redis "+redisURL, 1), "caddyfile")
	app.restart()

	time.Sleep(3 * time.Second)
	_, accepted := app.snapshot()
	assert.Len(t, accepted, 1, "the ACKed event queued in the bolt file before the move to Redis reaches the app")
}
