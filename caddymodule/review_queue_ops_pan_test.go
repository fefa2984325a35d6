package caddymodule_test

// Review of deliver queued (payments security): the outbox keeps what it
// will deliver, at rest, for up to retry_for and, as a dead letter, until
// an operator deletes it. Direct mode never writes a notification's body
// anywhere; paynotify masks card numbers in the event's raw and in its logs.

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
	body := golden(t, "octo3/accepted", "/queued")
	raw := make([]byte, body.ContentLength)
	_, _ = body.Body.Read(raw)
	require.Contains(t, string(raw), "card_num="+pan, "the golden notification carries a full card number")

	app := newQueueApp(t)
	app.stop() // the app is down: the notification waits in the outbox
	url := testredis.URL(t)
	tc := caddytest.NewTester(t)
	tc.InitServer(globalOptions+"http://localhost:9080 {\n\trespond 204\n}\n", "caddyfile")
	config := globalOptions + strings.NewReplacer("APP", app.addr(), "REDIS", url).Replace(`
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
`)
	adapted, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(config), nil)
	require.NoError(t, err)
	res, err := http.Post("http://localhost:2999/load", "application/json", bytes.NewReader(adapted))
	require.NoError(t, err)
	refusal, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		assert.Contains(t, string(refusal), "forward original", "a refusal names the option")
		return
	}
	r := send(t, tc, golden(t, "octo3/accepted", "/queued"))
	require.Equal(t, "ACK", r.Body)

	opts, err := redis.ParseURL(url)
	require.NoError(t, err)
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	items, err := rdb.HGetAll(context.Background(), "paynotify:queue:items").Result()
	require.NoError(t, err)
	require.Len(t, items, 1, "the queued notification")
	for _, v := range items {
		// The body is JSON base64 in the item; decode it the way Take does.
		var it struct{ Body []byte }
		require.NoError(t, json.Unmarshal([]byte(v), &it))
		assert.NotContains(t, string(it.Body), pan, "the outbox holds the full card number at rest")
	}
}
