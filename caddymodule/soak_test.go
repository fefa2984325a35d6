package caddymodule

// The run: a real Caddy with dedup on, a provider simulator sending genuine
// and hostile notifications of every scheme, an app that injects faults, and
// config reloads mid-run. Its size is PAYNOTIFY_SOAK_N (default 2000, the
// CI size; 20000 for the full run). It prints its figures and checks:
// every genuine notification ACKed was accepted by the app exactly once,
// every one the app accepted was ACKed, no hostile one reached the app, no
// panic, and no secret, card number or body in the log.
//
// One route delivers queued (deliver queued, on the bolt store, with a short
// backoff and a per-attempt timeout shorter than the slow answers of its
// app, which fails as the other app does and is down for a while). After the
// run its queue is drained (caddy_paynotify_queue_depth back to 0 on the
// admin endpoint) and the run checks: every notification acknowledged on
// that route was accepted by the app at least once; the app accepted no
// event that no copy of its notification was acknowledged for (a 409 or 503
// to one copy says nothing on its own: another copy may have queued the
// event, so this is checked per event, not per reply); no hostile one
// reached it; an event accepted more than once came with the same
// webhook-id and Paynotify-Event-Id each time, correctly signed, and such
// extra deliveries are no more than the attempts that timed out while the
// app went on working on them (with a kill, plus the deliveries in flight
// at the kill: at most the route's concurrency).
//
// With PAYNOTIFY_SOAK_CADDY=/path/to/caddy (the full run), Caddy is that
// binary in a process of its own, reloaded through its admin API and killed
// (SIGKILL) and restarted mid-run. A kill can fall between the app accepting
// an event and the delivered mark being written (the at-least-once window the
// README describes): only an event whose request was in flight at the kill
// may reach the app twice; such events are counted and reported.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddytest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/paynotify/paynotify/internal/simulator"
	"github.com/paynotify/paynotify/internal/standin"
)

var soakKeys = simulator.Keys{
	Octo3: "soak-octo3-secret", TheDAO: "soak-thedao-secret", Checkout: "soak-checkout-key", CheckoutAuthorization: "soak-checkout-authorization",
	Octopus: "soak-octopus-secret", OctopusKey: "soak-octopus-key", Oobit: "soak-oobit-key",
}

// soakMerchant is the oobit merchant number of the inquiring route: a
// credential, never in the log.
const soakMerchant = "SOAK-MERCHANT-5722306"

// The queued route's settings: attempts time out well before the app's slow
// answers end, and the backoff is short, so that the queue drains within a
// second or two of the run's end.
const (
	soakQueuedPath        = "/notify/octo3-queued"
	soakQueueTimeout      = 300 * time.Millisecond
	soakQueueConcurrency  = 4
	soakQueueSlowFor      = 3 * soakQueueTimeout
	soakQueueOutage       = 3 * time.Second
	soakQueueDrainTimeout = 30 * time.Second
)

func soakCaddyfile(app, queueApp, store, logPath, api string, version int) string {
	route := func(provider, options string) string {
		return fmt.Sprintf(`
	handle /notify/%s {
		paynotify %s {
			%s
			allow_ip 127.0.0.1
			%s
		}
		reverse_proxy %s {
			transport http {
				response_header_timeout 300ms
			}
		}
	}`, provider, provider, options, store, app)
	}
	return fmt.Sprintf(`{
	admin localhost:2999
	skip_install_trust
	http_port 9080
	https_port 9443
	grace_period 5s
	servers {
		trusted_proxies static 127.0.0.1/32
	}
	log {
		output file %s
		format json
		level INFO
	}
}

http://localhost:9080 {%s%s%s%s%s
	handle %s {
		# The ACK once the event is stored; the worker delivers it.
		paynotify octo3 {
			secret %s
			allow_ip 127.0.0.1
			%s
			dedup_scope queued
			upstream_secret %s
			deliver queued {
				to http://%s/webhooks/octo3
				backoff 50ms 400ms
				timeout %s
				concurrency %d
			}
		}
	}
	handle /notify/oobit-inquiry {
		# No allow_ip: getStatus.asp confirms every new event.
		paynotify oobit {
			secret %s
			merchant_number %s
			inquire %s/oobit/getStatus.asp
			inquiry_timeout 1s
			%s
			dedup_scope oobit-inquiry
		}
		reverse_proxy %s {
			transport http {
				response_header_timeout 300ms
			}
		}
	}
	handle /version {
		respond "%d"
	}
}
`, logPath,
		route("octo3", "secret "+soakKeys.Octo3),
		route("thedao", "secret "+soakKeys.TheDAO),
		route("checkout", "secret "+soakKeys.Checkout+"\n\t\t\tauthorization "+soakKeys.CheckoutAuthorization),
		route("octopus", "secret "+soakKeys.Octopus+"\n\t\t\tkey "+soakKeys.OctopusKey),
		route("oobit", "secret "+soakKeys.Oobit),
		soakQueuedPath, soakKeys.Octo3, store, soakUpstreamSecret, queueApp, soakQueueTimeout, soakQueueConcurrency,
		soakKeys.Oobit, soakMerchant, api, store, app,
		version)
}

