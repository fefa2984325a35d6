package caddymodule_test

// Review of deliver queued (ops): a config change must not strand, unseen,
// notifications that were acknowledged to the provider and not yet
// delivered.

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddytest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The app is down; an event is queued and ACKed. The operator then goes
// back to deliver direct (the app is "fast again"), or renames the route's
// dedup_scope, or moves its store: the new config has no queued route for
// the queue, so no worker ever takes the event again, and the metrics (and
// the admin API, which lists the running routes) only look at the queues of
// running routes. The provider was told the event was received; the app
// never gets it, and nothing tells the operator. The event must at least
// show in caddy_paynotify_queue_depth (smallest fix: at Start, find the
// store's queues that hold items and that no route of the config serves,
// log them at error level and count them in the queue metrics).
func TestReviewQueueOpsConfigChangeDoesNotStrandQueuedEventsUnseen(t *testing.T) {
	app := newQueueApp(t)
	app.stop()
	store := filepath.Join(t.TempDir(), "queue.db")
	config := func(route string) string {
		return globalOptions + strings.NewReplacer("APP", app.addr(), "STORE", store).Replace(route)
	}
	tc := caddytest.NewTester(t)
	initServer(tc, config(`
http://localhost:9080 {
	handle /octo3 {
		paynotify octo3 {
			secret octo3-test-secret
			store bolt STORE
			deliver queued {
				to http://APP/webhooks/octo3
				backoff 50ms 200ms
				timeout 1s
			}
		}
	}
}
`), "caddyfile")
	r := send(t, tc, golden(t, "octo3/accepted", "/octo3"))
	require.Equal(t, "ACK", r.Body, "queued and acknowledged while the app is down")
	require.Equal(t, 1.0, scrape(t)[`caddy_paynotify_queue_depth{provider="octo3"}`], "the queued event before the reload")

	initServer(tc, config(`
http://localhost:9080 {
	handle /octo3 {
		paynotify octo3 {
			secret octo3-test-secret
			store bolt STORE
			deliver direct
		}
		reverse_proxy APP
	}
}
`), "caddyfile")
	app.restart()
	time.Sleep(2 * time.Second) // longer than the backoff: a worker would have delivered it

	_, accepted := app.snapshot()
	if len(accepted) == 1 {
		return // delivered after all
	}
	assert.Equal(t, 1.0, scrape(t)[`caddy_paynotify_queue_depth{provider="octo3"}`],
		"an acknowledged event that no route delivers any more, after the reload (the app got %d requests)", len(accepted))
}
