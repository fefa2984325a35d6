package caddymodule_test

// End-to-end tests of the dedup rows of PRODUCT.md's table, with each store.

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddytest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/paynotify/paynotify/internal/testredis"
)

// dedupStores are the store lines each dedup test runs with.
func dedupStores(t *testing.T) map[string]string {
	stores := map[string]string{"bolt": "store bolt " + filepath.Join(t.TempDir(), "dedup.db")}
	if redisMissing(t) {
		return stores // testredis fails in CI, skips elsewhere: see TestRedisIsAvailable
	}
	// The Redis URL comes through {env.*}, as an operator keeps its password
	// out of the config.
	t.Setenv("PAYNOTIFY_E2E_REDIS_URL", testredis.URL(t))
	stores["redis"] = "store redis {env.PAYNOTIFY_E2E_REDIS_URL}"
	return stores
}

func redisMissing(t *testing.T) bool {
	_, err := exec.LookPath("redis-server")
	return err != nil && os.Getenv("CI") == ""
}

// TestRedisIsAvailable makes a missing redis-server visible: skipped here,
// a failure in CI.
func TestRedisIsAvailable(t *testing.T) {
	testredis.URL(t)
}

func dedupCaddyfile(up, store, extra string) string {
	return globalOptions + strings.NewReplacer("UPSTREAM", up, "STORE", store, "EXTRA", extra).Replace(`
http://localhost:9080 {
	handle /octo3 {
		paynotify octo3 {
			secret octo3-test-secret octo3-old-secret
			STORE
		}
		reverse_proxy UPSTREAM
	}
	handle /checkout {
		paynotify checkout {
			secret cko-test-signature-key cko-old-signature-key
			authorization cko-test-authorization
			STORE
		}
		reverse_proxy UPSTREAM
	}
	handle /octo3/timeout {
		paynotify octo3 {
			secret octo3-test-secret
			STORE
			dedup_scope octo3-timeout
		}
		reverse_proxy UPSTREAM {
			transport http {
				response_header_timeout 300ms
			}
		}
	}
	handle /app2/checkout {
		paynotify checkout {
			secret cko-test-signature-key
			authorization cko-test-authorization
			STORE
			dedup_scope app2
		}
		reverse_proxy UPSTREAM
	}
	EXTRA
}
`)
}

func startDedupCaddy(t *testing.T, store string) (*caddytest.Tester, *upstream) {
	up := newUpstream(t)
	tc := caddytest.NewTester(t)
	initServer(tc, dedupCaddyfile(strings.TrimPrefix(up.URL, "http://"), store, ""), "caddyfile")
	return tc, up
}

func TestRetryOfADeliveredEventIsAckedNotForwarded(t *testing.T) {
	for name, store := range dedupStores(t) {
		t.Run(name, func(t *testing.T) {
			tc, up := startDedupCaddy(t, store)

			assert.Equal(t, "ACK", send(t, tc, golden(t, "octo3/accepted", "/octo3")).Body)
			assert.Len(t, up.take(), 1)
			// The provider's retry: dr_count 2, otherwise the same event.
			r := send(t, tc, golden(t, "octo3/accepted_retry", "/octo3"))
			assert.Equal(t, http.StatusOK, r.Status)
			assert.Equal(t, "ACK", r.Body)
			assert.Empty(t, up.take(), "a retry of a delivered event reached the app")
			// Another event of the same order is not a duplicate.
			assert.Equal(t, "ACK", send(t, tc, golden(t, "octo3/refund", "/octo3")).Body)
			assert.Len(t, up.take(), 1)

			// Checkout.com: the same evt_ id, here even signed with the old secret.
			assert.Equal(t, http.StatusOK, send(t, tc, golden(t, "checkout/payment_captured", "/checkout")).Status)
			assert.Len(t, up.take(), 1)
			assert.Equal(t, http.StatusOK, send(t, tc, golden(t, "checkout/old_secret", "/checkout")).Status)
			assert.Empty(t, up.take())
		})
	}
}