func TestSoak(t *testing.T) {
	n := 2000
	if s := os.Getenv("PAYNOTIFY_SOAK_N"); s != "" {
		var err error
		n, err = strconv.Atoi(s)
		require.NoError(t, err)
	}
	// Short leases, so that a delivery that timed out (its claim is kept)
	// comes back within the run.
	defer func(d, l time.Duration) { deliveryTimeout, claimLease = d, l }(deliveryTimeout, claimLease)
	deliveryTimeout, claimLease = time.Second, 2*time.Second

	app := simulator.NewFaultyApp(simulator.Faults{Error5xx: 0.08, Slow: 0.03, SlowFor: 1500 * time.Millisecond, Reset: 0.04})
	defer app.Server.Close()
	appAddr := strings.TrimPrefix(app.Server.URL, "http://")
	queueApp := newSoakQueueApp(simulator.Faults{Error5xx: 0.08, Slow: 0.05, SlowFor: soakQueueSlowFor, Reset: 0.04})
	defer queueApp.server.Close()
	store := "store bolt " + filepath.Join(t.TempDir(), "dedup.db")
	logPath := filepath.Join(t.TempDir(), "caddy.log")
	// oobit's getStatus.asp, failing part of the time: a fifth of the calls
	// get a 500, then garbage, then a dropped connection, then no answer
	// within inquiry_timeout.
	api := standin.New()
	api.SetOobitMerchant(soakMerchant, soakKeys.Oobit)
	api.SetFaultFraction(standin.ServerError, 0.2)
	api.SetSlowFor(1500 * time.Millisecond)
	apiServer := httptest.NewServer(api)
	defer apiServer.Close()
	config := func(version int) string {
		return soakCaddyfile(appAddr, queueApp.addr(), store, logPath, apiServer.URL, version)
	}

	var caddyProc *soakProcess
	var reload func(version int)
	workers := 16
	patience := &simulator.Sender{Client: &http.Client{Timeout: 10 * time.Second}, Base: "http://localhost:9080",
		MaxAttempts: 80, Backoff: 20 * time.Millisecond, MaxBackoff: 500 * time.Millisecond}
	if bin := os.Getenv("PAYNOTIFY_SOAK_CADDY"); bin != "" {
		caddyProc = startSoakProcess(t, bin, config(0))
		defer caddyProc.stop()
		reload = caddyProc.load
		// The process keeps the default leases (2 min): a provider's patience,
		// and more senders, as most of them wait out a kept claim.
		patience.MaxAttempts, patience.MaxBackoff = 400, 5*time.Second
		workers = 128
	} else {
		tc := caddytest.NewTester(t)
		tc.InitServer(config(0), "caddyfile")
		reload = func(version int) { tc.InitServer(config(version), "caddyfile") }
	}

	// The mix: one notification in five is hostile; one in ten goes to the
	// inquiring route, half of those genuine, half forged in a way only
	// the inquiry catches; one in ten goes to the queued route (octo3), a
	// quarter of those hostile.
	var messages []simulator.Message
	hostile, inquired, queued := 0, 0, 0
	for i := range n {
		provider := simulator.Providers[i%len(simulator.Providers)]
		if i%10 == 7 {
			queued++
			m := simulator.Genuine("octo3", fmt.Sprintf("Q-%06d", i), soakKeys)
			if i%40 == 17 {
				attack := simulator.Attacks[(i/40)%len(simulator.Attacks)]
				m = simulator.Hostile("octo3", fmt.Sprintf("QH-%06d", i), attack, soakKeys)
				hostile++
			}
			m.Path = soakQueuedPath
			messages = append(messages, m)
			continue
		}
		if i%10 == 3 {
			inquired++
			order := fmt.Sprintf("I-%06d", i)
			if i%20 == 3 {
				messages = append(messages, simulator.GenuineInquired("oobit", order, soakKeys, api))
				continue
			}
			attack := simulator.InquiryAttacks[(i/20)%len(simulator.InquiryAttacks)]
			messages = append(messages, simulator.HostileInquired("oobit", order, attack, soakKeys, api))
			hostile++
			continue
		}
		if i%5 == 4 {
			attack := simulator.Attacks[(i/5)%len(simulator.Attacks)]
			messages = append(messages, simulator.Hostile(provider, fmt.Sprintf("H-%06d", i), attack, soakKeys))
			hostile++
			continue
		}
		messages = append(messages, simulator.Genuine(provider, fmt.Sprintf("G-%06d", i), soakKeys))
	}

	sender := patience
	results := make([]simulator.Result, len(messages))
	var inFlight sync.Map       // index → true while its first attempts are under way
	atKill := map[string]bool{} // orders in flight when Caddy was killed
	next := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				inFlight.Store(i, true)
				results[i] = sender.Send(context.Background(), messages[i])
				inFlight.Delete(i)
			}
		}()
	}
	start := time.Now()
	for i := range messages {
		switch i {
		case n / 4:
			api.SetFaultFraction(standin.Garbage, 0.2)
		case n / 2:
			api.SetFaultFraction(standin.Drop, 0.2)
		case 3 * n / 4:
			api.SetFaultFraction(standin.Slow, 0.1)
		}
		switch i {
		case n / 3, 2 * n / 3: // reload under traffic
			go reload(i)
		case 2 * n / 5:
			app.Outage(2 * time.Second)
			queueApp.Outage(soakQueueOutage)
		case 3 * n / 5:
			if caddyProc != nil {
				inFlight.Range(func(k, _ any) bool { atKill[messages[k.(int)].Order] = true; return true })
				caddyProc.kill()
				inFlight.Range(func(k, _ any) bool { atKill[messages[k.(int)].Order] = true; return true })
				caddyProc.restart()
			}
		}
		next <- i
	}
	close(next)
	wg.Wait()

	// Replays of delivered events: acknowledged, never forwarded again.
	replays := 0
	for i := 0; i < len(messages); i += 20 {
		if messages[i].Hostile == "" && results[i].Acked {
			r := sender.Send(context.Background(), messages[i])
			assert.True(t, r.Acked, "replay of %s not acknowledged", messages[i].Order)
			replays++
		}
	}
	elapsed := time.Since(start)

	// The queued route's queue drains: what was acknowledged is delivered.
	depth, dead, drained, err := drainQueue("octo3", soakQueueDrainTimeout)
	require.NoError(t, err, "reading the queue's depth from the metrics")
	assert.Zero(t, depth, "caddy_paynotify_queue_depth %s after the run", drained.Round(time.Millisecond))
	assert.Zero(t, dead, "caddy_paynotify_dead_letters: no queued event may run out of retry_for here")

	// Invariants.
	accepted := app.Accepted()
	queueAccepted := queueApp.Accepted()
	queuedAcked, queuedHostile, queueDuplicates, queueExtra := 0, 0, 0, 0
	genuine, acked, attempts, crashDuplicates := 0, 0, 0, 0
	statuses := map[int]int{}
	for i, m := range messages {
		r := results[i]
		attempts += r.Attempts
		for s, c := range r.Statuses {
			statuses[s] += c
		}
		if m.Hostile != "" {
			assert.False(t, r.Acked, "hostile %s (%s) was acknowledged", m.Order, m.Hostile)
			assert.Zero(t, accepted[m.Order], "hostile %s (%s) reached the app", m.Order, m.Hostile)
			assert.Empty(t, queueAccepted[m.Order], "hostile %s (%s) reached the queued route's app", m.Order, m.Hostile)
			if m.Path == soakQueuedPath {
				queuedHostile++
			}
			continue
		}
		genuine++
		if m.Path == soakQueuedPath {
			if r.Acked {
				acked++
				queuedAcked++
				assert.NotEmpty(t, queueAccepted[m.Order], "%s was acknowledged on the queued route: the app must have accepted it", m.Order)
			}
			if got := queueAccepted[m.Order]; len(got) > 1 {
				queueDuplicates++
				queueExtra += len(got) - 1
				for k, a := range got {
					assert.Equal(t, got[0].eventID, a.eventID, "%s: Paynotify-Event-Id of delivery %d", m.Order, k+1)
					assert.Equal(t, got[0].eventID, a.webhookID, "%s: webhook-id of delivery %d", m.Order, k+1)
				}
			}
			for k, a := range queueAccepted[m.Order] {
				assert.NotEmpty(t, a.eventID, "%s: delivery %d has no Paynotify-Event-Id", m.Order, k+1)
				assert.NoError(t, a.signature, "%s: upstream_secret's signature of delivery %d", m.Order, k+1)
			}
			continue
		}
		if r.Acked {
			acked++
			if atKill[m.Order] && accepted[m.Order] == 2 {
				crashDuplicates++
				continue
			}
			assert.Equal(t, 1, accepted[m.Order], "%s was acknowledged: the app must have accepted it exactly once", m.Order)
		}
	}
	assert.Equal(t, genuine, acked, "every genuine notification is acknowledged in the end")
	ackedOrders := map[string]bool{}
	for i, m := range messages {
		if results[i].Acked {
			ackedOrders[m.Order] = true
		}
	}
	for order := range accepted {
		assert.True(t, ackedOrders[order], "the app accepted %s but the provider never got its ACK", order)
	}
	// Per event, not per reply: a copy answered 409 or 503 may have been
	// followed (or preceded) by one that queued the event and was
	// acknowledged. An event the app has was queued by a copy that the
	// provider then got the ACK of, unless that ACK was lost on the way
	// (the provider's timeout, 10 s, or a kill between the store's write
	// and the reply): the provider sends again until it gets one, and its
	// copy is then a duplicate, acknowledged.
	for order := range queueAccepted {
		assert.True(t, ackedOrders[order], "the queued route's app accepted %s but the provider never got its ACK", order)
	}
	// Extra deliveries come only from attempts the app went on working on
	// after the worker gave up on them (its timeout, or a kill).
	queueFaults := queueApp.Injected.Snapshot()
	timedOut := queueFaults["slow"]
	bound := timedOut
	if caddyProc != nil {
		bound += soakQueueConcurrency // in flight at the kill
	}
	assert.LessOrEqual(t, queueExtra, bound,
		"extra deliveries of queued events: more than the attempts that timed out while the app worked on them")

	// The log: no panic, and nothing secret or raw above debug.
	outcomes, inquiries, deliveries, deliveryTimeouts := map[string]int{}, map[string]int{}, map[string]int{}, 0
	f, err := os.Open(logPath)
	require.NoError(t, err)
	defer f.Close()
	scanner := bufio.NewScanner(f)
	scanner.Buffer(make([]byte, 1<<20), 1<<20)
	lines := 0
	for scanner.Scan() {
		line := scanner.Text()
		lines++
		assert.NotContains(t, strings.ToLower(line), "panic", "a panic in the log")
		for _, secret := range []string{soakUpstreamSecret, soakKeys.Octo3, soakKeys.TheDAO, soakKeys.Checkout, soakKeys.CheckoutAuthorization,
			soakKeys.Octopus, soakKeys.OctopusKey, soakKeys.Oobit, soakMerchant, "4111111111111111", "SOAK-RAW-MARKER"} {
			assert.NotContains(t, line, secret, "a secret, card number or body in the log: %.200s", line)
		}
		var entry struct {
			Msg, Outcome, Inquiry, Result, Reason string
		}
		if json.Unmarshal([]byte(line), &entry) == nil && entry.Msg == "notification" {
			outcomes[entry.Outcome]++
			if entry.Inquiry != "" {
				inquiries[entry.Inquiry]++
			}
		}
		if entry.Msg == "delivery" {
			deliveries[entry.Result]++
			if strings.Contains(entry.Reason, "did not answer within timeout") {
				deliveryTimeouts++
			}
		}
	}
	require.NoError(t, scanner.Err())

	faults := app.Injected.Snapshot()
	t.Logf("run of %d notifications in %s: genuine %d, hostile %d, acknowledged %d", n, elapsed.Round(time.Millisecond),
		genuine, hostile, acked)
	t.Logf("requests sent %d (retries %d), replies by status %v", attempts, attempts-len(messages), statuses)
	t.Logf("delivered %d, duplicates suppressed %d (replays sent %d), in flight %d, upstream failed %d, store unavailable %d",
		outcomes["delivered"], outcomes["duplicate"], replays, outcomes["in_flight"], outcomes["upstream_failed"],
		outcomes["store_unavailable"])
	t.Logf("hostile refused: invalid_signature %d, forbidden_source %d, malformed %d, too_large %d, bad_method %d",
		outcomes["invalid_signature"], outcomes["forbidden_source"], outcomes["malformed"], outcomes["too_large"], outcomes["bad_method"])
	rss := "of this process (Caddy in it) " + peakRSS("self")
	if caddyProc != nil {
		rss = "of the Caddy process " + caddyProc.peakRSS()
		t.Logf("Caddy killed and restarted mid-run: %d requests were in flight; %d of those events reached the app twice (the at-least-once window)",
			len(atKill), crashDuplicates)
	}
	t.Logf("inquiring route: %d notifications; calls to the stand-in %d; inquiries by result %v; inquiry_failed %d",
		inquired, api.Calls("oobit"), inquiries, outcomes["inquiry_failed"])
	t.Logf("faults injected %v; %d log lines checked; peak RSS %s", faults, lines, rss)
	t.Logf("queued route: %d notifications (hostile %d), acknowledged %d (log: queued %d); the app got %d attempts, faults %v; "+
		"attempts by result %v (timed out %d)", queued, queuedHostile, queuedAcked, outcomes["queued"], queueApp.attempts.Load(),
		queueFaults, deliveries, deliveryTimeouts)
	t.Logf("queued route: drained in %s after the run (depth %.0f, dead letters %.0f); the app accepted %d events, "+
		"%d of them more than once (%d extra deliveries; bound %d: attempts that timed out while the app worked on them%s)",
		drained.Round(time.Millisecond), depth, dead, len(queueAccepted), queueDuplicates, queueExtra, bound,
		map[bool]string{true: ", plus the concurrency in flight at the kill", false: ""}[caddyProc != nil])
	assert.Positive(t, outcomes["inquiry_failed"], "the stand-in API failed no inquiry")
	assert.Positive(t, inquiries["refused"], "no forgery was refused by the inquiry")
	assert.Greater(t, faults["5xx"]+faults["slow"]+faults["reset"], 0, "the app injected no fault")
	assert.Greater(t, queueFaults["5xx"]+queueFaults["slow"]+queueFaults["reset"], 0, "the queued route's app injected no fault")
	assert.Positive(t, deliveries["retry"], "no queued delivery was retried")
	assert.Greater(t, outcomes["duplicate"], 0)
}

