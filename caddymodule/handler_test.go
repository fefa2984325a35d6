package caddymodule

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/paynotify/paynotify/verifiers"
)

const testSecret = "octo3-test-secret"

func provisioned(t *testing.T, h *Handler) *observer.ObservedLogs {
	t.Helper()
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	t.Cleanup(cancel)
	require.NoError(t, h.Provision(ctx))
	core, logs := observer.New(zapcore.DebugLevel)
	h.logger = zap.New(core)
	return logs
}

// serveGolden sends testdata/<name>.http through h, with next as the app.
func serveGolden(t *testing.T, h *Handler, name string, next caddyhttp.Handler) (*httptest.ResponseRecorder, *caddy.Replacer, error) {
	t.Helper()
	raw, err := os.ReadFile("../testdata/" + name + ".http")
	require.NoError(t, err)
	req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw)))
	require.NoError(t, err)
	req.RemoteAddr = "192.0.2.10:40000"
	repl := caddy.NewReplacer()
	req = req.WithContext(context.WithValue(req.Context(), caddy.ReplacerCtxKey, repl))
	w := httptest.NewRecorder()
	return w, repl, h.ServeHTTP(w, req, next)
}

var appAccepts = caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
	w.WriteHeader(http.StatusNoContent)
	return nil
})

func TestRejectionIsLoggedWithItsReasonAndNoSecret(t *testing.T) {
	h := &Handler{ProviderRaw: providerJSON("octo3", testSecret), Dedup: "off"}
	logs := provisioned(t, h)
	called := false
	next := caddyhttp.HandlerFunc(func(http.ResponseWriter, *http.Request) error { called = true; return nil })

	_, repl, err := serveGolden(t, h, "octo3/tampered_amount", next)
	var he caddyhttp.HandlerError
	require.True(t, errors.As(err, &he))
	assert.Equal(t, http.StatusUnauthorized, he.StatusCode)
	assert.False(t, called, "a forged notification reached the app")

	entries := logs.FilterMessage("notification").All()
	require.Len(t, entries, 1, "one log line per notification")
	line := entries[0]
	assert.Equal(t, zapcore.WarnLevel, line.Level)
	fields := line.ContextMap()
	assert.Equal(t, "invalid_signature", fields["outcome"])
	assert.Equal(t, "octo3", fields["provider"])
	assert.Equal(t, "192.0.2.10", fields["client_ip"])
	assert.Contains(t, fields["reason"], "secure_hash field matches none of the 1 configured secrets")
	outcome, _ := repl.GetString("paynotify.outcome")
	assert.Equal(t, "invalid_signature", outcome)

	for _, e := range logs.All() {
		text := e.Message
		for k, v := range e.ContextMap() {
			text += " " + k + "=" + toString(v)
		}
		assert.NotContains(t, text, testSecret)
		assert.NotContains(t, text, "4111111111111111")
		assert.NotContains(t, text, "bill_to_email_address", "the raw body is in a log line")
	}
}

func TestMalformedValuesAreNotEchoedInLogs(t *testing.T) {
	h := &Handler{ProviderRaw: providerJSON("octo3", testSecret), Dedup: "off"}
	logs := provisioned(t, h)
	_, _, err := serveGolden(t, h, "octo3/bad_amount", appAccepts)
	var he caddyhttp.HandlerError
	require.True(t, errors.As(err, &he))
	assert.Equal(t, http.StatusBadRequest, he.StatusCode)
	entries := logs.FilterMessage("notification").All()
	require.Len(t, entries, 1)
	reason := entries[0].ContextMap()["reason"].(string)
	assert.Contains(t, reason, "field captured_amount is not well formed")
	assert.NotContains(t, reason, "12,50", "an unauthenticated value in the log")
	assert.NotContains(t, err.Error(), "12,50", "an unauthenticated value in the error handle_errors sees")
}

