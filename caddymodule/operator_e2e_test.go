package caddymodule_test

// What the operator and the app see besides the ACK: the Standard Webhooks
// signature of forwarded requests, the placeholders in later handlers and
// the access log, and the counters on the admin endpoint's /metrics.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddytest"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// upstreamSecret is 24 random bytes, the shortest secret the spec allows.
const upstreamSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

func startOperatorCaddy(t *testing.T) (*caddytest.Tester, *upstream, string) {
	up := newUpstream(t)
	accessLog := filepath.Join(t.TempDir(), "access.log")
	tc := caddytest.NewTester(t)
	initServer(tc, globalOptions+strings.NewReplacer("UPSTREAM", strings.TrimPrefix(up.URL, "http://"),
		"ACCESSLOG", accessLog, "WHSEC", upstreamSecret).Replace(`
http://localhost:9080 {
	log {
		output file ACCESSLOG
		format json
	}
	handle /signed {
		paynotify octo3 {
			dedup off
			secret octo3-test-secret
			upstream_secret WHSEC
		}
		reverse_proxy UPSTREAM
	}
	handle /signed/original {
		paynotify octo3 {
			dedup off
			secret octo3-test-secret
			forward original
			upstream_secret WHSEC
		}
		reverse_proxy UPSTREAM
	}
	handle /placeholders {
		paynotify octo3 {
			dedup off
			secret octo3-test-secret
		}
		log_append order {paynotify.order_id}
		log_append outcome {paynotify.outcome}
		log_append event {paynotify.event_id}
		reverse_proxy UPSTREAM {
			header_up X-Order {paynotify.order_id}
			header_up X-Event {paynotify.event_id}
			header_up X-Status {paynotify.status}
			header_up X-Provider {paynotify.provider}
		}
	}
}
`), "caddyfile")
	return tc, up, accessLog
}

func TestForwardedRequestsAreSignedWithStandardWebhooks(t *testing.T) {
	tc, up, _ := startOperatorCaddy(t)
	wh, err := standardwebhooks.NewWebhook(upstreamSecret)
	require.NoError(t, err)
	other, err := standardwebhooks.NewWebhook("whsec_" + strings.Repeat("A", 32))
	require.NoError(t, err)

	for _, path := range []string{"/signed", "/signed/original"} {
		t.Run(path, func(t *testing.T) {
			req := golden(t, "octo3/accepted", path)
			// A forged signature must not reach the app next to ours.
			req.Header.Set("Webhook-Signature", "v1,Zm9yZ2Vk")
			sent := time.Now()
			r := send(t, tc, req)
			require.Equal(t, "ACK", r.Body)
			got := up.take()
			require.Len(t, got, 1)
			h := got[0].Header

			require.NoError(t, wh.Verify(got[0].Body, h), "the app's Standard Webhooks check fails")
			assert.Equal(t, h.Get("Paynotify-Event-Id"), h.Get("webhook-id"))
			assert.Regexp(t, `^v1,[A-Za-z0-9+/]{43}=$`, h.Get("webhook-signature"), "exactly our one signature")
			ts, err := strconv.ParseInt(h.Get("webhook-timestamp"), 10, 64)
			require.NoError(t, err)
			assert.InDelta(t, sent.Unix(), ts, 5)

			assert.Error(t, other.Verify(got[0].Body, h), "verifies with any secret")
			tampered := bytes.Replace(got[0].Body, []byte("12.50"), []byte("99.50"), 1)
			require.NotEqual(t, got[0].Body, tampered)
			assert.Error(t, wh.Verify(tampered, h), "verifies a changed body")
		})
	}
}

func TestPlaceholdersReachLaterHandlersAndTheAccessLog(t *testing.T) {
	tc, up, accessLog := startOperatorCaddy(t)
	r := send(t, tc, golden(t, "octo3/accepted", "/placeholders"))
	require.Equal(t, "ACK", r.Body)
	got := up.take()
	require.Len(t, got, 1)
	var event map[string]any
	require.NoError(t, json.Unmarshal(got[0].Body, &event))
	assert.Equal(t, "ORD-20240501-0001", got[0].Header.Get("X-Order"))
	assert.Equal(t, event["id"], got[0].Header.Get("X-Event"))
	assert.Equal(t, "succeeded", got[0].Header.Get("X-Status"))
	assert.Equal(t, "octo3", got[0].Header.Get("X-Provider"))

	assert.Equal(t, http.StatusUnauthorized, send(t, tc, golden(t, "octo3/tampered_amount", "/placeholders")).Status)

	// Caddy writes the access log line once the reply is sent.
	var lines []map[string]any
	require.Eventually(t, func() bool {
		lines = readJSONLines(t, accessLog)
		return len(lines) >= 2
	}, 5*time.Second, 20*time.Millisecond)
	assert.Equal(t, "delivered", lines[0]["outcome"])
	assert.Equal(t, "ORD-20240501-0001", lines[0]["order"])
	assert.Equal(t, event["id"], lines[0]["event"])
	assert.Equal(t, "invalid_signature", lines[1]["outcome"])
	assert.EqualValues(t, http.StatusUnauthorized, lines[1]["status"])
}