func TestConcurrentCopiesReachTheAppOnce(t *testing.T) {
	for name, store := range dedupStores(t) {
		t.Run(name, func(t *testing.T) {
			tc, up := startDedupCaddy(t, store)
			const copies = 16
			replies := make(chan reply, copies)
			var wg sync.WaitGroup
			for range copies {
				wg.Add(1)
				go func() {
					defer wg.Done()
					req := golden(t, "octo3/accepted", "/octo3")
					req.Header.Set("X-Test-Answer", "slow") // the app takes 2 s
					replies <- send(t, tc, req)
				}()
			}
			wg.Wait()
			close(replies)
			acks := 0
			for r := range replies {
				switch r.Status {
				case http.StatusOK:
					assert.Equal(t, "ACK", r.Body)
					acks++
				case http.StatusConflict:
					assert.Equal(t, "30", r.Header.Get("Retry-After"))
					assert.NotContains(t, r.Body, "ACK")
				default:
					t.Errorf("reply %d %q: want the ACK or 409", r.Status, r.Body)
				}
			}
			assert.GreaterOrEqual(t, acks, 1)
			assert.Len(t, up.take(), 1, "the app must get one copy")
		})
	}
}

func TestFailedDeliveryIsRetriedAndDeliveredOnce(t *testing.T) {
	for name, store := range dedupStores(t) {
		t.Run(name, func(t *testing.T) {
			tc, up := startDedupCaddy(t, store)
			req := golden(t, "octo3/accepted", "/octo3")
			req.Header.Set("X-Test-Answer", "503")
			assert.Equal(t, http.StatusBadGateway, send(t, tc, req).Status)
			assert.Len(t, up.take(), 1)

			// The provider retries: the claim was released, so it goes through.
			assert.Equal(t, "ACK", send(t, tc, golden(t, "octo3/accepted_retry", "/octo3")).Body)
			got := up.take()
			require.Len(t, got, 1)
			// And from then on it is a duplicate.
			assert.Equal(t, "ACK", send(t, tc, golden(t, "octo3/accepted", "/octo3")).Body)
			assert.Empty(t, up.take())
		})
	}
}

// TestProviderHangingUpMidDeliveryGetsNoSecondCopy: the provider gives up
// waiting (its own timeout) while the app still works; the delivery goes on,
// and the provider's retry is a duplicate, not a second copy.
func TestProviderHangingUpMidDeliveryGetsNoSecondCopy(t *testing.T) {
	for name, store := range dedupStores(t) {
		t.Run(name, func(t *testing.T) {
			tc, up := startDedupCaddy(t, store)
			impatient := &http.Client{Timeout: 500 * time.Millisecond}
			req := golden(t, "octo3/accepted", "/octo3")
			req.Header.Set("X-Test-Answer", "slow") // the app takes 2 s
			_, err := impatient.Do(req)
			require.Error(t, err, "the provider gave up")
			time.Sleep(2 * time.Second)
			r := send(t, tc, golden(t, "octo3/accepted_retry", "/octo3"))
			assert.Equal(t, "ACK", r.Body)
			assert.Len(t, up.take(), 1, "the app must get the event once")
		})
	}
}

// TestTimedOutDeliveryKeepsItsClaim: the app may have the event when the
// delivery timed out, so the retry waits (409) instead of getting a copy.
func TestTimedOutDeliveryKeepsItsClaim(t *testing.T) {
	tc, up := startDedupCaddy(t, "store bolt "+filepath.Join(t.TempDir(), "dedup.db"))
	req := golden(t, "octo3/accepted", "/octo3/timeout")
	req.Header.Set("X-Test-Answer", "slow")
	assert.Equal(t, http.StatusBadGateway, send(t, tc, req).Status)
	r := send(t, tc, golden(t, "octo3/accepted_retry", "/octo3/timeout"))
	assert.Equal(t, http.StatusConflict, r.Status)
	assert.Equal(t, "30", r.Header.Get("Retry-After"))
	time.Sleep(2 * time.Second) // let the slow app finish
	assert.Len(t, up.take(), 1)
}