func TestDeliveryIsLoggedAndSetsPlaceholders(t *testing.T) {
	h := &Handler{ProviderRaw: providerJSON("octo3", testSecret), Dedup: "off"}
	logs := provisioned(t, h)

	w, repl, err := serveGolden(t, h, "octo3/accepted", appAccepts)
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, w.Code)
	assert.Equal(t, "ACK", w.Body.String())

	entries := logs.FilterMessage("notification").All()
	require.Len(t, entries, 1)
	fields := entries[0].ContextMap()
	assert.Equal(t, zapcore.InfoLevel, entries[0].Level)
	assert.Equal(t, "delivered", fields["outcome"])
	assert.Equal(t, "ORD-20240501-0001", fields["order_id"])
	assert.EqualValues(t, http.StatusNoContent, fields["upstream_status"])
	for _, d := range []string{"duration", "verify_duration", "upstream_duration"} {
		assert.Positive(t, fields[d], d)
	}

	for key, want := range map[string]string{
		"paynotify.provider": "octo3",
		"paynotify.event_id": fields["event_id"].(string),
		"paynotify.status":   "succeeded",
		"paynotify.order_id": "ORD-20240501-0001",
		"paynotify.outcome":  "delivered",
	} {
		got, _ := repl.GetString(key)
		assert.Equal(t, want, got, key)
	}
}

func TestAllowIPWithoutSourceAddress(t *testing.T) {
	// A request whose client address cannot be read is not in any allowlist.
	h := &Handler{ProviderRaw: providerJSON("octo3", testSecret), AllowIP: []string{"0.0.0.0/0", "::/0"}, Dedup: "off"}
	provisioned(t, h)
	ip, _ := clientAddr(&http.Request{RemoteAddr: "not-an-address"})
	assert.False(t, h.sourceAllowed(ip))
	ip, _ = clientAddr(&http.Request{RemoteAddr: "[::ffff:192.0.2.1]:1"})
	assert.True(t, h.sourceAllowed(ip))
}

func TestStripPaynotifyHeaders(t *testing.T) {
	h := http.Header{}
	h.Set("Paynotify-Event-Id", "x")
	h["paynotify-status"] = []string{"x"}
	h["Paynotify_Provider"] = []string{"x"}
	h["PAYNOTIFY_EVENT_ID"] = []string{"x"}
	h.Set("Paynotifyx", "kept")
	h.Set("X-Paynotify-Event-Id", "kept")
	h["Paynotify.Status"] = []string{"x"}
	stripPaynotifyHeaders(h)
	assert.Equal(t, http.Header{"Paynotifyx": {"kept"}, "X-Paynotify-Event-Id": {"kept"}}, h)
}

func TestStripHeaders(t *testing.T) {
	h := http.Header{}
	h.Set("Webhook-Id", "x")
	h["Webhook_Signature"] = []string{"x"}
	h["webhook.timestamp"] = []string{"x"}
	h.Set("Webhook-Ids", "kept")
	h.Set("X-Webhook-Id", "kept")
	stripHeaders(h, "webhook-id", "webhook-signature", "webhook-timestamp")
	assert.Equal(t, http.Header{"Webhook-Ids": {"kept"}, "X-Webhook-Id": {"kept"}}, h)
}

func toString(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return ""
}

func TestEventKeyScope(t *testing.T) {
	e := verifiers.Event{Provider: "checkout", ID: "evt_1"}
	shop1, shop2 := &Handler{scope: defaultScope}, &Handler{scope: "shop2"}
	assert.Equal(t, "checkout/default/evt_1", shop1.eventKey(e))
	assert.NotEqual(t, shop1.eventKey(e), shop2.eventKey(e), "another scope, another app")
	assert.NotEqual(t, shop1.eventKey(e), shop1.eventKey(verifiers.Event{Provider: "octopus", ID: "evt_1"}), "another provider")

	long := verifiers.Event{Provider: "checkout", ID: strings.Repeat("x", 40000)}
	assert.Less(t, len(shop1.eventKey(long)), 200, "a huge id is hashed into the key")
}

