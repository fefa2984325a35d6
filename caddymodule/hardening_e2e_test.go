package caddymodule_test

// Attacks and footguns found by an outside review (issue 11), each against
// a real Caddy: where the directive sits in a site, how a replay spells its
// path and host, two routes of one provider, a header the balancer could
// not fill in, a body that never arrives, one bolt file under two names.

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddytest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDirectiveAtTheTopOfASiteGuardsItsPath: `paynotify <path> <provider>`
// at the top of a site with a catch-all handle block runs before it, as it
// does inside a handle block: a forged notification never reaches the app.
func TestDirectiveAtTheTopOfASiteGuardsItsPath(t *testing.T) {
	up := newUpstream(t)
	tc := caddytest.NewTester(t)
	initServer(tc, globalOptions+strings.ReplaceAll(`
http://localhost:9080 {
	paynotify /top/octo3* octo3 {
		secret octo3-test-secret
		dedup off
	}
	route /shop/* {
		respond "shop page"
	}
	handle /inner/octo3 {
		paynotify octo3 {
			secret octo3-test-secret
			dedup off
		}
		reverse_proxy UPSTREAM
	}
	handle {
		reverse_proxy UPSTREAM
	}
}
`, "UPSTREAM", strings.TrimPrefix(up.URL, "http://")), "caddyfile")

	for _, path := range []string{"/top/octo3", "/inner/octo3"} {
		forged := golden(t, "octo3/tampered_amount", path)
		r := send(t, tc, forged)
		assert.Equal(t, http.StatusUnauthorized, r.Status, "%s: a forged notification", path)
		assert.Empty(t, up.take(), "%s: the forged notification reached the app", path)

		r = send(t, tc, golden(t, "octo3/accepted", path))
		assert.Equal(t, "ACK", r.Body, path)
		got := up.take()
		require.Len(t, got, 1, path)
		assert.Contains(t, string(got[0].Body), `"schema":"paynotify.v1"`, "%s: the app gets the event, not the form", path)
	}
	// The matcher as the README writes it, a prefix: the spellings an app's
	// router may take for the same path go through paynotify too.
	for _, path := range []string{"/top/octo3/", "/top/octo3/.", "/top/octo3.json", "/top/octo3;x", "/top/octo3%20", "/TOP/octo3%2F"} {
		forged := golden(t, "octo3/tampered_amount", "/top/octo3")
		forged.URL.Path, forged.URL.RawPath = path, ""
		if strings.Contains(path, "%") {
			forged.URL.Opaque = "//localhost:9080" + path
		}
		assert.Equal(t, http.StatusUnauthorized, send(t, tc, forged).Status, "%s: a forged notification", path)
		assert.Empty(t, up.take(), "%s: the forged notification reached the app", path)
	}
	req, err := http.NewRequest(http.MethodGet, "http://localhost:9080/shop", nil)
	require.NoError(t, err)
	send(t, tc, req)
	got := up.take()
	require.Len(t, got, 1, "the rest of the site still reaches the app")
	assert.Equal(t, "/shop", got[0].Path)
}

// TestSpellingsOfOnePathAndHostAreOneEvent: Caddy's path matcher folds case
// and cleans the path, and a site without a host name takes any Host. A
// captured notification replayed with each spelling is still one event.
func TestSpellingsOfOnePathAndHostAreOneEvent(t *testing.T) {
	up := newUpstream(t)
	tc := caddytest.NewTester(t)
	initServer(tc, globalOptions+strings.NewReplacer("UPSTREAM", strings.TrimPrefix(up.URL, "http://"),
		"STORE", filepath.Join(t.TempDir(), "dedup.db")).Replace(`
http://:9080 {
	handle /notify/octo3 {
		paynotify octo3 {
			secret octo3-test-secret
			store bolt STORE
		}
		reverse_proxy UPSTREAM
	}
}
`), "caddyfile")

	variants := []struct{ host, path string }{
		{"localhost:9080", "/notify/octo3"},
		{"localhost:9080", "/NOTIFY/octo3"},
		{"localhost:9080", "/Notify/Octo3"},
		{"localhost:9080", "//notify/octo3"},
		{"localhost:9080", "/notify//octo3"},
		{"localhost:9080", "/notify/./octo3"},
		{"localhost:9080", "/x/../notify/octo3"},
		{"localhost:9080", "/notify/octo3/."},
		{"127.0.0.1:9080", "/notify/octo3"},
		{"pay.example.com", "/notify/octo3"},
		{"PAY.EXAMPLE.COM:9080", "/NOTIFY/octo3"},
	}
	for _, v := range variants {
		req := golden(t, "octo3/accepted", "/notify/octo3")
		req.Host = v.host
		req.URL.Path = v.path
		r := send(t, tc, req)
		assert.Equal(t, "ACK", r.Body, "%s%s: the route's ACK", v.host, v.path)
	}
	assert.Len(t, up.take(), 1, "every spelling after the first is a duplicate")
}

