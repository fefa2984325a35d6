package dedup

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/paynotify/paynotify/internal/testredis"
)

func openRedisQueue(t *testing.T) *Redis {
	r, err := OpenRedis(testredis.URL(t))
	require.NoError(t, err)
	require.NoError(t, r.Ping(context.Background()))
	t.Cleanup(func() { r.Close() })
	return r
}

func TestRedisQueue(t *testing.T) {
	testQueueContract(t, func(t *testing.T) Queue { return openRedisQueue(t) })

	ctx := context.Background()
	const queue = "stripe/default"

	t.Run("two nodes on one Redis share the queue", func(t *testing.T) {
		url := testredis.URL(t)
		var nodes [2]*Redis
		for i := range nodes {
			r, err := OpenRedis(url)
			require.NoError(t, err)
			t.Cleanup(func() { r.Close() })
			nodes[i] = r
		}
		it := newQueueTestItem(queue, time.Now().Add(-time.Second))
		require.NoError(t, nodes[0].Enqueue(ctx, []*Item{it}, nil))
		got, err := nodes[1].Take(ctx, queue, 10, 200*time.Millisecond)
		require.NoError(t, err)
		require.Equal(t, []string{it.ID}, queueTestIDs(got), "the other node takes it")
		got2, err := nodes[0].Take(ctx, queue, 10, time.Minute)
		require.NoError(t, err)
		assert.Empty(t, got2)
		time.Sleep(400 * time.Millisecond) // node 1 died
		got2, err = nodes[0].Take(ctx, queue, 10, time.Minute)
		require.NoError(t, err)
		assert.Equal(t, []string{it.ID}, queueTestIDs(got2), "node 0 takes it over")
	})

	t.Run("every key is under paynotify:queue: or paynotify:dedup:", func(t *testing.T) {
		r := openRedisQueue(t)
		it := newQueueTestItem(queue, time.Now().Add(-time.Second))
		require.NoError(t, r.Enqueue(ctx, []*Item{it}, []Mark{{Key: "stripe/default/evt_1", Window: time.Hour}}))
		got, err := r.Take(ctx, queue, 1, time.Minute)
		require.NoError(t, err)
		require.Len(t, got, 1)
		got[0].Died = time.Now()
		require.NoError(t, r.Bury(ctx, got[0]))
		keys, err := r.client.Keys(ctx, "*").Result()
		require.NoError(t, err)
		assert.NotEmpty(t, keys)
		for _, k := range keys {
			assert.True(t, strings.HasPrefix(k, "paynotify:queue:") || strings.HasPrefix(k, "paynotify:dedup:"), k)
		}
	})

	t.Run("an id whose item is gone is cleaned up and skipped", func(t *testing.T) {
		r := openRedisQueue(t)
		lost := newQueueTestItem(queue, time.Now().Add(-2*time.Second))
		kept := newQueueTestItem(queue, time.Now().Add(-time.Second))
		require.NoError(t, r.Enqueue(ctx, []*Item{lost, kept}, nil))
		require.NoError(t, r.client.HDel(ctx, "paynotify:queue:items", lost.ID).Err()) // an operator's redis-cli
		got, err := r.Take(ctx, queue, 1, time.Minute)
		require.NoError(t, err)
		assert.Equal(t, []string{kept.ID}, queueTestIDs(got), "max counts the items returned")
		s, err := r.Stats(ctx, queue)
		require.NoError(t, err)
		assert.Equal(t, 1, s.Depth)
		assert.WithinDuration(t, kept.Enqueued, s.Oldest, time.Millisecond)
	})

	t.Run("an item that could not be keyed is refused, and nothing is stored", func(t *testing.T) {
		r := openRedisQueue(t)
		good := newQueueTestItem(queue, time.Now().Add(-time.Second))
		for _, bad := range []*Item{
			{ID: "../x", Queue: queue},
			{ID: NewItemID()},
		} {
			err := r.Enqueue(ctx, []*Item{good, bad}, []Mark{{Key: "k", Window: time.Hour}})
			require.Error(t, err)
			assert.NotErrorIs(t, err, ErrUnavailable, "a bad item is no outage")
		}
		s, err := r.Stats(ctx, queue)
		require.NoError(t, err)
		assert.Equal(t, 0, s.Depth)
		state, _, err := r.Claim(ctx, "k", time.Minute)
		require.NoError(t, err)
		assert.Equal(t, Claimed, state, "nor the mark")
	})

	t.Run("a Redis that is down: every call fails with ErrUnavailable, without the body", func(t *testing.T) {
		r, err := OpenRedis("redis://127.0.0.1:1/0")
		require.NoError(t, err)
		t.Cleanup(func() { r.Close() })
		ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		it := newQueueTestItem(queue, time.Now())
		it.Body = []byte("secret-card-4242424242424242")
		it.Lease = "token"
		check := func(what string, err error) {
			t.Helper()
			assert.ErrorIs(t, err, ErrUnavailable, what)
			if err != nil {
				assert.NotContains(t, err.Error(), "4242424242424242", what)
			}
		}
		check("Enqueue", r.Enqueue(ctx, []*Item{it}, []Mark{{Key: "k", Window: time.Hour}}))
		_, err = r.Take(ctx, queue, 4, time.Minute)
		check("Take", err)
		check("Delivered", r.Delivered(ctx, it))
		check("Retry", r.Retry(ctx, it))
		check("Bury", r.Bury(ctx, it))
		_, err = r.Stats(ctx, queue)
		check("Stats", err)
		_, err = r.Dead(ctx)
		check("Dead", err)
		_, err = r.Revive(ctx, it.ID, time.Now())
		check("Revive", err)
		check("DeleteDead", r.DeleteDead(ctx, it.ID))
	})
}