func TestDedupWindowIsTheConfiguredOne(t *testing.T) {
	tc, up := startDedupCaddy(t, "dedup 1s\n\t\t\tstore bolt "+filepath.Join(t.TempDir(), "dedup.db"))
	assert.Equal(t, "ACK", send(t, tc, golden(t, "octo3/accepted", "/octo3")).Body)
	assert.Equal(t, "ACK", send(t, tc, golden(t, "octo3/accepted_retry", "/octo3")).Body)
	assert.Len(t, up.take(), 1)
	time.Sleep(1500 * time.Millisecond)
	assert.Equal(t, "ACK", send(t, tc, golden(t, "octo3/accepted_retry", "/octo3")).Body)
	assert.Len(t, up.take(), 1, "after the window a copy is a new delivery")
}

// TestTwoAppsGetTheSameProviderEvent: Checkout.com sends one evt_ id to every
// webhook endpoint; two apps behind one Caddy, each route with its own
// dedup_scope, each get it.
func TestTwoAppsGetTheSameProviderEvent(t *testing.T) {
	tc, up := startDedupCaddy(t, "store bolt "+filepath.Join(t.TempDir(), "dedup.db"))
	assert.Equal(t, http.StatusOK, send(t, tc, golden(t, "checkout/payment_captured", "/checkout")).Status)
	assert.Equal(t, http.StatusOK, send(t, tc, golden(t, "checkout/payment_captured", "/app2/checkout")).Status)
	got := up.take()
	require.Len(t, got, 2)
	assert.Equal(t, "/checkout", got[0].Path)
	assert.Equal(t, "/app2/checkout", got[1].Path)
}

// TestValidateWhileRunning: `caddy validate` provisions the config while the
// running Caddy holds the bolt file; it must not wait for the file's lock.
func TestValidateWhileRunning(t *testing.T) {
	store := "store bolt " + filepath.Join(t.TempDir(), "dedup.db")
	tc, up := startDedupCaddy(t, store)
	assert.Equal(t, "ACK", send(t, tc, golden(t, "octo3/accepted", "/octo3")).Body) // the file is open
	up.take()

	cfgJSON, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(dedupCaddyfile("127.0.0.1:1", store, "")), nil)
	require.NoError(t, err)
	var cfg caddy.Config
	require.NoError(t, json.Unmarshal(cfgJSON, &cfg))
	start := time.Now()
	require.NoError(t, caddy.Validate(&cfg))
	assert.Less(t, time.Since(start), 500*time.Millisecond)
	assert.Equal(t, "ACK", send(t, tc, golden(t, "octo3/accepted_retry", "/octo3")).Body, "the running Caddy still works")
	assert.Empty(t, up.take())
}

func TestDedupOffForwardsEveryCopy(t *testing.T) {
	tc, up := startDedupCaddy(t, "dedup off")
	for range 3 {
		assert.Equal(t, "ACK", send(t, tc, golden(t, "octo3/accepted", "/octo3")).Body)
	}
	assert.Len(t, up.take(), 3)
}

func TestStoreUnavailableIsNotAcked(t *testing.T) {
	tc, up := startDedupCaddy(t, "store redis redis://127.0.0.1:9/0") // nothing listens there
	r := send(t, tc, golden(t, "octo3/accepted", "/octo3"))
	assert.Equal(t, http.StatusServiceUnavailable, r.Status)
	assert.NotContains(t, r.Body, "ACK")
	assert.Empty(t, up.take())
}

// TestDedupRecordOutlivesTheHandler: the config is replaced by one without
// paynotify (the bolt file is closed, as at shutdown) and loaded again.
func TestDedupRecordOutlivesTheHandler(t *testing.T) {
	store := "store bolt " + filepath.Join(t.TempDir(), "dedup.db")
	tc, up := startDedupCaddy(t, store)
	assert.Equal(t, "ACK", send(t, tc, golden(t, "octo3/accepted", "/octo3")).Body)
	assert.Len(t, up.take(), 1)

	initServer(tc, globalOptions+"http://localhost:9080 {\n\trespond 200\n}\n", "caddyfile")
	initServer(tc, dedupCaddyfile(strings.TrimPrefix(up.URL, "http://"), store, ""), "caddyfile")
	assert.Equal(t, "ACK", send(t, tc, golden(t, "octo3/accepted_retry", "/octo3")).Body)
	assert.Empty(t, up.take(), "the dedup record was lost")
}

