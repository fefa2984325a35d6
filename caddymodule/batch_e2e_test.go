package caddymodule_test

// End-to-end behaviour of the batch providers (adyen's notificationItems,
// gocardless' events) through a real Caddy: the whole request is
// authenticated before anything is forwarded, each item is one event with
// its own id and dedup record, the ACK comes only once every item was
// delivered, a retry after a partial failure delivers only what is missing,
// and a replay is acknowledged without a forward.

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/caddyserver/caddy/v2/caddytest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// batchApp is the merchant app: it records every forward and answers 500 to
// the forwards fail picks (by their order since the last take, from 1).
type batchApp struct {
	*httptest.Server
	mu       sync.Mutex
	received []received
	fail     func(n int) bool
}

func newBatchApp(t *testing.T) *batchApp {
	a := &batchApp{}
	a.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		a.mu.Lock()
		a.received = append(a.received, received{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Clone(), nil, body})
		failed := a.fail != nil && a.fail(len(a.received))
		a.mu.Unlock()
		if failed {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(a.Close)
	return a
}

// failing makes the app answer 500 to the n-th forward from now on, the
// others 2xx; n 0: every forward succeeds.
func (a *batchApp) failing(n int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.received = nil
	a.fail = func(i int) bool { return i == n }
}

// take returns the forwards since the last take, and their event ids.
func (a *batchApp) take() ([]received, []string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	got := a.received
	a.received = nil
	ids := make([]string, len(got))
	for i, r := range got {
		ids[i] = r.Header.Get("Paynotify-Event-Id")
	}
	return got, ids
}

func batchCaddyfile(app, store string) string {
	return globalOptions + strings.NewReplacer("APP", app, "STORE", store, "ADYEN_KEY", adyenTestKey, "ADYEN_OLD", adyenOldKey).Replace(`
http://localhost:9080 {
	handle /adyen {
		paynotify adyen {
			secret ADYEN_KEY ADYEN_OLD
			STORE
		}
		reverse_proxy APP
	}
	handle /adyen/original {
		paynotify adyen {
			secret ADYEN_KEY ADYEN_OLD
			forward original
			STORE
			dedup_scope adyen-original
		}
		reverse_proxy APP
	}
	handle /gocardless {
		paynotify gocardless {
			secret gocardless-test-secret gocardless-old-secret
			STORE
		}
		reverse_proxy APP
	}
	handle /gocardless/original {
		paynotify gocardless {
			secret gocardless-test-secret
			forward original
			STORE
			dedup_scope gocardless-original
		}
		reverse_proxy APP
	}
	handle /gocardless/ack {
		paynotify gocardless {
			secret gocardless-test-secret
			ack received
			STORE
			dedup_scope gocardless-ack
		}
		reverse_proxy APP
	}
}
`)
}

func startBatchCaddy(t *testing.T, store string) (*caddytest.Tester, *batchApp) {
	app := newBatchApp(t)
	tc := caddytest.NewTester(t)
	initServer(tc, batchCaddyfile(strings.TrimPrefix(app.URL, "http://"), store), "caddyfile")
	return tc, app
}

// goldenIDs are the event ids of testdata/<name>.event.json, in order.
func goldenIDs(t *testing.T, name string) []string {
	raw, err := os.ReadFile(filepath.Join("..", "testdata", name+".event.json"))
	require.NoError(t, err)
	var events []struct {
		ID     string `json:"id"`
		Status string `json:"status"`
	}
	if err := json.Unmarshal(raw, &events); err != nil {
		var one struct {
			ID     string `json:"id"`
			Status string `json:"status"`
		}
		require.NoError(t, json.Unmarshal(raw, &one))
		events = append(events, one)
	}
	ids := make([]string, len(events))
	for i, e := range events {
		ids[i] = e.ID
	}
	return ids
}

// batchProvider is what the tests below need to know of a batch provider.
type batchProvider struct {
	name, path string
	batch      string // golden batch of several items
	forged     string // golden batch whose one item (or the body) is forged
	forgedCode int
	ackStatus  int
	ackBody    string
	ackType    string
	// one returns a genuine notification of the batch's i-th item alone,
	// and one of that item together with a new item.
	one, withNew func(t *testing.T, i int) *http.Request
}

var batchProviders = []batchProvider{
	{
		name: "adyen", path: "/adyen", batch: "adyen/batch", forged: "adyen/one_bad_item", forgedCode: 401,
		ackStatus: 200, ackBody: "[accepted]", ackType: "text/plain; charset=utf-8",
		one: func(t *testing.T, i int) *http.Request {
			return adyenBatchOf(t, []int{i}, false)
		},
		withNew: func(t *testing.T, i int) *http.Request {
			return adyenBatchOf(t, []int{i}, true)
		},
	},
	{
		name: "gocardless", path: "/gocardless", batch: "gocardless/batch", forged: "gocardless/tampered_second_event", forgedCode: 498,
		ackStatus: 204, ackBody: "", ackType: "",
		one: func(t *testing.T, i int) *http.Request {
			return gocardlessBatchOf(t, []int{i}, false)
		},
		withNew: func(t *testing.T, i int) *http.Request {
			return gocardlessBatchOf(t, []int{i}, true)
		},
	},
}

// batchItems are the raw items of a golden batch: member is notificationItems
// or events.
func batchItems(t *testing.T, name, member string) []json.RawMessage {
	raw, err := io.ReadAll(golden(t, name, "/").Body)
	require.NoError(t, err)
	var body map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(raw, &body))
	var items []json.RawMessage
	require.NoError(t, json.Unmarshal(body[member], &items))
	require.NotEmpty(t, items)
	return items
}

