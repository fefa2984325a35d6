package caddymodule_test

// Review of deliver queued (ops and payments security): what the app gets
// from a queued route must be what the same route in direct mode gives it
// through reverse_proxy (README, "Queued delivery": "What the app gets is
// what forward would have sent through reverse_proxy").

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddytest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// startDirectAndQueued serves the same octo3 notification on /direct
// (through reverse_proxy) and on /queued (deliver queued), both to app,
// normalized (octo3 with forward original cannot be queued: card_num). globalOptions trusts 127.0.0.1
// as a proxy, as a Caddy behind a TLS-terminating balancer is configured
// (README, "Behind a load balancer").
func startDirectAndQueued(t *testing.T, app *queueApp) *caddytest.Tester {
	tc := caddytest.NewTester(t)
	initServer(tc, globalOptions+strings.NewReplacer("APP", app.addr(), "STORE", filepath.Join(t.TempDir(), "queue.db")).Replace(`
http://localhost:9080 {
	handle /direct {
		paynotify octo3 {
			secret octo3-test-secret
			dedup off
		}
		reverse_proxy APP
	}
	handle /queued {
		paynotify octo3 {
			secret octo3-test-secret
			dedup_scope queued
			store bolt STORE
			deliver queued {
				to http://APP/queued
				backoff 50ms 200ms
			}
		}
	}
}
`), "caddyfile")
	return tc
}

// sendBoth sends the golden octo3 notification, with header added, to
// /direct and to /queued, and returns what the app accepted from each.
func sendBoth(t *testing.T, header http.Header) (direct, queued received) {
	t.Helper()
	app := newQueueApp(t)
	tc := startDirectAndQueued(t, app)
	for _, path := range []string{"/direct", "/queued"} {
		req := golden(t, "octo3/accepted", path)
		for name, values := range header {
			req.Header[name] = values
		}
		r := send(t, tc, req)
		require.Equal(t, "ACK", r.Body, path)
	}
	accepted := app.waitAccepted(2, 10*time.Second)
	for _, a := range accepted {
		switch a.Path {
		case "/direct":
			direct = a
		case "/queued":
			queued = a
		}
	}
	require.NotNil(t, direct.Header, "the direct route's request")
	require.NotNil(t, queued.Header, "the queued route's request")
	return direct, queued
}

// Behind a trusted balancer that terminated TLS, reverse_proxy keeps the
// balancer's X-Forwarded-Proto and X-Forwarded-Host; the queued delivery
// replaces them with what Caddy's own connection was (http, Caddy's host).
// An app that enforces HTTPS from X-Forwarded-Proto (Rails force_ssl,
// Django SECURE_PROXY_SSL_HEADER, Laravel TrustProxies) takes the direct
// request and answers the queued one with a redirect, which the worker
// counts as a failure until the event is a dead letter.
//
// queue.go enqueue: header.Set("X-Forwarded-Proto", proto) from r.TLS and
// header.Set("X-Forwarded-Host", r.Host), whatever a trusted proxy said.
func TestReviewQueueOpsForwardedHeadersFromATrustedBalancerMatchDirect(t *testing.T) {
	direct, queued := sendBoth(t, http.Header{
		"X-Forwarded-For":   {"203.0.113.7"},
		"X-Forwarded-Proto": {"https"},
		"X-Forwarded-Host":  {"pay.example.com"},
	})
	require.Equal(t, "https", direct.Header.Get("X-Forwarded-Proto"), "reverse_proxy keeps a trusted balancer's X-Forwarded-Proto")
	assert.Equal(t, direct.Header.Get("X-Forwarded-Proto"), queued.Header.Get("X-Forwarded-Proto"),
		"X-Forwarded-Proto of the queued delivery (the app sees a plain-http request where direct mode says https)")
	require.Equal(t, "pay.example.com", direct.Header.Get("X-Forwarded-Host"), "reverse_proxy keeps a trusted balancer's X-Forwarded-Host")
	assert.Equal(t, direct.Header.Get("X-Forwarded-Host"), queued.Header.Get("X-Forwarded-Host"),
		"X-Forwarded-Host of the queued delivery")
}

// reverse_proxy removes the hop-by-hop headers Proxy-Authorization,
// Proxy-Authenticate and Alt-Svc; forwardRequest's own list (handler.go,
// "Connection", "Keep-Alive", "Proxy-Connection", "Te", "Trailer",
// "Upgrade", "Expect") lacks them, so a queued route stores a
// Proxy-Authorization credential from outside in the bolt file or Redis and
// hands it to the app, which direct mode never does.
func TestReviewQueueOpsHopByHopHeadersAreDroppedAsInDirectMode(t *testing.T) {
	direct, queued := sendBoth(t, http.Header{
		"Proxy-Authorization": {"Basic b3V0c2lkZXI6c2VjcmV0"},
		"Proxy-Authenticate":  {"Basic realm=outside"},
		"Alt-Svc":             {`h3=":443"`},
	})
	for _, name := range []string{"Proxy-Authorization", "Proxy-Authenticate", "Alt-Svc"} {
		require.Empty(t, direct.Header.Values(name), "direct mode drops %s", name)
		assert.Empty(t, queued.Header.Values(name), "the queued delivery keeps %s, which direct mode drops", name)
	}
}
