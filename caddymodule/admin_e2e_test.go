package caddymodule_test

// End-to-end tests of the operator's tools for deliver queued: the admin
// API's /paynotify/ endpoints, `caddy paynotify queue`, and the queue
// metrics, against a running Caddy whose app fails until it is fixed.

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddytest"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	goredis "github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/paynotify/paynotify/internal/testredis"
)

const adminAddr = "localhost:2999"

// queuedSite is a config with one queued octo3 route at /queued whose
// queue is in store ("bolt <path>" or "redis <url>").
func queuedSite(app, store, options string) string {
	return globalOptions + strings.NewReplacer("APP", app, "STORE", store, "WHSEC", upstreamSecret, "OPTIONS", options).Replace(`
http://localhost:9080 {
	handle /queued {
		paynotify octo3 {
			secret octo3-test-secret
			store STORE
			upstream_secret WHSEC
			OPTIONS
			deliver queued {
				to http://APP/webhooks/octo3
				retry_for 300ms
				backoff 50ms 100ms
			}
		}
	}
}
`)
}

// withAdminLog adds to cfg's global options a log of the admin API's
// paynotify actions, written to path as JSON lines.
func withAdminLog(cfg, path string) string {
	return strings.Replace(cfg, "\tgrace_period 1ns\n", "\tgrace_period 1ns\n\tlog paynotify_admin {\n\t\toutput file "+path+
		"\n\t\tformat json\n\t\tinclude admin.api.paynotify\n\t}\n", 1)
}

// failingApp is a queueApp that answers 500 until fixed.
func failingApp(t *testing.T) *queueApp {
	return newQueueApp(t, slices.Repeat([]int{http.StatusInternalServerError}, 100000)...)
}

func (a *queueApp) fix() {
	a.mu.Lock()
	a.plan = nil
	a.mu.Unlock()
}

func (a *queueApp) setDelay(d time.Duration) {
	a.mu.Lock()
	a.delay = d
	a.mu.Unlock()
}

// admin sends method path to the admin API and returns the status and body.
func admin(t *testing.T, method, path string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+adminAddr+path, nil)
	require.NoError(t, err)
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res.StatusCode, body
}

// adminJSON is admin for an answer that must be JSON with status want.
func adminJSON(t *testing.T, method, path string, want int, v any) []byte {
	t.Helper()
	status, body := admin(t, method, path)
	require.Equal(t, want, status, "%s %s: %s", method, path, body)
	require.NoError(t, json.Unmarshal(body, v), "%s %s: %s", method, path, body)
	return body
}

// queueEntry is a queue of GET /paynotify/queue.
type queueEntry struct {
	Provider      string  `json:"provider"`
	Queue         string  `json:"queue"`
	To            string  `json:"to"`
	Store         string  `json:"store"`
	Depth         int     `json:"depth"`
	InFlight      int     `json:"in_flight"`
	OldestSeconds float64 `json:"oldest_seconds"`
	Dead          int     `json:"dead"`
	RetryFor      string  `json:"retry_for"`
	Timeout       string  `json:"timeout"`
	Concurrency   int     `json:"concurrency"`
	Error         string  `json:"error"`
}

func queues(t *testing.T) []queueEntry {
	t.Helper()
	var listing struct {
		Queues []queueEntry `json:"queues"`
	}
	adminJSON(t, http.MethodGet, "/paynotify/queue", http.StatusOK, &listing)
	return listing.Queues
}

// deadLetters returns GET /paynotify/dead's entries, as maps (to see every
// member), and the raw answer.
func deadLetters(t *testing.T) ([]map[string]any, string) {
	t.Helper()
	var listing struct {
		Dead []map[string]any `json:"dead"`
	}
	raw := adminJSON(t, http.MethodGet, "/paynotify/dead", http.StatusOK, &listing)
	return listing.Dead, string(raw)
}

// waitFor polls until cond holds, or fails the test after within.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			require.FailNow(t, "waited in vain for "+what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitDead waits until the store has n dead letters and returns them.
func waitDead(t *testing.T, n int) []map[string]any {
	t.Helper()
	var dead []map[string]any
	waitFor(t, 10*time.Second, "dead letters", func() bool {
		dead, _ = deadLetters(t)
		return len(dead) >= n
	})
	require.Len(t, dead, n)
	return dead
}