func TestCountersMoveOnTheAdminMetrics(t *testing.T) {
	tc, up, _ := startOperatorCaddy(t)
	delivered := `caddy_paynotify_notifications_total{outcome="delivered",provider="octo3"}`
	forged := `caddy_paynotify_notifications_total{outcome="invalid_signature",provider="octo3"}`
	malformed := `caddy_paynotify_notifications_total{outcome="malformed",provider="octo3"}`
	verified := `caddy_paynotify_verify_duration_seconds_count{provider="octo3"}`
	upstream := `caddy_paynotify_upstream_duration_seconds_count{provider="octo3"}`
	before := scrape(t)
	for _, name := range []string{delivered, forged, malformed, verified, upstream} {
		_, ok := before[name]
		assert.True(t, ok, "%s is not on /metrics before the first notification", name)
	}

	send(t, tc, golden(t, "octo3/accepted", "/placeholders"))
	send(t, tc, golden(t, "octo3/accepted", "/signed"))
	send(t, tc, golden(t, "octo3/tampered_amount", "/signed"))
	require.Len(t, up.take(), 2)

	after := scrape(t)
	assert.Equal(t, 2.0, after[delivered]-before[delivered])
	assert.Equal(t, 1.0, after[forged]-before[forged])
	assert.Equal(t, 0.0, after[malformed]-before[malformed])
	assert.Equal(t, 3.0, after[verified]-before[verified])
	assert.Equal(t, 2.0, after[upstream]-before[upstream])
}

// scrape reads the admin endpoint's /metrics into series → value.
func scrape(t *testing.T) map[string]float64 {
	t.Helper()
	res, err := http.Get("http://localhost:2999/metrics")
	require.NoError(t, err)
	defer res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	series := map[string]float64{}
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		name, value, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(value, 64)
		require.NoError(t, err, line)
		series[name] = v
	}
	require.NoError(t, sc.Err())
	return series
}

func readJSONLines(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil
	}
	require.NoError(t, err)
	defer f.Close()
	raw, err := io.ReadAll(f)
	require.NoError(t, err)
	var lines []map[string]any
	for _, line := range bytes.Split(bytes.TrimSpace(raw), []byte("\n")) {
		var m map[string]any
		if json.Unmarshal(line, &m) == nil {
			lines = append(lines, m)
		}
	}
	return lines
}

// TestUpstreamSignatureSurvivesProviderSignatureHeaders: a provider whose own
// signature travels in a Standard Webhooks header (GoCardless'
// Webhook-Signature; a standardwebhooks sender's webhook-id, -timestamp and
// -signature) must not take away the signature upstream_secret adds to a
// normalized event: the app would get the event without a signature it can
// check (and an app that requires one would refuse every notification).
func TestUpstreamSignatureSurvivesProviderSignatureHeaders(t *testing.T) {
	up := newUpstream(t)
	const appSecret = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY" // 24 bytes, not the senders' secret
	tc := caddytest.NewTester(t)
	initServer(tc, globalOptions+strings.NewReplacer("UPSTREAM", strings.TrimPrefix(up.URL, "http://"),
		"APPSECRET", appSecret, "SWSECRET", hostileSWSecret).Replace(`
http://localhost:9080 {
	handle /gocardless {
		paynotify gocardless {
			secret gocardless-test-secret
			dedup off
			upstream_secret APPSECRET
		}
		reverse_proxy UPSTREAM
	}
	handle /standardwebhooks {
		paynotify standardwebhooks {
			secret SWSECRET
			dedup off
			upstream_secret APPSECRET
		}
		reverse_proxy UPSTREAM
	}
}
`), "caddyfile")
	wh, err := standardwebhooks.NewWebhook(appSecret)
	require.NoError(t, err)
	for _, c := range []struct {
		name string
		req  func(t *testing.T) *http.Request
	}{
		{"gocardless", func(t *testing.T) *http.Request { return golden(t, "gocardless/payment_confirmed", "/gocardless") }},
		{"standardwebhooks", sw(swValid, nil)},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := send(t, tc, c.req(t))
			require.Less(t, r.Status, 300, r.Body)
			got := up.take()
			require.NotEmpty(t, got)
			for _, f := range got {
				require.Regexp(t, `^v1,[A-Za-z0-9+/]{43}=$`, f.Header.Get("webhook-signature"), "exactly our one signature")
				require.NoError(t, wh.Verify(f.Body, f.Header), "the app's Standard Webhooks check of the normalized event")
				assert.Equal(t, f.Header.Get("Paynotify-Event-Id"), f.Header.Get("webhook-id"))
			}
		})
	}
}