func TestHandlersOfOneConfigShareTheirMetrics(t *testing.T) {
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	t.Cleanup(cancel)
	a := &Handler{ProviderRaw: providerJSON("octo3", testSecret), Dedup: "off"}
	b := &Handler{ProviderRaw: providerJSON("octo3", testSecret), Dedup: "off", Forward: "original"}
	c := &Handler{ProviderRaw: providerJSON("checkout", "cko-test-signature-key"), Dedup: "off"}
	for _, h := range []*Handler{a, b, c} {
		require.NoError(t, h.Provision(ctx), "a second handler must not fail on metrics already registered")
		h.logger = zap.NewNop()
	}
	_, _, err := serveGolden(t, a, "octo3/accepted", appAccepts)
	require.NoError(t, err)
	_, _, err = serveGolden(t, b, "octo3/accepted", appAccepts)
	require.NoError(t, err)
	_, _, err = serveGolden(t, b, "octo3/tampered_amount", appAccepts)
	require.Error(t, err)

	families, err := ctx.GetMetricsRegistry().Gather()
	require.NoError(t, err)
	counts := map[string]float64{}
	histograms := map[string]uint64{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			labels := f.GetName()
			for _, l := range m.GetLabel() {
				labels += " " + l.GetName() + "=" + l.GetValue()
			}
			if m.Counter != nil {
				counts[labels] = m.GetCounter().GetValue()
			}
			if m.Histogram != nil {
				histograms[labels] = m.GetHistogram().GetSampleCount()
			}
		}
	}
	assert.Equal(t, 2.0, counts["caddy_paynotify_notifications_total outcome=delivered provider=octo3"])
	assert.Equal(t, 1.0, counts["caddy_paynotify_notifications_total outcome=invalid_signature provider=octo3"])
	for _, outcome := range []string{"duplicate", "in_flight", "upstream_failed", "forbidden_source", "malformed",
		"too_large", "bad_method", "store_unavailable"} {
		v, ok := counts["caddy_paynotify_notifications_total outcome="+outcome+" provider=checkout"]
		assert.True(t, ok && v == 0, "checkout %s is not a zero series before its first notification", outcome)
	}
	assert.Equal(t, uint64(3), histograms["caddy_paynotify_verify_duration_seconds provider=octo3"])
	assert.Equal(t, uint64(2), histograms["caddy_paynotify_upstream_duration_seconds provider=octo3"])
	assert.Equal(t, uint64(0), histograms["caddy_paynotify_upstream_duration_seconds provider=checkout"])
}

func TestPanicOfTheAppIsLoggedAndCounted(t *testing.T) {
	h := &Handler{ProviderRaw: providerJSON("octo3", testSecret), Dedup: "off"}
	logs := provisioned(t, h)
	boom := caddyhttp.HandlerFunc(func(http.ResponseWriter, *http.Request) error { panic("boom") })
	assert.PanicsWithValue(t, "boom", func() { _, _, _ = serveGolden(t, h, "octo3/accepted", boom) })
	entries := logs.FilterMessage("notification").All()
	require.Len(t, entries, 1)
	assert.Equal(t, "upstream_failed", entries[0].ContextMap()["outcome"])
	assert.Contains(t, entries[0].ContextMap()["reason"], "panic in the next handler: boom")
	assert.Equal(t, 1.0, testutil.ToFloat64(h.metrics.notifications["upstream_failed"]))
}