// TestReloadUnderTrafficLosesNoRecord reloads the config while notifications
// arrive: the new handlers must reuse the open bolt file (it is locked), and
// every event must reach the app exactly once, also when all are sent again.
func TestReloadUnderTrafficLosesNoRecord(t *testing.T) {
	store := "store bolt " + filepath.Join(t.TempDir(), "dedup.db")
	up := newUpstream(t)
	upAddr := strings.TrimPrefix(up.URL, "http://")
	tc := caddytest.NewTester(t)
	graceful := strings.Replace(globalOptions, "grace_period 1ns", "grace_period 5s", 1)
	load := func(version int) {
		cfg := strings.Replace(dedupCaddyfile(upAddr, store, fmt.Sprintf("handle /version {\n\t\trespond %d\n\t}", version)),
			globalOptions, graceful, 1)
		initServer(tc, cfg, "caddyfile")
	}
	load(0)

	const events = 120
	acked := make([]bool, events)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < events; i += 4 {
				res, err := tc.Client.Do(signedOcto3(t, fmt.Sprintf("ORD-RELOAD-%03d", i)))
				if err != nil {
					continue // cut off by the reload: the provider would retry
				}
				acked[i] = res.StatusCode == http.StatusOK
				res.Body.Close()
			}
		}()
	}
	for v := 1; v <= 5; v++ {
		time.Sleep(40 * time.Millisecond)
		load(v)
	}
	wg.Wait()
	// The workers' connections may be kept alive to an old server, which
	// closes them when its grace period lets it.
	tc.Client.CloseIdleConnections()

	// The provider sends every one again (those not acknowledged, and the
	// acknowledged ones whose ACK it may have lost).
	for i := range events {
		res, err := tc.Client.Do(signedOcto3(t, fmt.Sprintf("ORD-RELOAD-%03d", i)))
		require.NoError(t, err)
		assert.Equal(t, http.StatusOK, res.StatusCode, "event %d", i)
		res.Body.Close()
	}
	perOrder := map[string]int{}
	for _, got := range up.take() {
		var event struct {
			OrderID string `json:"order_id"`
		}
		require.NoError(t, json.Unmarshal(got.Body, &event))
		perOrder[event.OrderID]++
	}
	assert.Len(t, perOrder, events)
	for order, n := range perOrder {
		assert.Equal(t, 1, n, "%s reached the app %d times", order, n)
	}
	ackedCount := 0
	for _, a := range acked {
		if a {
			ackedCount++
		}
	}
	t.Logf("%d of %d acknowledged during the reloads", ackedCount, events)
}

// signedOcto3 is a minimal genuine octo3 notification for order.
func signedOcto3(t *testing.T, order string) *http.Request {
	t.Helper()
	fields := map[string]string{
		"version": "2.0", "action": "PAY", "merch_order_id": order, "merch_id": "M100200", "term_id": "T01",
		"currency": "HKD", "txn_time": "2024-05-01 10:20:30", "txn_status": "ACCEPTED",
		"txn_response_code": "00", "dr_count": "1", "captured_amount": "12.50",
	}
	names := make([]string, 0, len(fields))
	for name := range fields {
		names = append(names, name)
	}
	sort.Strings(names) // all lower case already
	mac := hmac.New(sha1.New, []byte("octo3-test-secret"))
	form := url.Values{}
	for _, name := range names {
		mac.Write([]byte(fields[name]))
		form.Set(name, fields[name])
	}
	form.Set("secure_hash", hex.EncodeToString(mac.Sum(nil)))
	req, err := http.NewRequest(http.MethodPost, "http://localhost:9080/octo3", strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return req
}
