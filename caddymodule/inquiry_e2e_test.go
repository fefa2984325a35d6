package caddymodule_test

// The handler's part of verify by inquiry, with a provider made for the
// test (inquirytest) so that every path is reached on purpose: a stated
// event already delivered is acknowledged without a call; the API's trouble
// is a 503 with Retry-After and nothing forwarded; a refusal is a 401 that
// leaves no claim behind; an id known only from the answer is claimed after
// the call. The providers' own inquiries are tested with their stand-ins
// (inquiry_<provider>_e2e_test.go).

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddytest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/paynotify/paynotify/verifiers"
)

func init() {
	caddy.RegisterModule(inquiryTest{})
}

// inquiryTest is a provider for this test only: the body is
// {"id":"...","late":false}; the stated event is "it-<id>", or has no id
// with late (its id, "late-<id>", comes with the answer, as Mollie's does).
// The API at inquire answers GET /tx/<id> with "yes" or "no".
type inquiryTest struct {
	verifiers.Inquiry
}

func (inquiryTest) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: verifiers.Namespace + ".inquirytest", New: func() caddy.Module { return new(inquiryTest) }}
}

func (v *inquiryTest) Options() []verifiers.Option { return v.Inquiry.Options("the test API") }
func (v *inquiryTest) CheckConfig() error          { return v.Inquiry.CheckConfig("") }
func (v *inquiryTest) About() verifiers.About {
	return verifiers.About{Scheme: "none: the test API is asked", Inquire: "always"}
}
func (v *inquiryTest) Provision(caddy.Context) error { return v.Inquiry.Provision("") }
func (v *inquiryTest) Provider() string              { return "inquirytest" }
func (v *inquiryTest) Methods() []string             { return []string{http.MethodPost} }
func (v *inquiryTest) ACK() verifiers.ACK {
	return verifiers.ACK{Status: http.StatusOK, ContentType: "text/plain", Body: "OK"}
}
func (v *inquiryTest) Inquires() bool { return true }

func (v *inquiryTest) Verify(ctx context.Context, r *verifiers.Request) ([]verifiers.Event, error) {
	return verifiers.VerifyByInquiry(ctx, v, r)
}

func (v *inquiryTest) Notice(r *verifiers.Request) ([]verifiers.Event, error) {
	var n struct {
		ID   string `json:"id"`
		Late bool   `json:"late"`
	}
	if err := json.Unmarshal(r.Body, &n); err != nil || n.ID == "" {
		return nil, fmt.Errorf("%w: no id", verifiers.ErrMalformed)
	}
	e := verifiers.NewEvent(v.Provider(), r)
	e.Status = verifiers.StatusSucceeded
	e.TransactionID = n.ID
	e.OrderID = "ORD-" + n.ID
	if !n.Late {
		e.ID = "it-" + n.ID
	}
	return []verifiers.Event{e}, nil
}

func (v *inquiryTest) Inquire(ctx context.Context, _ *verifiers.Request, stated []verifiers.Event) ([]verifiers.Event, error) {
	e := stated[0]
	req, err := http.NewRequest(http.MethodGet, v.Endpoint("/tx/"+e.TransactionID, ""), nil)
	if err != nil {
		return nil, err
	}
	a, err := v.Do(ctx, req)
	if err != nil {
		return nil, err
	}
	switch {
	case a.Status != http.StatusOK:
		return nil, a.Unexpected("the test API")
	case string(a.Body) == "no":
		return nil, fmt.Errorf("%w: the test API does not know transaction %s", verifiers.ErrSignature, e.TransactionID)
	case string(a.Body) != "yes":
		return nil, fmt.Errorf("%w: the test API's answer is unreadable", verifiers.ErrInquiry)
	}
	if e.ID == "" {
		e.ID = "late-" + e.TransactionID
	}
	return []verifiers.Event{e}, nil
}

// testAPI answers the inquiries: known ids "yes", others "no"; with fail
// set, 500; with slow set (or slowOnce, for the next call), after 3
// seconds.
type testAPI struct {
	*httptest.Server
	calls      atomic.Int64
	mu         sync.Mutex
	known      map[string]bool
	fail, slow bool
	slowOnce   bool // the next call only is slow
}

func newTestAPI(t *testing.T) *testAPI {
	a := &testAPI{known: map[string]bool{}}
	a.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.calls.Add(1)
		a.mu.Lock()
		fail, slow, known := a.fail, a.slow || a.slowOnce, a.known[strings.TrimPrefix(r.URL.Path, "/tx/")]
		a.slowOnce = false
		a.mu.Unlock()
		switch {
		case slow:
			select {
			case <-time.After(3 * time.Second):
			case <-r.Context().Done():
			}
		case fail:
			http.Error(w, "down", http.StatusInternalServerError)
		case known:
			_, _ = w.Write([]byte("yes"))
		default:
			_, _ = w.Write([]byte("no"))
		}
	}))
	t.Cleanup(a.Close)
	return a
}