// peakRSS reads VmHWM, the peak resident set size, of a process from /proc.
func peakRSS(pid string) string {
	data, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		return "unknown"
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			return strings.TrimSpace(strings.TrimPrefix(line, "VmHWM:"))
		}
	}
	return "unknown"
}

// soakProcess is Caddy as a process of its own, for the full run.
type soakProcess struct {
	t       *testing.T
	bin     string
	cfgPath string
	env     []string
	cmd     *exec.Cmd
	maxRSS  string
}

func startSoakProcess(t *testing.T, bin, config string) *soakProcess {
	dir := t.TempDir()
	p := &soakProcess{t: t, bin: bin, cfgPath: filepath.Join(dir, "Caddyfile"),
		env: append(os.Environ(), "XDG_DATA_HOME="+filepath.Join(dir, "data"), "XDG_CONFIG_HOME="+filepath.Join(dir, "config"))}
	require.NoError(t, os.WriteFile(p.cfgPath, []byte(config), 0o600))
	p.restart()
	return p
}

func (p *soakProcess) restart() {
	p.cmd = exec.Command(p.bin, "run", "--config", p.cfgPath, "--adapter", "caddyfile")
	p.cmd.Env = p.env
	require.NoError(p.t, p.cmd.Start())
	for i := 0; ; i++ {
		if res, err := http.Get("http://localhost:2999/config/"); err == nil {
			res.Body.Close()
			return
		}
		require.Less(p.t, i, 100, "Caddy did not start")
		time.Sleep(100 * time.Millisecond)
	}
}