// TestRoutesOfOneProviderDoNotShareEventsByAccident: two apps behind one
// Caddy, each on its own route of the same provider, must each get every
// event; two routes of one endpoint must share their records.
func TestRoutesOfOneProviderDoNotShareEventsByAccident(t *testing.T) {
	store := filepath.Join(t.TempDir(), "dedup.db")
	config := func(up, scope1, scope2 string) string {
		return globalOptions + strings.NewReplacer("UPSTREAM", up, "STORE", store, "SCOPE1", scope1, "SCOPE2", scope2).Replace(`
http://localhost:9080 {
	handle_path /shop1/* {
		paynotify checkout {
			secret cko-test-signature-key
			authorization cko-test-authorization
			store bolt STORE
			SCOPE1
		}
		reverse_proxy UPSTREAM
	}
	handle_path /shop2/* {
		paynotify checkout {
			secret cko-shop2-signature-key cko-test-signature-key
			authorization cko-test-authorization
			store bolt STORE
			SCOPE2
		}
		reverse_proxy UPSTREAM
	}
}
`)
	}
	t.Run("refused without scopes", func(t *testing.T) {
		caddytest.AssertLoadError(t, config("127.0.0.1:1", "", ""), "caddyfile",
			`dedup_scope: another checkout route of this config keeps its dedup records under scope`)
		caddytest.AssertLoadError(t, config("127.0.0.1:1", "dedup_scope default", ""), "caddyfile",
			`dedup_scope: another checkout route`)
	})
	t.Run("each app gets the event with its own scope", func(t *testing.T) {
		up := newUpstream(t)
		tc := caddytest.NewTester(t)
		initServer(tc, config(strings.TrimPrefix(up.URL, "http://"), "dedup_scope shop1", "dedup_scope shop2"), "caddyfile")
		for range 2 { // the provider's retry is a duplicate at each
			for _, shop := range []string{"/shop1/notify", "/shop2/notify"} {
				assert.Equal(t, http.StatusOK, send(t, tc, golden(t, "checkout/payment_captured", shop)).Status, shop)
			}
		}
		got := up.take()
		assert.Len(t, got, 2, "each app once")
	})
	t.Run("one endpoint on two routes shares its records", func(t *testing.T) {
		up := newUpstream(t)
		tc := caddytest.NewTester(t)
		initServer(tc, config(strings.TrimPrefix(up.URL, "http://"), "dedup_scope cko", "dedup_scope cko"), "caddyfile")
		assert.Equal(t, http.StatusOK, send(t, tc, golden(t, "checkout/payment_refunded", "/shop1/notify")).Status)
		assert.Equal(t, http.StatusOK, send(t, tc, golden(t, "checkout/payment_refunded", "/shop2/notify")).Status)
		assert.Len(t, up.take(), 1)
	})
}

// TestUnparsableForwardedForFailsClosed: with trusted_proxies_strict, Caddy
// passes over X-Forwarded-For entries it cannot parse, so when a balancer
// appends "unknown", the address the client wrote to its left would become
// the client address and pass allow_ip.
func TestUnparsableForwardedForFailsClosed(t *testing.T) {
	up := newUpstream(t)
	tc := caddytest.NewTester(t)
	initServer(tc, strings.Replace(globalOptions, "trusted_proxies static 127.0.0.1/32",
		"trusted_proxies static 127.0.0.1/32 10.0.0.0/8\n\t\ttrusted_proxies_strict", 1)+
		strings.ReplaceAll(`
http://localhost:9080 {
	handle /octo3 {
		paynotify octo3 {
			secret octo3-test-secret
			allow_ip 198.51.100.0/24
			dedup off
		}
		reverse_proxy UPSTREAM
	}
	handle /open {
		paynotify octo3 {
			secret octo3-test-secret
			dedup off
		}
		reverse_proxy UPSTREAM
	}
}
`, "UPSTREAM", strings.TrimPrefix(up.URL, "http://")), "caddyfile")

	cases := []struct {
		path, xff string
		status    int
	}{
		{"/octo3", "198.51.100.7", http.StatusOK},
		{"/octo3", "203.0.113.9, 198.51.100.7, 10.0.0.2", http.StatusOK}, // a trusted hop appended after the provider
		{"/octo3", "198.51.100.7, unknown", http.StatusForbidden},
		{"/octo3", "198.51.100.7, _hidden", http.StatusForbidden},
		{"/octo3", "198.51.100.7, 10.0.0.2, unknown", http.StatusForbidden},
		{"/octo3", "198.51.100.7,", http.StatusForbidden},
		{"/octo3", "203.0.113.9", http.StatusForbidden},
		{"/octo3", "unknown, 203.0.113.9", http.StatusForbidden}, // the real client, not allowed
		{"/open", "198.51.100.7, unknown", http.StatusOK},        // without allow_ip the source is not checked
	}
	for _, c := range cases {
		req := golden(t, "octo3/accepted", c.path)
		req.Header.Set("X-Forwarded-For", c.xff)
		r := send(t, tc, req)
		assert.Equal(t, c.status, r.Status, "%s X-Forwarded-For: %s", c.path, c.xff)
		if c.status != http.StatusOK {
			assert.Empty(t, up.take(), "%s X-Forwarded-For: %s: forwarded", c.path, c.xff)
		}
		up.take()
	}
}