// TestEveryNotificationIsCountedOnce: each outcome moves its own counter by
// one and no other.
func TestEveryNotificationIsCountedOnce(t *testing.T) {
	appFails := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		w.WriteHeader(http.StatusInternalServerError)
		return nil
	})
	dir := t.TempDir()
	cases := []struct {
		outcome string
		handler *Handler
		golden  string
		next    caddyhttp.Handler
	}{
		{"delivered", &Handler{ProviderRaw: providerJSON("octo3", testSecret), Store: &Store{Type: "bolt", Path: dir + "/a.db"}}, "octo3/accepted", appAccepts},
		{"duplicate", nil, "octo3/accepted_retry", appAccepts}, // the same handler again: the retry of the event
		{"invalid_signature", &Handler{ProviderRaw: providerJSON("octo3", testSecret), Dedup: "off"}, "octo3/wrong_secret", appAccepts},
		{"malformed", &Handler{ProviderRaw: providerJSON("octo3", testSecret), Dedup: "off"}, "octo3/bad_amount", appAccepts},
		{"bad_method", &Handler{ProviderRaw: providerJSON("octo3", testSecret), Dedup: "off"}, "octo3/get_method", appAccepts},
		{"too_large", &Handler{ProviderRaw: providerJSON("octo3", testSecret), Dedup: "off", MaxBody: 100}, "octo3/accepted", appAccepts},
		{"forbidden_source", &Handler{ProviderRaw: providerJSON("octo3", testSecret), Dedup: "off", AllowIP: []string{"198.51.100.0/24"}}, "octo3/accepted", appAccepts},
		{"upstream_failed", &Handler{ProviderRaw: providerJSON("octo3", testSecret), Dedup: "off"}, "octo3/accepted", appFails},
		{"store_unavailable", &Handler{ProviderRaw: providerJSON("octo3", testSecret), Store: &Store{Type: "redis", URL: "redis://127.0.0.1:9/0"}}, "octo3/accepted", appAccepts},
	}
	var h *Handler
	for _, c := range cases {
		if c.handler != nil {
			h = c.handler
			provisioned(t, h)
			t.Cleanup(func() { _ = c.handler.Cleanup() })
		}
		before := map[string]float64{}
		for _, o := range outcomes {
			before[o] = testutil.ToFloat64(h.metrics.notifications[o])
		}
		_, _, _ = serveGolden(t, h, c.golden, c.next)
		for _, o := range outcomes {
			want := 0.0
			if o == c.outcome {
				want = 1
			}
			assert.Equal(t, want, testutil.ToFloat64(h.metrics.notifications[o])-before[o], "%s: counter %s", c.outcome, o)
		}
	}
}

// stalledBody yields what arrived, then fails as a read past the deadline does.
type stalledBody struct{ arrived []byte }

func (s *stalledBody) Read(p []byte) (int, error) {
	if len(s.arrived) == 0 {
		return 0, os.ErrDeadlineExceeded
	}
	n := copy(p, s.arrived)
	s.arrived = s.arrived[n:]
	return n, nil
}

func (s *stalledBody) Close() error { return nil }

// TestBodyBufferGrowsWithWhatArrives: a client that declares 4 MiB and sends
// one byte costs a small buffer, not 4 MiB (300 of them held 1.2 GiB).
func TestBodyBufferGrowsWithWhatArrives(t *testing.T) {
	r := httptest.NewRequest(http.MethodPost, "/", nil)
	r.Body = &stalledBody{arrived: []byte("v")}
	r.ContentLength = 4 << 20
	body, err := readBody(httptest.NewRecorder(), r, 4<<20)
	require.ErrorIs(t, err, os.ErrDeadlineExceeded)
	assert.Equal(t, "v", string(body))
	assert.LessOrEqual(t, cap(body), maxBodyBuffer, "buffer allocated for bytes that never came")

	// A body that does arrive is read whole, past the first buffer.
	big := bytes.Repeat([]byte("x"), 3*maxBodyBuffer+7)
	r = httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(big))
	body, err = readBody(httptest.NewRecorder(), r, 4<<20)
	require.NoError(t, err)
	assert.Equal(t, big, body)
}

