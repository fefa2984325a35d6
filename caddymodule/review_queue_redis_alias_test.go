package caddymodule_test

// Review (queued delivery): App.register refuses two routes that share a
// queue and deliver differently only when their store keys are equal
// strings. Two spellings of one Redis (localhost and 127.0.0.1, which
// claimScope's own comment says no string comparison can tell apart) get
// two workers on the one queue "octo3/shop", each delivering to its own
// app: an event of route /a is delivered to route /b's app.

import (
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddytest"
	"github.com/stretchr/testify/require"

	"github.com/paynotify/paynotify/internal/testredis"
)

func TestReviewQueueTwoSpellingsOfOneRedisKeepRoutesApart(t *testing.T) {
	url := testredis.URL(t)
	require.Contains(t, url, "127.0.0.1")
	alias := strings.Replace(url, "127.0.0.1", "localhost", 1)
	appA, appB := newQueueApp(t), newQueueApp(t)
	appA.stop() // route /a's app is down: its event waits for it

	// Refused at load: two spellings of one Redis are one store, and the
	// two routes would take each other's events.
	caddytest.AssertLoadError(t, globalOptions+strings.NewReplacer("URLA", url, "URLB", alias, "APPA", appA.addr(), "APPB", appB.addr()).Replace(`
http://localhost:9080 {
	handle /a {
		paynotify octo3 {
			secret octo3-test-secret
			store redis URLA
			dedup_scope shop
			deliver queued {
				to http://APPA/a
				backoff 50ms 100ms
			}
		}
	}
	handle /b {
		paynotify octo3 {
			secret octo3-test-secret
			store redis URLB
			dedup_scope shop
			deliver queued {
				to http://APPB/b
				backoff 50ms 100ms
			}
		}
	}
}
`), "caddyfile", "queues under dedup_scope")
}
