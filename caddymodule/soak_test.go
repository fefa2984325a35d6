package caddymodule

// The run: a real Caddy with dedup on, a provider simulator sending genuine
// and hostile notifications of every scheme, an app that injects faults, and
// config reloads mid-run. Its size is PAYNOTIFY_SOAK_N (default 2000, the
// CI size; 20000 for the full run). It prints its figures and checks:
// every genuine notification ACKed was accepted by the app exactly once,
// every one the app accepted was ACKed, no hostile one reached the app, no
// panic, and no secret, card number or body in the log.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
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
)

var soakKeys = simulator.Keys{
	Octo3: "soak-octo3-secret", Checkout: "soak-checkout-key", CheckoutAuthorization: "soak-checkout-authorization",
	Octopus: "soak-octopus-secret", OctopusKey: "soak-octopus-key", Oobit: "soak-oobit-key",
}

func soakCaddyfile(app, store, logPath string, version int) string {
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

http://localhost:9080 {%s%s%s%s
	handle /version {
		respond "%d"
	}
}
`, logPath,
		route("octo3", "secret "+soakKeys.Octo3),
		route("checkout", "secret "+soakKeys.Checkout+"\n\t\t\tauthorization "+soakKeys.CheckoutAuthorization),
		route("octopus", "secret "+soakKeys.Octopus+"\n\t\t\tkey "+soakKeys.OctopusKey),
		route("oobit", "secret "+soakKeys.Oobit),
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
	store := "store bolt " + filepath.Join(t.TempDir(), "dedup.db")
	logPath := filepath.Join(t.TempDir(), "caddy.log")
	tc := caddytest.NewTester(t)
	tc.InitServer(soakCaddyfile(appAddr, store, logPath, 0), "caddyfile")

	// The mix: one notification in five is hostile.
	var messages []simulator.Message
	hostile := 0
	for i := range n {
		provider := simulator.Providers[i%len(simulator.Providers)]
		if i%5 == 4 {
			attack := simulator.Attacks[(i/5)%len(simulator.Attacks)]
			messages = append(messages, simulator.Hostile(provider, fmt.Sprintf("H-%06d", i), attack, soakKeys))
			hostile++
			continue
		}
		messages = append(messages, simulator.Genuine(provider, fmt.Sprintf("G-%06d", i), soakKeys))
	}

	sender := &simulator.Sender{Client: &http.Client{Timeout: 10 * time.Second}, Base: "http://localhost:9080",
		MaxAttempts: 80, Backoff: 20 * time.Millisecond, MaxBackoff: 500 * time.Millisecond}
	results := make([]simulator.Result, len(messages))
	next := make(chan int)
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				results[i] = sender.Send(context.Background(), messages[i])
			}
		}()
	}
	start := time.Now()
	for i := range messages {
		switch i {
		case n / 3, 2 * n / 3: // reload under traffic
			go tc.InitServer(soakCaddyfile(appAddr, store, logPath, i), "caddyfile")
		case n / 2:
			app.Outage(2 * time.Second)
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

	// Invariants.
	accepted := app.Accepted()
	genuine, acked, attempts := 0, 0, 0
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
			continue
		}
		genuine++
		if r.Acked {
			acked++
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

	// The log: no panic, and nothing secret or raw above debug.
	outcomes := map[string]int{}
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
		for _, secret := range []string{soakKeys.Octo3, soakKeys.Checkout, soakKeys.CheckoutAuthorization,
			soakKeys.Octopus, soakKeys.OctopusKey, soakKeys.Oobit, "4111111111111111", "SOAK-RAW-MARKER"} {
			assert.NotContains(t, line, secret, "a secret, card number or body in the log: %.200s", line)
		}
		var entry struct {
			Msg, Outcome string
		}
		if json.Unmarshal([]byte(line), &entry) == nil && entry.Msg == "notification" {
			outcomes[entry.Outcome]++
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
	t.Logf("faults injected %v; %d log lines checked; peak RSS of this process (Caddy in it) %s", faults, lines, peakRSS())
	assert.Greater(t, faults["5xx"]+faults["slow"]+faults["reset"], 0, "the app injected no fault")
	assert.Greater(t, outcomes["duplicate"], 0)
}

// peakRSS reads VmHWM, the peak resident set size, from /proc.
func peakRSS() string {
	data, err := os.ReadFile("/proc/self/status")
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