// adyenBatchOf is a notification of the items of adyen/batch at indexes,
// each still signed as Adyen signed it, and with a new genuine item (that
// of adyen/pending) after them when withNew.
func adyenBatchOf(t *testing.T, indexes []int, withNew bool) *http.Request {
	items := batchItems(t, "adyen/batch", "notificationItems")
	var picked []json.RawMessage
	for _, i := range indexes {
		picked = append(picked, items[i])
	}
	if withNew {
		picked = append(picked, batchItems(t, "adyen/pending", "notificationItems")[0])
	}
	body, err := json.Marshal(map[string]any{"live": "false", "notificationItems": picked})
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodPost, "http://localhost:9080/adyen", bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	return req
}

// gocardlessBatchOf is a webhook of the events of gocardless/batch at
// indexes, with the event of gocardless/payment_failed after them when
// withNew, signed as GoCardless signs a body.
func gocardlessBatchOf(t *testing.T, indexes []int, withNew bool) *http.Request {
	events := batchItems(t, "gocardless/batch", "events")
	var picked []json.RawMessage
	for _, i := range indexes {
		picked = append(picked, events[i])
	}
	if withNew {
		picked = append(picked, batchItems(t, "gocardless/payment_failed", "events")[0])
	}
	body, err := json.Marshal(map[string]any{"events": picked, "meta": map[string]string{"webhook_id": "WB0011AABB9999"}})
	require.NoError(t, err)
	mac := hmac.New(sha256.New, []byte(gocardlessKey))
	mac.Write(body)
	req, err := http.NewRequest(http.MethodPost, "http://localhost:9080/gocardless", bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Webhook-Signature", hex.EncodeToString(mac.Sum(nil)))
	return req
}

func assertBatchACK(t *testing.T, p batchProvider, r reply) {
	t.Helper()
	assert.Equal(t, p.ackStatus, r.Status)
	assert.Equal(t, p.ackBody, r.Body)
	assert.Equal(t, p.ackType, r.Header.Get("Content-Type"))
	assertNoAppLeak(t, r)
}

func assertNoACK(t *testing.T, r reply, status int) {
	t.Helper()
	assert.Equal(t, status, r.Status)
	assert.Empty(t, r.Body)
	assertNoAppLeak(t, r)
}

// TestBatchIsAuthenticatedWholeBeforeAnythingIsForwarded: one forged item
// (Adyen) or a forged event in a signed body (GoCardless) refuses the whole
// request; the genuine items of it are not forwarded either, and are
// delivered when the genuine batch comes.
func TestBatchIsAuthenticatedWholeBeforeAnythingIsForwarded(t *testing.T) {
	for name, store := range dedupStores(t) {
		t.Run(name, func(t *testing.T) {
			tc, app := startBatchCaddy(t, store)
			for _, p := range batchProviders {
				t.Run(p.name, func(t *testing.T) {
					assertNoACK(t, send(t, tc, golden(t, p.forged, p.path)), p.forgedCode)
					got, _ := app.take()
					assert.Empty(t, got, "an item of a forged batch reached the app")

					// The refused request claimed nothing: the genuine batch,
					// with the same first and last items, is delivered whole.
					assertBatchACK(t, p, send(t, tc, golden(t, p.batch, p.path)))
					got, ids := app.take()
					assert.Equal(t, goldenIDs(t, p.batch), ids, "each item forwarded once, as its own event, in order")
					for i, fwd := range got {
						var event map[string]any
						require.NoError(t, json.Unmarshal(fwd.Body, &event))
						assert.Equal(t, ids[i], event["id"], "Paynotify-Event-Id is the forwarded event's id")
						assert.Equal(t, p.name, event["provider"])
						assert.Equal(t, event["status"], fwd.Header.Get("Paynotify-Status"))
						assert.Equal(t, "application/json", fwd.Header.Get("Content-Type"))
						assert.Empty(t, fwd.Header.Get("Webhook-Signature"), "the provider's signature does not sign the event")
					}
				})
			}
		})
	}
}

// TestBatchIsAckedOnlyWhenEveryItemWasDelivered: the app fails on the second
// item: 502 and no ACK; the provider's retry delivers only the items the
// app does not have; a replay is acknowledged and forwards nothing; each
// item has its own dedup record, whatever batch it comes in next.
func TestBatchIsAckedOnlyWhenEveryItemWasDelivered(t *testing.T) {
	for name, store := range dedupStores(t) {
		t.Run(name, func(t *testing.T) {
			tc, app := startBatchCaddy(t, store)
			for _, p := range batchProviders {
				t.Run(p.name, func(t *testing.T) {
					want := goldenIDs(t, p.batch)
					require.GreaterOrEqual(t, len(want), 3)

					app.failing(2)
					assertNoACK(t, send(t, tc, golden(t, p.batch, p.path)), http.StatusBadGateway)
					_, ids := app.take()
					assert.Equal(t, want[:2], ids, "forwarded in order up to the item the app refused, nothing after it")

					app.failing(0)
					assertBatchACK(t, p, send(t, tc, golden(t, p.batch, p.path)))
					_, ids = app.take()
					assert.Equal(t, want[1:], ids, "the retry delivers only what the app does not have")

					assertBatchACK(t, p, send(t, tc, golden(t, p.batch, p.path)))
					_, ids = app.take()
					assert.Empty(t, ids, "a replay of a delivered batch reached the app")

					// Each item has its own record: alone, or batched with a
					// new item, a delivered item is not forwarded again.
					assertBatchACK(t, p, send(t, tc, p.one(t, 2)))
					_, ids = app.take()
					assert.Empty(t, ids, "an item delivered in a batch reached the app again on its own")
					assertBatchACK(t, p, send(t, tc, p.withNew(t, 1)))
					_, ids = app.take()
					require.Len(t, ids, 1, "only the new item is forwarded")
					assert.NotContains(t, want, ids[0])
				})
			}
		})
	}
}

// TestBatchFailureOnTheFirstItemForwardsNoOther: the delivery stops at the
// first refusal, so the app never gets items out of order.
func TestBatchFailureOnTheFirstItemForwardsNoOther(t *testing.T) {
	tc, app := startBatchCaddy(t, "store bolt "+filepath.Join(t.TempDir(), "dedup.db"))
	for _, p := range batchProviders {
		t.Run(p.name, func(t *testing.T) {
			want := goldenIDs(t, p.batch)
			app.failing(1)
			assertNoACK(t, send(t, tc, golden(t, p.batch, p.path)), http.StatusBadGateway)
			_, ids := app.take()
			assert.Equal(t, want[:1], ids)
			app.failing(0)
			assertBatchACK(t, p, send(t, tc, golden(t, p.batch, p.path)))
			_, ids = app.take()
			assert.Equal(t, want, ids, "nothing was delivered: the retry delivers everything")
		})
	}
}

// TestBatchSameItemTwiceIsDeliveredOnce: a batch that carries one item
// twice gets it to the app once.
func TestBatchSameItemTwiceIsDeliveredOnce(t *testing.T) {
	tc, app := startBatchCaddy(t, "store bolt "+filepath.Join(t.TempDir(), "dedup.db"))
	for _, c := range []struct {
		p    batchProvider
		file string
	}{{batchProviders[0], "adyen/same_item_twice"}, {batchProviders[1], "gocardless/same_event_twice"}} {
		t.Run(c.p.name, func(t *testing.T) {
			assertBatchACK(t, c.p, send(t, tc, golden(t, c.file, c.p.path)))
			_, ids := app.take()
			assert.Equal(t, goldenIDs(t, c.file)[:1], ids)
		})
	}
}

// TestBatchForwardOriginal: with forward original, a batch is forwarded
// once, as received, and its Paynotify-Event-Id header lists the id of every
// item, comma-separated (Paynotify-Status likewise). A failure leaves every
// item undelivered: the retry forwards the whole batch again. Items of the
// batch the app already has are in the forwarded body (it is the request as
// received) but not in Paynotify-Event-Id, which names the new ones only.
func TestBatchForwardOriginal(t *testing.T) {
	tc, app := startBatchCaddy(t, "store bolt "+filepath.Join(t.TempDir(), "dedup.db"))
	for _, p := range batchProviders {
		t.Run(p.name, func(t *testing.T) {
			path := p.path + "/original"
			want := goldenIDs(t, p.batch)
			sent, err := io.ReadAll(golden(t, p.batch, path).Body)
			require.NoError(t, err)

			app.failing(1)
			assertNoACK(t, send(t, tc, golden(t, p.batch, path)), http.StatusBadGateway)
			got, _ := app.take()
			require.Len(t, got, 1)

			app.failing(0)
			assertBatchACK(t, p, send(t, tc, golden(t, p.batch, path)))
			got, ids := app.take()
			require.Len(t, got, 1, "one forward for the whole batch")
			assert.Equal(t, strings.Join(want, ", "), ids[0], "every item's id, comma-separated")
			assert.Equal(t, http.MethodPost, got[0].Method)
			assert.Equal(t, path, got[0].Path)
			assert.Equal(t, sent, got[0].Body, "the batch as received")
			assert.Equal(t, "application/json", got[0].Header.Get("Content-Type"))
			assert.Len(t, strings.Split(got[0].Header.Get("Paynotify-Status"), ", "), len(want))
			if p.name == "gocardless" {
				assert.NotEmpty(t, got[0].Header.Get("Webhook-Signature"), "the app can check GoCardless' signature of the original itself")
			}

			assertBatchACK(t, p, send(t, tc, golden(t, p.batch, path)))
			got, _ = app.take()
			assert.Empty(t, got, "a replay reached the app")

			// A batch of a delivered item and a new one.
			req := p.withNew(t, 0)
			req.URL.Path = path
			assertBatchACK(t, p, send(t, tc, req))
			got, ids = app.take()
			require.Len(t, got, 1)
			assert.NotContains(t, ids[0], want[0], "the delivered item is not named again")
			assert.NotContains(t, ids[0], ",", "one new item")
			assert.Contains(t, string(got[0].Body), itemMarker(p, 0), "the body is the request as received, the delivered item in it")
		})
	}
}

// itemMarker is text of the batch's i-th item that shows it is in a body.
func itemMarker(p batchProvider, i int) string {
	if p.name == "adyen" {
		return []string{"NC6HT9CRT65ZGN82", "K6NHLSC6CBFWLR82", "HJ9K6QB6C4FWLR82"}[i]
	}
	return []string{"EV0123ABCD4531", "EV0123ABCD4532", "EV0123ABCD4533", "EV0123ABCD4534"}[i]
}

// TestGoCardlessAckText: with ack, GoCardless gets a 200 with that text, not
// a 204 that cannot carry it.
func TestGoCardlessAckText(t *testing.T) {
	tc, app := startBatchCaddy(t, "store bolt "+filepath.Join(t.TempDir(), "dedup.db"))
	r := send(t, tc, golden(t, "gocardless/payment_confirmed", "/gocardless/ack"))
	assert.Equal(t, http.StatusOK, r.Status)
	assert.Equal(t, "received", r.Body)
	got, _ := app.take()
	assert.Len(t, got, 1)
}