// TestScopesOfOneConfig: two routes of one provider are refused unless both
// name their scope alike, or they are copies of one route.
func TestScopesOfOneConfig(t *testing.T) {
	load := func() caddy.Context {
		ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
		t.Cleanup(cancel)
		return ctx
	}
	handler := func(scope string) *Handler {
		h := &Handler{provider: "checkout", DedupScope: scope, scope: defaultScope, logger: zap.NewNop()}
		if scope != "" {
			h.scope = scope
		}
		return h
	}
	ctx := load()
	require.NoError(t, handler("").claimScope(ctx, "config A"))
	assert.NoError(t, handler("").claimScope(ctx, "config A"), "a copy of the same route (a site on two listeners)")
	assert.ErrorContains(t, handler("").claimScope(ctx, "config B"), "dedup_scope: another checkout route")
	assert.ErrorContains(t, handler("").claimScope(ctx, `config C with {"store":{"type":"redis","url":"redis://localhost"}}`),
		"dedup_scope: another checkout route", "another spelling of the store may be the same store")
	assert.ErrorContains(t, handler("default").claimScope(ctx, "config A"), "dedup_scope", "default named once, not by both")
	assert.NoError(t, handler("shop2").claimScope(ctx, "config B"))
	assert.NoError(t, handler("shop2").claimScope(ctx, "config C"), "named alike by both: one endpoint")
	assert.NoError(t, (&Handler{provider: "octopus", scope: defaultScope, logger: zap.NewNop()}).claimScope(ctx, "config B"), "another provider")
	assert.NoError(t, handler("").claimScope(load(), "config B"), "the next config load starts afresh")
}

// TestBoltPathThatIsNotAFileIsRefusedAtOnce: a FIFO at the store's path must
// not be opened (that blocks the config load, and the admin API with it).
func TestBoltPathThatIsNotAFileIsRefusedAtOnce(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "dedup.db")
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))
	done := make(chan error, 1)
	go func() { _, err := (&fileNames{}).canonical(fifo); done <- err }()
	select {
	case err := <-done:
		assert.ErrorContains(t, err, "is not a file")
	case <-time.After(5 * time.Second):
		// Unblock the open so that the goroutine ends.
		if f, err := os.OpenFile(fifo, os.O_WRONLY, 0); err == nil {
			f.Close()
		}
		t.Fatal("opening the store's path blocked")
	}
	_, err := (&fileNames{}).canonical(t.TempDir())
	assert.ErrorContains(t, err, "is not a file")
}

// providerJSON is the provider object of a handler's JSON config.
func providerJSON(name string, secrets ...string) json.RawMessage {
	raw, err := json.Marshal(map[string]any{"name": name, "secrets": secrets})
	if err != nil {
		panic(err)
	}
	return raw
}

// A JSON config's provider object is checked at provision, with messages
// that name the provider and the option.
func TestProvisionChecksTheProviderObject(t *testing.T) {
	for raw, want := range map[string]string{
		``:                                      `paynotify: provider: required`,
		`{"secrets":["s"]}`:                     `paynotify: provider: the object has no "name" string (supported: [`,
		`{"Name":"octo3","secrets":["s3cr3t"]}`: `paynotify: provider: the object has no "name" string`,
		`"octo3"`:                               `paynotify: provider: an object such as {"name": "octo3"`,
		`{"name":"octo4"}`:                      `paynotify: provider: unknown provider "octo4"`,
		`{"name":"octo3"}`:                      `paynotify octo3: secret: required for provider "octo3"`,
		`{"name":"octo3","secrets":["s"],"key":"k"}`:                         `unknown field "key"`,
		`{"name":"octo3","secrets":["{env.PAYNOTIFY_TEST_UNSET_VARIABLE}"]}`: `paynotify octo3: secret: secret 1:`,
		`{"name":"checkout","secrets":["s"],"authorization":"{env:X}"}`:      `paynotify checkout: authorization: `,
		`{"name":"oobit","secrets":["s"]}`:                                   `paynotify: allow_ip: required for oobit as configured`,
	} {
		ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
		h := &Handler{ProviderRaw: json.RawMessage(raw), Dedup: "off"}
		err := h.Provision(ctx)
		cancel()
		if assert.Error(t, err, raw) {
			assert.Contains(t, err.Error(), want, raw)
			assert.NotContains(t, err.Error(), "s3cr3t", "no secret in the message")
		}
	}
}
