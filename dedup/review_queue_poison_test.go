package dedup

// Review (queued delivery, Redis): one item whose JSON does not decode (a
// node of another version wrote it during a rolling upgrade, or a hand edit)
// makes Take fail after its script leased it and the good items taken with
// it. Those come back together when their leases end, with the same lease
// end, in the same order: every Take fails again, and the good items, which
// the provider was told were received, are never delivered.

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReviewQueueRedisUndecodableItemDoesNotHoldOthersForever(t *testing.T) {
	ctx := context.Background()
	r := openRedisQueue(t)
	const queue = "stripe/default"
	now := time.Now()

	bad := NewItemID()
	k := redisQueueKeysOf(queue)
	require.NoError(t, r.client.HSet(ctx, k.items, bad, `{"id":"`+bad+`","queue":"stripe/default","attempts":"3"}`).Err())
	require.NoError(t, r.client.ZAdd(ctx, k.due, redisZ(now.Add(-2*time.Second), bad)).Err())

	good := map[string]bool{}
	var items []*Item
	for range 3 {
		it := newQueueTestItem(queue, now.Add(-time.Second))
		good[it.ID] = false
		items = append(items, it)
	}
	require.NoError(t, r.Enqueue(ctx, items, nil))

	// A worker with 4 free slots, polling; leases short for the test.
	var errs int
	for range 20 {
		got, err := r.Take(ctx, queue, 4, 30*time.Millisecond)
		if err != nil {
			errs++
		}
		for _, it := range got {
			if _, ok := good[it.ID]; ok {
				good[it.ID] = true
				require.NoError(t, r.Delivered(ctx, it))
			}
		}
		time.Sleep(40 * time.Millisecond)
	}
	t.Logf("%d of 20 Takes failed", errs)
	for id, taken := range good {
		assert.True(t, taken, "good item %s was never taken: one undecodable item holds it", id)
	}
}

func redisZ(t time.Time, id string) redis.Z {
	return redis.Z{Score: float64(redisMillis(t)), Member: id}
}