// TestSlowBodyTimesOut: a client that sends its headers and then stalls
// gets 408 after body_timeout, and nothing reaches the app.
func TestSlowBodyTimesOut(t *testing.T) {
	up := newUpstream(t)
	tc := caddytest.NewTester(t)
	initServer(tc, globalOptions+strings.ReplaceAll(`
http://localhost:9080 {
	handle /octo3 {
		paynotify octo3 {
			secret octo3-test-secret
			max_body 4MiB
			body_timeout 300ms
			dedup off
		}
		reverse_proxy UPSTREAM
	}
}
`, "UPSTREAM", strings.TrimPrefix(up.URL, "http://")), "caddyfile")

	conn, err := net.Dial("tcp", "localhost:9080")
	require.NoError(t, err)
	defer conn.Close()
	_, err = conn.Write([]byte("POST /octo3 HTTP/1.1\r\nHost: localhost:9080\r\n" +
		"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 4000000\r\n\r\nversion=1"))
	require.NoError(t, err)
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(10*time.Second)))
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err, "no answer: the body read has no deadline")
	res.Body.Close()
	assert.Equal(t, http.StatusRequestTimeout, res.StatusCode)
	assert.Empty(t, up.take())

	// Refused before its body is read (405 here; 403 and 413 alike): net/http
	// would read what remains of a small body before answering, with no
	// deadline but this one.
	early, err := net.Dial("tcp", "localhost:9080")
	require.NoError(t, err)
	defer early.Close()
	_, err = early.Write([]byte("GET /octo3 HTTP/1.1\r\nHost: localhost:9080\r\nContent-Length: 60000\r\n\r\nv"))
	require.NoError(t, err)
	require.NoError(t, early.SetReadDeadline(time.Now().Add(5*time.Second)))
	_, err = io.ReadAll(early)
	var netErr net.Error
	assert.False(t, errors.As(err, &netErr) && netErr.Timeout(), "the connection is still held after 5 s: %v", err)

	// A body that arrives in time, in pieces, is read as usual.
	r := send(t, tc, golden(t, "octo3/accepted", "/octo3"))
	assert.Equal(t, "ACK", r.Body)
}

// TestOneBoltFileUnderSeveralNamesIsOneStore: routes that name one file
// through a symbolic link or a hard link share one open store; a second
// open would wait for bolt's lock and answer 503 forever.
func TestOneBoltFileUnderSeveralNamesIsOneStore(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "dedup.db")
	require.NoError(t, os.WriteFile(file, nil, 0o600)) // bolt sets up an empty file
	require.NoError(t, os.Symlink(file, filepath.Join(dir, "symlink.db")))
	require.NoError(t, os.Link(file, filepath.Join(dir, "hardlink.db")))
	require.NoError(t, os.Mkdir(filepath.Join(dir, "sub"), 0o700))
	require.NoError(t, os.Symlink(dir, filepath.Join(dir, "dirlink")))

	up := newUpstream(t)
	tc := caddytest.NewTester(t)
	initServer(tc, globalOptions+strings.NewReplacer("UPSTREAM", strings.TrimPrefix(up.URL, "http://"), "DIR", dir).Replace(`
http://localhost:9080 {
	handle /octo3 {
		paynotify octo3 {
			secret octo3-test-secret
			store bolt DIR/dedup.db
		}
		reverse_proxy UPSTREAM
	}
	handle /thedao {
		paynotify thedao {
			secret octo3-test-secret
			store bolt DIR/symlink.db
		}
		reverse_proxy UPSTREAM
	}
	handle /checkout {
		paynotify checkout {
			secret cko-test-signature-key
			authorization cko-test-authorization
			store bolt DIR/hardlink.db
		}
		reverse_proxy UPSTREAM
	}
	handle /octopus {
		paynotify octopus {
			secret octopus-test-secret
			key octopus-test-key
			store bolt DIR/sub/../dirlink/dedup.db
		}
		reverse_proxy UPSTREAM
	}
}
`), "caddyfile")

	for _, c := range []struct{ golden, path string }{
		{"octo3/accepted", "/octo3"},
		{"thedao/thedao", "/thedao"},
		{"checkout/payment_captured", "/checkout"},
		{"octopus/completed", "/octopus"},
	} {
		r := send(t, tc, golden(t, c.golden, c.path))
		assert.Equal(t, http.StatusOK, r.Status, "%s through %s", c.golden, c.path)
	}
	assert.Len(t, up.take(), 4)
}