// load replaces the config through the admin API, as `caddy reload` does.
func (p *soakProcess) load(version int) {
	cfg := soakCaddyfileFromFile(p, version)
	res, err := http.Post("http://localhost:2999/load", "text/caddyfile", bytes.NewReader(cfg))
	if assert.NoError(p.t, err) {
		assert.Equal(p.t, http.StatusOK, res.StatusCode, "reload")
		res.Body.Close()
	}
}

func soakCaddyfileFromFile(p *soakProcess, version int) []byte {
	cfg, err := os.ReadFile(p.cfgPath)
	require.NoError(p.t, err)
	return bytes.Replace(cfg, []byte(`respond "0"`), []byte(fmt.Sprintf("respond %q", fmt.Sprint(version))), 1)
}

func (p *soakProcess) kill() {
	p.maxRSS = peakRSS(fmt.Sprint(p.cmd.Process.Pid))
	_ = p.cmd.Process.Kill()
	_ = p.cmd.Wait()
}

func (p *soakProcess) peakRSS() string {
	now := peakRSS(fmt.Sprint(p.cmd.Process.Pid))
	return fmt.Sprintf("%s before the kill, %s after the restart", p.maxRSS, now)
}

func (p *soakProcess) stop() {
	_ = p.cmd.Process.Signal(os.Interrupt)
	_ = p.cmd.Wait()
}