// paynotifyCLI runs `caddy paynotify <args>` as registered with caddycmd.
// A non-nil error is a non-zero exit status.
func paynotifyCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd, ok := caddycmd.Commands()["paynotify"]
	require.True(t, ok, "caddy paynotify is registered")
	root := &cobra.Command{Use: "paynotify", SilenceErrors: true, SilenceUsage: true}
	cmd.CobraFunc(root)
	var stdout bytes.Buffer
	root.SetOut(&stdout)
	root.SetErr(io.Discard)
	root.SetArgs(args)
	err := root.Execute()
	return stdout.String(), err
}

// deadIDs maps the dead letters' event ids to their ids.
func deadIDs(dead []map[string]any) map[string]string {
	ids := map[string]string{}
	for _, d := range dead {
		ids[d["event_id"].(string)] = d["id"].(string)
	}
	return ids
}

const (
	acceptedEventID = "pn_584dec23f484d4a02a822bfd176f102f"
	declinedEventID = "pn_2c84500773ca8a3aa1613cdfcda6896e"
	refundEventID   = "pn_eddf2b615a7cab10414b4c06f160cd38"
	voidedEventID   = "pn_31166e559b055af82098c6fbce932ffe"
)

func TestAdminDeadLettersAreListedRetriedAndDeleted(t *testing.T) {
	app := failingApp(t)
	app.setDelay(2 * time.Second) // the first attempt is in flight for a while
	store := filepath.Join(t.TempDir(), "queue.db")
	adminLog := filepath.Join(t.TempDir(), "admin.log")
	tc := caddytest.NewTester(t)
	initServer(tc, withAdminLog(queuedSite(app.addr(), "bolt "+store, ""), adminLog), "caddyfile")

	r := send(t, tc, golden(t, "octo3/accepted", "/queued"))
	require.Equal(t, "ACK", r.Body)

	// While the slow app holds the first attempt: queued, in flight.
	var q []queueEntry
	waitFor(t, 5*time.Second, "the delivery in flight, the item a millisecond old (the age is rounded to ms)", func() bool {
		q = queues(t)
		return len(q) == 1 && q[0].InFlight == 1 && q[0].OldestSeconds > 0
	})
	assert.Equal(t, queueEntry{Provider: "octo3", Queue: "octo3/default", To: "http://" + app.addr() + "/webhooks/octo3",
		Store: "bolt " + store, Depth: 1, InFlight: 1, Dead: 0, Concurrency: 4, OldestSeconds: q[0].OldestSeconds,
		RetryFor: "300ms", Timeout: "30s"}, q[0])
	assert.Greater(t, q[0].OldestSeconds, 0.0)
	out, err := paynotifyCLI(t, "queue", "--address", adminAddr)
	require.NoError(t, err, out)
	assert.Regexp(t, `(?m)^PROVIDER +QUEUE +DEPTH +IN FLIGHT +OLDEST +DEAD +TO$`, out)
	assert.Regexp(t, `(?m)^octo3 +octo3/default +1 +1 +[0-9.]+m?s +0 +http://`+regexp.QuoteMeta(app.addr())+`/webhooks/octo3$`, out)
	assert.Contains(t, out, "No dead letters.")

	// The app answered 500 once retry_for had passed: a dead letter.
	dead := waitDead(t, 1)
	attempts, _ := app.snapshot()
	require.Len(t, attempts, 1)
	require.Contains(t, string(attempts[0].Body), "ORD-20240501-0001", "the order id is in what the app got")
	webhookID := attempts[0].Header.Get("webhook-id")
	require.Equal(t, acceptedEventID, webhookID)
	d := dead[0]
	assert.Regexp(t, `^q[0-9a-f]{24}$`, d["id"])
	assert.Equal(t, "octo3/default", d["queue"])
	assert.Equal(t, "octo3", d["provider"])
	assert.Equal(t, acceptedEventID, d["event_id"])
	assert.Equal(t, "POST", d["method"])
	assert.Equal(t, 1.0, d["attempts"])
	assert.Equal(t, "the app answered 500", d["last_error"])
	assert.Equal(t, "bolt "+store, d["store"])
	enqueued, err := time.Parse(time.RFC3339Nano, d["enqueued"].(string))
	require.NoError(t, err)
	died, err := time.Parse(time.RFC3339Nano, d["died"].(string))
	require.NoError(t, err)
	assert.True(t, died.After(enqueued), "died %v after enqueued %v", died, enqueued)
	q = queues(t)
	require.Len(t, q, 1)
	assert.Equal(t, 0, q[0].Depth)
	assert.Equal(t, 0, q[0].InFlight)
	assert.Equal(t, 0.0, q[0].OldestSeconds)
	assert.Equal(t, 1, q[0].Dead)

	series := scrape(t)
	assert.Equal(t, 1.0, series[`caddy_paynotify_deliveries_total{provider="octo3",result="dead"}`])
	assert.Equal(t, 1.0, series[`caddy_paynotify_dead_letters{provider="octo3"}`])
	assert.Equal(t, 0.0, series[`caddy_paynotify_queue_depth{provider="octo3"}`])
	assert.Contains(t, series, `caddy_paynotify_queue_depth{provider="octo3"}`)

	// Three more dead letters, after a few quick attempts each.
	app.setDelay(0)
	for _, name := range []string{"octo3/declined", "octo3/refund", "octo3/voided"} {
		require.Equal(t, "ACK", send(t, tc, golden(t, name, "/queued")).Body, name)
	}
	waitDead(t, 4)
	dead, raw := deadLetters(t)
	for _, d := range dead {
		keys := slices.Sorted(maps.Keys(d))
		assert.Equal(t, []string{"attempts", "died", "enqueued", "event_id", "id", "last_error", "method", "provider", "queue", "store"}, keys)
		assert.Equal(t, "the app answered 500", d["last_error"])
		assert.GreaterOrEqual(t, d["attempts"], 1.0)
	}
	// Nothing of the request is listed: not its body, not its headers.
	for _, secret := range []string{"ORD-20240501-0001", "paynotify.v1", "localhost:9080", "X-Forwarded", upstreamSecret, "octo3-test-secret"} {
		assert.NotContains(t, raw, secret)
	}
	ids := deadIDs(dead)
	require.Len(t, ids, 4)

	out, err = paynotifyCLI(t, "queue", "--address", adminAddr)
	require.NoError(t, err, out)
	assert.Regexp(t, `(?m)^octo3 +octo3/default +0 +0 +- +4 +http://`, out)
	assert.Regexp(t, `(?m)^DEAD LETTER +QUEUE +EVENT ID +DIED +ATTEMPTS +LAST ERROR$`, out)
	for event, id := range ids {
		assert.Regexp(t, `(?m)^`+id+` +octo3/default +`+event+` +\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \(\S+ ago\) +[1-9]\d* +the app answered 500$`, out)
	}
	assert.NotContains(t, out, "ORD-20240501-0001")
	out, err = paynotifyCLI(t, "queue", "--address", adminAddr, "--json")
	require.NoError(t, err, out)
	var both struct {
		Queues []queueEntry     `json:"queues"`
		Dead   []map[string]any `json:"dead"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &both), out)
	assert.Len(t, both.Queues, 1)
	assert.Len(t, both.Dead, 4)

	// Delete: through the API, then through the CLI; a second delete is 404.
	var deleted map[string]string
	adminJSON(t, http.MethodDelete, "/paynotify/dead/"+ids[declinedEventID], http.StatusOK, &deleted)
	assert.Equal(t, map[string]string{"deleted": ids[declinedEventID]}, deleted)
	var apiErr struct {
		Error string `json:"error"`
	}
	adminJSON(t, http.MethodDelete, "/paynotify/dead/"+ids[declinedEventID], http.StatusNotFound, &apiErr)
	assert.Equal(t, "no dead letter "+ids[declinedEventID], apiErr.Error)
	out, err = paynotifyCLI(t, "queue", "delete", ids[refundEventID], "--address", adminAddr)
	require.NoError(t, err)
	assert.Equal(t, "deleted dead letter "+ids[refundEventID]+"\n", out)
	_, err = paynotifyCLI(t, "queue", "delete", ids[refundEventID], "--address", adminAddr)
	require.EqualError(t, err, "no dead letter "+ids[refundEventID]+" (HTTP 404)")
	assert.ElementsMatch(t, []string{ids[acceptedEventID], ids[voidedEventID]}, slices.Collect(maps.Values(deadIDs(waitDead(t, 2)))))

	// Retry: the app is fixed; each is delivered once, with its webhook-id.
	app.fix()
	var retried struct {
		Retried map[string]any `json:"retried"`
	}
	adminJSON(t, http.MethodPost, "/paynotify/dead/"+ids[acceptedEventID]+"/retry", http.StatusOK, &retried)
	assert.Equal(t, ids[acceptedEventID], retried.Retried["id"])
	assert.Equal(t, acceptedEventID, retried.Retried["event_id"])
	assert.Equal(t, "the app answered 500", retried.Retried["last_error"])
	accepted := app.waitAccepted(1, 5*time.Second)
	assert.Equal(t, webhookID, accepted[0].Header.Get("webhook-id"))
	out, err = paynotifyCLI(t, "queue", "retry", ids[voidedEventID], "--address", adminAddr)
	require.NoError(t, err)
	assert.Regexp(t, `^queued `+ids[voidedEventID]+` again: event `+voidedEventID+` of octo3/default, after [1-9]\d* attempts \(last error: the app answered 500\)\n$`, out)
	app.waitAccepted(2, 5*time.Second)
	_, err = paynotifyCLI(t, "queue", "retry", ids[voidedEventID], "--address", adminAddr)
	require.EqualError(t, err, "no dead letter "+ids[voidedEventID]+" (HTTP 404)")
	time.Sleep(300 * time.Millisecond) // a second delivery would show by now
	_, accepted = app.snapshot()
	require.Len(t, accepted, 2, "each retried dead letter reaches the app once")
	assert.Equal(t, []string{acceptedEventID, voidedEventID},
		[]string{accepted[0].Header.Get("webhook-id"), accepted[1].Header.Get("webhook-id")})
	dead, _ = deadLetters(t)
	assert.Empty(t, dead)
	q = queues(t)
	require.Len(t, q, 1)
	assert.Equal(t, 0, q[0].Depth)
	assert.Equal(t, 0, q[0].Dead)
	out, err = paynotifyCLI(t, "queue", "--address", adminAddr)
	require.NoError(t, err)
	assert.Contains(t, out, "No dead letters.")
	series = scrape(t)
	assert.Equal(t, 2.0, series[`caddy_paynotify_deliveries_total{provider="octo3",result="delivered"}`])
	assert.Equal(t, 0.0, series[`caddy_paynotify_dead_letters{provider="octo3"}`])

	// Each retry and delete is logged, with what names the event.
	type action struct{ Msg, ID, Queue, Event string }
	var logged []action
	for _, l := range readJSONLines(t, adminLog) {
		logged = append(logged, action{l["msg"].(string), l["queue_id"].(string), l["queue"].(string), l["event_id"].(string)})
		assert.Equal(t, "admin.api.paynotify", l["logger"])
		assert.Equal(t, "the app answered 500", l["last_error"])
	}
	assert.Equal(t, []action{
		{"dead letter deleted", ids[declinedEventID], "octo3/default", declinedEventID},
		{"dead letter deleted", ids[refundEventID], "octo3/default", refundEventID},
		{"dead letter retried", ids[acceptedEventID], "octo3/default", acceptedEventID},
		{"dead letter retried", ids[voidedEventID], "octo3/default", voidedEventID},
	}, logged)
	logFile, err := os.ReadFile(adminLog)
	require.NoError(t, err)
	assert.NotContains(t, string(logFile), "ORD-20240501-0001")
}

func TestAdminRefusesWhatItDoesNotServe(t *testing.T) {
	app := failingApp(t)
	tc := caddytest.NewTester(t)
	initServer(tc, queuedSite(app.addr(), "bolt "+filepath.Join(t.TempDir(), "queue.db"), ""), "caddyfile")
	require.Equal(t, "ACK", send(t, tc, golden(t, "octo3/accepted", "/queued")).Body)
	id := waitDead(t, 1)[0]["id"].(string)

	for _, c := range []struct {
		method, path string
		status       int
		allow        string
	}{
		{http.MethodGet, "/paynotify/dead/" + id + "/retry", http.StatusMethodNotAllowed, "POST"},
		{http.MethodPut, "/paynotify/dead/" + id + "/retry", http.StatusMethodNotAllowed, "POST"},
		{http.MethodGet, "/paynotify/dead/" + id, http.StatusMethodNotAllowed, "DELETE"},
		{http.MethodPost, "/paynotify/queue", http.StatusMethodNotAllowed, "GET"},
		{http.MethodDelete, "/paynotify/dead", http.StatusMethodNotAllowed, "GET"},
		{http.MethodPost, "/paynotify/dead/q123/retry", http.StatusNotFound, ""},
		{http.MethodDelete, "/paynotify/dead/Q" + id[1:], http.StatusNotFound, ""},
		{http.MethodDelete, "/paynotify/dead/q0123456789abcdef01234567", http.StatusNotFound, ""},
		{http.MethodPost, "/paynotify/dead/q0123456789abcdef01234567/retry", http.StatusNotFound, ""},
		{http.MethodGet, "/paynotify/dead/" + id + "/retry/again", http.StatusNotFound, ""},
		{http.MethodGet, "/paynotify/nothing", http.StatusNotFound, ""},
	} {
		req, err := http.NewRequest(c.method, "http://"+adminAddr+c.path, nil)
		require.NoError(t, err)
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		var apiErr struct {
			Error string `json:"error"`
		}
		assert.NoError(t, json.NewDecoder(res.Body).Decode(&apiErr), "%s %s", c.method, c.path)
		res.Body.Close()
		assert.Equal(t, c.status, res.StatusCode, "%s %s", c.method, c.path)
		assert.Equal(t, c.allow, res.Header.Get("Allow"), "%s %s", c.method, c.path)
		assert.NotEmpty(t, apiErr.Error, "%s %s", c.method, c.path)
	}
	// None of it touched the dead letter.
	assert.Len(t, waitDead(t, 1), 1)
	attempts, accepted := app.snapshot()
	assert.Empty(t, accepted)
	n := len(attempts)
	time.Sleep(200 * time.Millisecond)
	attempts, _ = app.snapshot()
	assert.Len(t, attempts, n, "a dead letter is not attempted")

	// The CLI: a malformed id is refused before asking; no admin API, no answer.
	_, err := paynotifyCLI(t, "queue", "retry", "q123", "--address", adminAddr)
	require.EqualError(t, err, `"q123" is not a dead letter id: q and 24 hex digits, as caddy paynotify queue lists them`)
	_, err = paynotifyCLI(t, "queue", "retry", "q0123456789abcdef01234567", "--address", adminAddr)
	require.EqualError(t, err, "no dead letter q0123456789abcdef01234567 (HTTP 404)")
	_, err = paynotifyCLI(t, "queue", "--address", "localhost:1")
	require.ErrorContains(t, err, "the admin API at localhost:1 cannot be reached")
	_, err = paynotifyCLI(t, "queue", "delete", id, "--address", "localhost:1")
	require.ErrorContains(t, err, "the admin API at localhost:1 cannot be reached")
}

// TestAdminDeadLettersOfAQueueNoRouteDelivers: a dead letter stays in the
// store after its route is renamed; it is listed, cannot be retried (no
// worker would deliver it), and can be deleted.
func TestAdminDeadLettersOfAQueueNoRouteDelivers(t *testing.T) {
	app := failingApp(t)
	store := filepath.Join(t.TempDir(), "queue.db")
	tc := caddytest.NewTester(t)
	initServer(tc, queuedSite(app.addr(), "bolt "+store, ""), "caddyfile")
	require.Equal(t, "ACK", send(t, tc, golden(t, "octo3/accepted", "/queued")).Body)
	id := waitDead(t, 1)[0]["id"].(string)

	initServer(tc, queuedSite(app.addr(), "bolt "+store, "dedup_scope shop-2"), "caddyfile")
	q := queues(t)
	require.Len(t, q, 1)
	assert.Equal(t, "octo3/shop-2", q[0].Queue)
	assert.Equal(t, 0, q[0].Dead, "the dead letters of this route's queue")
	dead := waitDead(t, 1)
	assert.Equal(t, "octo3/default", dead[0]["queue"])

	app.fix()
	var apiErr struct {
		Error string `json:"error"`
	}
	adminJSON(t, http.MethodPost, "/paynotify/dead/"+id+"/retry", http.StatusConflict, &apiErr)
	assert.Equal(t, "no running route delivers queue octo3/default (in bolt "+store+"): dead letter "+id+
		" stays; configure the route again, or delete it", apiErr.Error)
	_, err := paynotifyCLI(t, "queue", "retry", id, "--address", adminAddr)
	require.ErrorContains(t, err, "no running route delivers queue octo3/default")
	assert.Len(t, waitDead(t, 1), 1, "still a dead letter")
	time.Sleep(200 * time.Millisecond)
	_, accepted := app.snapshot()
	assert.Empty(t, accepted)

	var deleted map[string]string
	adminJSON(t, http.MethodDelete, "/paynotify/dead/"+id, http.StatusOK, &deleted)
	dead, _ = deadLetters(t)
	assert.Empty(t, dead)
}

// TestAdminRedisStore: a Redis store is shown without its password; a
// Redis that is down is a 503 that says why, and the CLI fails with the
// reason.
func TestAdminRedisStore(t *testing.T) {
	const password = "redis-pw-7c1f0e"
	plain := testredis.URL(t)
	opts, err := goredis.ParseURL(plain)
	require.NoError(t, err)
	client := goredis.NewClient(opts)
	defer client.Close()
	require.NoError(t, client.ConfigSet(context.Background(), "requirepass", password).Err())
	url := strings.Replace(plain, "redis://", "redis://:"+password+"@", 1)
	shown := "redis " + strings.Replace(plain, "redis://", "redis://:xxxxx@", 1)

	app := failingApp(t)
	tc := caddytest.NewTester(t)
	initServer(tc, queuedSite(app.addr(), "redis "+url, ""), "caddyfile")
	require.Equal(t, "ACK", send(t, tc, golden(t, "octo3/accepted", "/queued")).Body)
	dead := waitDead(t, 1)
	assert.Equal(t, shown, dead[0]["store"])
	q := queues(t)
	require.Len(t, q, 1)
	assert.Equal(t, shown, q[0].Store)
	assert.Equal(t, 1, q[0].Dead)
	out, err := paynotifyCLI(t, "queue", "--address", adminAddr, "--json")
	require.NoError(t, err)
	assert.Contains(t, out, shown)
	assert.NotContains(t, out, password)

	app.fix()
	var retried map[string]any
	adminJSON(t, http.MethodPost, "/paynotify/dead/"+dead[0]["id"].(string)+"/retry", http.StatusOK, &retried)
	accepted := app.waitAccepted(1, 5*time.Second)
	assert.Equal(t, acceptedEventID, accepted[0].Header.Get("webhook-id"))

	// Redis goes away.
	client = goredis.NewClient(&goredis.Options{Addr: opts.Addr, Password: password})
	defer client.Close()
	_ = client.ShutdownNoSave(context.Background()).Err() // the connection ends with it
	status, body := admin(t, http.MethodGet, "/paynotify/queue")
	assert.Equal(t, http.StatusServiceUnavailable, status, "%s", body)
	var listing struct {
		Queues []queueEntry `json:"queues"`
	}
	require.NoError(t, json.Unmarshal(body, &listing), "%s", body)
	require.Len(t, listing.Queues, 1)
	assert.Contains(t, listing.Queues[0].Error, "connection refused")
	assert.Equal(t, shown, listing.Queues[0].Store)
	assert.NotContains(t, string(body), password)
	status, body = admin(t, http.MethodGet, "/paynotify/dead")
	assert.Equal(t, http.StatusServiceUnavailable, status, "%s", body)
	var deadListing struct {
		Dead   []map[string]any    `json:"dead"`
		Errors []map[string]string `json:"errors"`
	}
	require.NoError(t, json.Unmarshal(body, &deadListing), "%s", body)
	assert.Empty(t, deadListing.Dead)
	require.Len(t, deadListing.Errors, 1)
	assert.Equal(t, shown, deadListing.Errors[0]["store"])
	assert.NotEmpty(t, deadListing.Errors[0]["error"])
	assert.NotContains(t, string(body), password)
	status, body = admin(t, http.MethodPost, "/paynotify/dead/q0123456789abcdef01234567/retry")
	assert.Equal(t, http.StatusServiceUnavailable, status, "an unread store may hold it: %s", body)
	assert.NotContains(t, string(body), password)

	out, err = paynotifyCLI(t, "queue", "--address", adminAddr)
	require.ErrorContains(t, err, "a store cannot be read:\n  queue octo3/default (store "+shown+"): ")
	require.ErrorContains(t, err, "\n  dead letters of store "+shown+": ")
	assert.Contains(t, out, "No dead letters in the stores that could be read.")
	assert.NotContains(t, err.Error(), password)
	assert.Regexp(t, `(?m)^octo3 +octo3/default +\? +\? +\? +\? +http://`, out)
	assert.NotContains(t, out, password)
}