func (a *testAPI) set(f func(a *testAPI)) {
	a.mu.Lock()
	defer a.mu.Unlock()
	f(a)
}

func startInquiryCaddy(t *testing.T) (*caddytest.Tester, *upstream, *testAPI, string) {
	up := newUpstream(t)
	api := newTestAPI(t)
	logFile := filepath.Join(t.TempDir(), "paynotify.log")
	global := strings.Replace(globalOptions, "\tgrace_period 1ns\n", "\tgrace_period 1ns\n\tlog paynotify {\n\t\toutput file "+logFile+
		"\n\t\tformat json\n\t\tinclude http.handlers.paynotify\n\t}\n", 1)
	tc := caddytest.NewTester(t)
	initServer(tc, global+strings.NewReplacer("UPSTREAM", strings.TrimPrefix(up.URL, "http://"), "API", api.URL,
		"STORE", filepath.Join(t.TempDir(), "dedup.db")).Replace(`
http://localhost:9080 {
	handle /it {
		paynotify inquirytest {
			inquire API
			inquiry_timeout 1s
			store bolt STORE
		}
		reverse_proxy UPSTREAM
	}
}
`), "caddyfile")
	return tc, up, api, logFile
}

func inquiryNotification(t *testing.T, body string) *http.Request {
	req, err := http.NewRequest(http.MethodPost, "http://localhost:9080/it", strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	return req
}

func TestInquiryConfirmsThenDuplicatesCostNoCall(t *testing.T) {
	tc, up, api, logFile := startInquiryCaddy(t)
	api.set(func(a *testAPI) { a.known["1"] = true })
	inquired := `caddy_paynotify_inquiry_duration_seconds_count{provider="inquirytest"}`
	before := scrape(t)

	r := send(t, tc, inquiryNotification(t, `{"id":"1"}`))
	assert.Equal(t, http.StatusOK, r.Status)
	assert.Equal(t, "OK", r.Body)
	require.Len(t, up.take(), 1)
	assert.EqualValues(t, 1, api.calls.Load())

	// The retry of a delivered event: ACK, no call, nothing forwarded.
	r = send(t, tc, inquiryNotification(t, `{"id":"1"}`))
	assert.Equal(t, "OK", r.Body)
	assert.Empty(t, up.take())
	assert.EqualValues(t, 1, api.calls.Load(), "a duplicate was asked about")
	assert.Equal(t, 1.0, scrape(t)[inquired]-before[inquired])

	var lines []map[string]any
	require.Eventually(t, func() bool {
		lines = notificationLines(t, logFile)
		return len(lines) >= 2
	}, 5*time.Second, 20*time.Millisecond)
	assert.Equal(t, "delivered", lines[0]["outcome"])
	assert.Equal(t, "confirmed", lines[0]["inquiry"])
	assert.NotEmpty(t, lines[0]["inquiry_duration"])
	assert.Equal(t, "duplicate", lines[1]["outcome"])
	assert.Nil(t, lines[1]["inquiry"], "a duplicate's line says there was no call")
}

func TestInquiryRefusalLeavesNoClaim(t *testing.T) {
	tc, up, api, logFile := startInquiryCaddy(t)

	// Unknown to the API: 401, nothing forwarded.
	r := send(t, tc, inquiryNotification(t, `{"id":"2"}`))
	assert.Equal(t, http.StatusUnauthorized, r.Status)
	assert.Empty(t, up.take())

	// Known later (the notification came before the payment was booked):
	// the retry is asked again and delivered; the refusal left no claim
	// and no delivered mark behind.
	api.set(func(a *testAPI) { a.known["2"] = true })
	r = send(t, tc, inquiryNotification(t, `{"id":"2"}`))
	assert.Equal(t, "OK", r.Body)
	assert.Len(t, up.take(), 1)
	assert.EqualValues(t, 2, api.calls.Load())

	lines := notificationLines(t, logFile)
	require.NotEmpty(t, lines)
	assert.Equal(t, "invalid_signature", lines[0]["outcome"])
	assert.Equal(t, "refused", lines[0]["inquiry"])
	assert.Contains(t, lines[0]["reason"], "does not know transaction 2")
}

func TestInquiryTroubleIs503ThenTheRetryIsDeliveredOnce(t *testing.T) {
	tc, up, api, logFile := startInquiryCaddy(t)
	failed := `caddy_paynotify_notifications_total{outcome="inquiry_failed",provider="inquirytest"}`
	before := scrape(t)
	_, listed := before[failed]
	assert.True(t, listed, "inquiry_failed is on /metrics before the first failure")
	api.set(func(a *testAPI) { a.known["3"], a.fail = true, true })

	r := send(t, tc, inquiryNotification(t, `{"id":"3"}`))
	assert.Equal(t, http.StatusServiceUnavailable, r.Status)
	assert.Equal(t, "60", r.Header.Get("Retry-After"))
	assert.Empty(t, r.Body)
	assert.Empty(t, up.take())

	// Too slow: inquiry_timeout (1s) ends the call.
	api.set(func(a *testAPI) { a.fail, a.slow = false, true })
	start := time.Now()
	r = send(t, tc, inquiryNotification(t, `{"id":"3"}`))
	assert.Equal(t, http.StatusServiceUnavailable, r.Status)
	assert.Less(t, time.Since(start), 2500*time.Millisecond, "the call outlived inquiry_timeout")
	assert.Empty(t, up.take())

	api.set(func(a *testAPI) { a.slow = false })
	assert.Equal(t, "OK", send(t, tc, inquiryNotification(t, `{"id":"3"}`)).Body)
	assert.Len(t, up.take(), 1)
	assert.Equal(t, "OK", send(t, tc, inquiryNotification(t, `{"id":"3"}`)).Body)
	assert.Empty(t, up.take(), "the retry after the recovery was delivered twice")
	assert.Equal(t, 2.0, scrape(t)[failed]-before[failed])

	lines := notificationLines(t, logFile)
	require.GreaterOrEqual(t, len(lines), 2)
	assert.Equal(t, "inquiry_failed", lines[0]["outcome"])
	assert.Equal(t, "failed", lines[0]["inquiry"])
	assert.Contains(t, lines[0]["reason"], "answered 500")
	assert.Contains(t, lines[1]["reason"], "did not answer within inquiry_timeout 1s")
}

// A copy being asked about holds no claim: a forged copy (an IPN's txn_id
// is on the buyer's receipt) sent again and again must not keep the
// genuine one out with 409 while the provider is asked about it.
func TestInquiryDoesNotHoldTheClaimWhileAsking(t *testing.T) {
	tc, up, api, _ := startInquiryCaddy(t)
	api.set(func(a *testAPI) { a.known["4"], a.slowOnce = true, true })
	done := make(chan reply)
	go func() { done <- send(t, tc, inquiryNotification(t, `{"id":"4"}`)) }()
	require.Eventually(t, func() bool { return api.calls.Load() == 1 }, 5*time.Second, 10*time.Millisecond)

	// The same event while the first copy is still being asked about.
	r := send(t, tc, inquiryNotification(t, `{"id":"4"}`))
	assert.Equal(t, "OK", r.Body)
	assert.Len(t, up.take(), 1)
	assert.Equal(t, http.StatusServiceUnavailable, (<-done).Status, "the first copy's call outlived inquiry_timeout")
	assert.EqualValues(t, 2, api.calls.Load())
	assert.Empty(t, up.take())
	assert.Equal(t, "OK", send(t, tc, inquiryNotification(t, `{"id":"4"}`)).Body)
	assert.Empty(t, up.take(), "delivered twice")
	assert.EqualValues(t, 2, api.calls.Load(), "a delivered duplicate was asked about")
}

func TestInquiryIdFromTheAnswerIsClaimedAfterTheCall(t *testing.T) {
	tc, up, api, _ := startInquiryCaddy(t)
	api.set(func(a *testAPI) { a.known["5"] = true })
	assert.Equal(t, "OK", send(t, tc, inquiryNotification(t, `{"id":"5","late":true}`)).Body)
	got := up.take()
	require.Len(t, got, 1)
	assert.Equal(t, "late-5", got[0].Header.Get("Paynotify-Event-Id"))

	// Its duplicate costs a call (the id comes with the answer) but is
	// not forwarded again.
	assert.Equal(t, "OK", send(t, tc, inquiryNotification(t, `{"id":"5","late":true}`)).Body)
	assert.Empty(t, up.take())
	assert.EqualValues(t, 2, api.calls.Load())
}

// notificationLines are the log's "notification" lines, one per
// notification.
func notificationLines(t *testing.T, path string) []map[string]any {
	var lines []map[string]any
	for _, l := range readJSONLines(t, path) {
		if l["msg"] == "notification" {
			lines = append(lines, l)
		}
	}
	return lines
}
