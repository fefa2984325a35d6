package caddymodule_test

// Review of deliver queued (payments security): the outbox keeps what it
// will deliver, at rest, for up to retry_for and, as a dead letter, until
// an operator deletes it. Direct mode never writes a notification's body or
// headers anywhere; paynotify masks card numbers in the event's raw and
// keeps secrets out of its logs.

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddytest"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/paynotify/paynotify/internal/testredis"
)

// storedItem is what the Redis outbox holds of a queued notification.
type storedItem struct {
	Header http.Header
	Body   []byte
}

// queueWhileTheAppIsDown loads route (APP and REDIS replaced) on a Caddy
// whose app is down, sends the golden notification to /queued and returns
// the items in the Redis outbox; refused is the load error when the config
// is refused.
func queueWhileTheAppIsDown(t *testing.T, route, goldenName string) (items []storedItem, refused string) {
	t.Helper()
	app := newQueueApp(t)
	app.stop() // the app is down: the notification waits in the outbox
	url := testredis.URL(t)
	tc := caddytest.NewTester(t)
	initServer(tc, globalOptions+"http://localhost:9080 {\n\trespond 204\n}\n", "caddyfile")
	config := globalOptions + strings.NewReplacer("APP", app.addr(), "REDIS", url).Replace(route)
	adapted, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(config), nil)
	require.NoError(t, err)
	res, err := http.Post("http://localhost:2999/load", "application/json", bytes.NewReader(adapted))
	require.NoError(t, err)
	refusal, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, string(refusal)
	}
	settle(tc)
	r := send(t, tc, golden(t, goldenName, "/queued"))
	require.Equal(t, http.StatusOK, r.Status, "acknowledged")

	opts, err := redis.ParseURL(url)
	require.NoError(t, err)
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	values, err := rdb.HGetAll(context.Background(), "paynotify:queue:items").Result()
	require.NoError(t, err)
	require.Len(t, values, 1, "the queued notification")
	for _, v := range values {
		var it storedItem
		require.NoError(t, json.Unmarshal([]byte(v), &it))
		items = append(items, it)
	}
	return items, ""
}

// octo3 notifications carry the full card number (card_num). With
// forward original and deliver queued, the body as received is stored in
// the outbox: the full PAN sits in Redis (and its AOF/RDB files and
// replicas) or in the bolt file, unencrypted, for up to 72 h, and forever
// as a dead letter. That brings the store into PCI DSS scope (requirement
// 3: render PAN unreadable wherever it is stored) without a word in the
// README. The config should be refused at load (a provider whose raw body
// carries a PAN, with forward original and deliver queued), or the stored
// body encrypted; either way, no readable PAN at rest.
func TestReviewQueueOpsQueuedOriginalDoesNotStoreTheFullCardNumber(t *testing.T) {
	const pan = "4111111111111111"
	req := golden(t, "octo3/accepted", "/queued")
	raw, err := io.ReadAll(req.Body)
	require.NoError(t, err)
	require.Contains(t, string(raw), "card_num="+pan, "the golden notification carries a full card number")

	items, refused := queueWhileTheAppIsDown(t, `
http://localhost:9080 {
	handle /queued {
		paynotify octo3 {
			secret octo3-test-secret
			forward original
			store redis REDIS
			deliver queued {
				to http://APP/webhooks/octo3
			}
		}
	}
}
`, "octo3/accepted")
	if refused != "" {
		assert.Contains(t, refused, "forward original", "a refusal names the option")
		return
	}
	for _, it := range items {
		assert.NotContains(t, string(it.Body), pan, "the outbox holds the full card number at rest")
	}
}

// checkout's Authorization header is a credential of this config
// (`authorization`, README: "the credential is part of this config").
// forward original keeps it for the app, and deliver queued writes it in
// every queued item, in the clear, in Redis (or the bolt file) and in its
// dead letters. Direct mode only passes it through memory.
func TestReviewQueueOpsQueuedOriginalDoesNotStoreTheConfigsCredential(t *testing.T) {
	const credential = "cko-test-authorization"
	items, refused := queueWhileTheAppIsDown(t, `
http://localhost:9080 {
	handle /queued {
		paynotify checkout {
			secret cko-test-signature-key
			authorization cko-test-authorization
			forward original
			store redis REDIS
			deliver queued {
				to http://APP/webhooks/checkout
			}
		}
	}
}
`, "checkout/payment_approved")
	if refused != "" {
		assert.Contains(t, refused, "forward original", "a refusal names the option")
		return
	}
	for _, it := range items {
		for name, values := range it.Header {
			for _, v := range values {
				assert.NotContains(t, v, credential, "the outbox holds the config's credential at rest, in %s", name)
			}
		}
	}
}
