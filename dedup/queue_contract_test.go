package dedup

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testQueueContract checks what deliver queued relies on, through the Queue
// interface alone (and Store for the delivered marks), so that every store
// is held to it: open returns a fresh, empty queue for one test. It runs on
// the real clock (leases of 200 ms end by sleeping).
func testQueueContract(t *testing.T, open func(t *testing.T) Queue) {
	ctx := context.Background()
	const queue = "stripe/default"
	const shortLease = 200 * time.Millisecond

	t.Run("an item comes back as it was stored", func(t *testing.T) {
		q := open(t)
		want := newQueueTestItem(queue, time.Now().Add(-time.Second))
		want.Attempts, want.LastError = 2, "app answered 502"
		require.NoError(t, q.Enqueue(ctx, nil, nil), "nothing to store is no error")
		require.NoError(t, q.Enqueue(ctx, []*Item{want}, nil))
		got, err := q.Take(ctx, queue, 10, time.Minute)
		require.NoError(t, err)
		require.Len(t, got, 1)
		assertSameItem(t, want, got[0])
		assert.NotEmpty(t, got[0].Lease, "Take sets the lease token")
	})

	t.Run("an item that is not due is not taken", func(t *testing.T) {
		q := open(t)
		require.NoError(t, q.Enqueue(ctx, []*Item{newQueueTestItem(queue, time.Now().Add(time.Hour))}, nil))
		got, err := q.Take(ctx, queue, 10, time.Minute)
		require.NoError(t, err)
		assert.Empty(t, got)
		s, err := q.Stats(ctx, queue)
		require.NoError(t, err)
		assert.Equal(t, 1, s.Depth, "it waits in the queue")
		assert.Equal(t, 0, s.InFlight)
	})

	t.Run("earliest due first, at most max", func(t *testing.T) {
		q := open(t)
		now := time.Now()
		var items []*Item
		for _, ago := range []int{3, 5, 1, 4, 2} { // stored out of order
			items = append(items, newQueueTestItem(queue, now.Add(-time.Duration(ago)*time.Second)))
		}
		require.NoError(t, q.Enqueue(ctx, items, nil))
		order := []string{items[1].ID, items[3].ID, items[0].ID, items[4].ID, items[2].ID}

		got, err := q.Take(ctx, queue, 2, time.Minute)
		require.NoError(t, err)
		assert.Equal(t, order[:2], queueTestIDs(got))
		got, err = q.Take(ctx, queue, 10, time.Minute)
		require.NoError(t, err)
		assert.Equal(t, order[2:], queueTestIDs(got))
		got, err = q.Take(ctx, queue, 10, time.Minute)
		require.NoError(t, err)
		assert.Empty(t, got, "all are leased")
		got, err = q.Take(ctx, queue, 0, time.Minute)
		require.NoError(t, err)
		assert.Empty(t, got)
	})

	t.Run("a leased item is taken again only once its lease ended", func(t *testing.T) {
		q := open(t)
		it := newQueueTestItem(queue, time.Now().Add(-time.Second))
		require.NoError(t, q.Enqueue(ctx, []*Item{it}, nil))
		first, err := q.Take(ctx, queue, 10, shortLease)
		require.NoError(t, err)
		require.Len(t, first, 1)
		again, err := q.Take(ctx, queue, 10, shortLease)
		require.NoError(t, err)
		assert.Empty(t, again, "the lease holds")
		s, err := q.Stats(ctx, queue)
		require.NoError(t, err)
		assert.Equal(t, QueueStats{Depth: 1, InFlight: 1, Oldest: s.Oldest}, s)

		time.Sleep(2 * shortLease) // the node that took it died
		s, err = q.Stats(ctx, queue)
		require.NoError(t, err)
		assert.Equal(t, 1, s.Depth)
		assert.Equal(t, 0, s.InFlight, "an ended lease is no delivery in flight")
		second, err := q.Take(ctx, queue, 10, time.Minute)
		require.NoError(t, err)
		require.Len(t, second, 1, "taken over")
		assertSameItem(t, it, second[0])
		assert.NotEqual(t, first[0].Lease, second[0].Lease)
	})

	t.Run("an item taken over comes before one due after its lease ended", func(t *testing.T) {
		q := open(t)
		start := time.Now()
		early := newQueueTestItem(queue, start.Add(-10*time.Second))
		require.NoError(t, q.Enqueue(ctx, []*Item{early}, nil))
		got, err := q.Take(ctx, queue, 1, shortLease)
		require.NoError(t, err)
		require.Equal(t, []string{early.ID}, queueTestIDs(got))
		later := newQueueTestItem(queue, start.Add(3*shortLease/2))
		require.NoError(t, q.Enqueue(ctx, []*Item{later}, nil))
		time.Sleep(time.Until(start.Add(3 * shortLease))) // both can be taken now
		got, err = q.Take(ctx, queue, 1, time.Minute)
		require.NoError(t, err)
		assert.Equal(t, []string{early.ID}, queueTestIDs(got))
		got, err = q.Take(ctx, queue, 1, time.Minute)
		require.NoError(t, err)
		assert.Equal(t, []string{later.ID}, queueTestIDs(got))
	})

	t.Run("a lease taken over: the first taker's Retry and Bury change nothing, its Delivered removes", func(t *testing.T) {
		q := open(t)
		require.NoError(t, q.Enqueue(ctx, []*Item{newQueueTestItem(queue, time.Now().Add(-time.Second))}, nil))
		first, err := q.Take(ctx, queue, 10, shortLease)
		require.NoError(t, err)
		require.Len(t, first, 1)
		time.Sleep(2 * shortLease)
		second, err := q.Take(ctx, queue, 10, time.Minute)
		require.NoError(t, err)
		require.Len(t, second, 1)

		stale := first[0]
		stale.Due, stale.Attempts, stale.LastError = time.Now().Add(-time.Second), 7, "stale"
		require.NoError(t, q.Retry(ctx, stale))
		got, err := q.Take(ctx, queue, 10, time.Minute)
		require.NoError(t, err)
		assert.Empty(t, got, "the stale Retry did not make it due again")
		stale.Died = time.Now()
		require.NoError(t, q.Bury(ctx, stale))
		dead, err := q.Dead(ctx)
		require.NoError(t, err)
		assert.Empty(t, dead, "the stale Bury did not bury it")
		s, err := q.Stats(ctx, queue)
		require.NoError(t, err)
		assert.Equal(t, QueueStats{Depth: 1, InFlight: 1, Oldest: s.Oldest}, s)

		require.NoError(t, q.Delivered(ctx, stale)) // the first node's delivery did reach the app
		s, err = q.Stats(ctx, queue)
		require.NoError(t, err)
		assert.Equal(t, QueueStats{}, s)
		require.NoError(t, q.Retry(ctx, second[0]), "a Retry of an item gone is no error")
		s, err = q.Stats(ctx, queue)
		require.NoError(t, err)
		assert.Equal(t, QueueStats{}, s, "and does not bring it back")
	})

	t.Run("Retry stores the attempt and makes it due at its Due", func(t *testing.T) {
		q := open(t)
		want := newQueueTestItem(queue, time.Now().Add(-time.Second))
		require.NoError(t, q.Enqueue(ctx, []*Item{want}, nil))
		got, err := q.Take(ctx, queue, 1, time.Minute)
		require.NoError(t, err)
		require.Len(t, got, 1)

		it := got[0]
		it.Due, it.Attempts, it.LastError = time.Now().Add(time.Hour), 1, "app answered 503"
		require.NoError(t, q.Retry(ctx, it))
		got, err = q.Take(ctx, queue, 1, time.Minute)
		require.NoError(t, err)
		assert.Empty(t, got, "due in an hour")
		s, err := q.Stats(ctx, queue)
		require.NoError(t, err)
		assert.Equal(t, 1, s.Depth)
		assert.Equal(t, 0, s.InFlight, "the lease was given up")
		require.NoError(t, q.Retry(ctx, it), "a second Retry with the lease given up changes nothing")

		it2 := newQueueTestItem(queue, time.Now().Add(-time.Second))
		require.NoError(t, q.Enqueue(ctx, []*Item{it2}, nil))
		got, err = q.Take(ctx, queue, 1, time.Minute)
		require.NoError(t, err)
		require.Len(t, got, 1)
		got[0].Due, got[0].Attempts, got[0].LastError = time.Now().Add(-time.Millisecond), 3, "connection refused"
		require.NoError(t, q.Retry(ctx, got[0]))
		again, err := q.Take(ctx, queue, 1, time.Minute)
		require.NoError(t, err)
		require.Len(t, again, 1)
		assert.Equal(t, it2.ID, again[0].ID)
		assert.Equal(t, 3, again[0].Attempts)
		assert.Equal(t, "connection refused", again[0].LastError)
		assert.Equal(t, it2.Body, again[0].Body)
	})

	t.Run("Bury makes a dead letter; Revive queues it again", func(t *testing.T) {
		q := open(t)
		want := newQueueTestItem(queue, time.Now().Add(-time.Second))
		require.NoError(t, q.Enqueue(ctx, []*Item{want}, nil))
		got, err := q.Take(ctx, queue, 1, time.Minute)
		require.NoError(t, err)
		require.Len(t, got, 1)
		it := got[0]
		it.Died, it.Attempts, it.LastError = time.Now(), 9, "app answered 500"
		require.NoError(t, q.Bury(ctx, it))

		s, err := q.Stats(ctx, queue)
		require.NoError(t, err)
		assert.Equal(t, QueueStats{Dead: 1}, s)
		got, err = q.Take(ctx, queue, 10, time.Millisecond)
		require.NoError(t, err)
		assert.Empty(t, got, "a dead letter is not delivered")
		dead, err := q.Dead(ctx)
		require.NoError(t, err)
		require.Len(t, dead, 1)
		assert.Equal(t, want.ID, dead[0].ID)
		assert.Equal(t, want.Body, dead[0].Body, "bodies included")
		assert.Equal(t, want.Header, dead[0].Header)
		assert.Equal(t, 9, dead[0].Attempts)
		assert.Equal(t, "app answered 500", dead[0].LastError)
		assert.WithinDuration(t, it.Died, dead[0].Died, time.Millisecond)

		now := time.Now()
		revived, err := q.Revive(ctx, want.ID, now)
		require.NoError(t, err)
		assert.Equal(t, want.ID, revived.ID)
		assert.WithinDuration(t, now, revived.Due, time.Millisecond)
		assert.WithinDuration(t, now, revived.Since, time.Millisecond)
		assert.Equal(t, 0, revived.Attempts)
		assert.True(t, revived.Died.IsZero())
		s, err = q.Stats(ctx, queue)
		require.NoError(t, err)
		assert.Equal(t, 1, s.Depth)
		assert.Equal(t, 0, s.Dead)
		assert.WithinDuration(t, want.Enqueued, s.Oldest, time.Millisecond, "Enqueued is kept")
		dead, err = q.Dead(ctx)
		require.NoError(t, err)
		assert.Empty(t, dead)

		got, err = q.Take(ctx, queue, 10, time.Minute)
		require.NoError(t, err)
		require.Len(t, got, 1, "due at once")
		assert.Equal(t, want.ID, got[0].ID)
		assert.Equal(t, want.Body, got[0].Body)
		assert.Equal(t, 0, got[0].Attempts)
		assert.WithinDuration(t, now, got[0].Since, time.Millisecond)
		assert.WithinDuration(t, want.Enqueued, got[0].Enqueued, time.Millisecond)

		_, err = q.Revive(ctx, want.ID, now)
		assert.ErrorIs(t, err, ErrNoItem, "no longer a dead letter")
	})

	t.Run("DeleteDead", func(t *testing.T) {
		q := open(t)
		it := newQueueTestItem(queue, time.Now().Add(-time.Second))
		require.NoError(t, q.Enqueue(ctx, []*Item{it}, nil))
		got, err := q.Take(ctx, queue, 1, time.Minute)
		require.NoError(t, err)
		require.Len(t, got, 1)
		got[0].Died = time.Now()
		require.NoError(t, q.Bury(ctx, got[0]))

		require.NoError(t, q.DeleteDead(ctx, it.ID))
		dead, err := q.Dead(ctx)
		require.NoError(t, err)
		assert.Empty(t, dead)
		s, err := q.Stats(ctx, queue)
		require.NoError(t, err)
		assert.Equal(t, QueueStats{}, s)
		assert.ErrorIs(t, q.DeleteDead(ctx, it.ID), ErrNoItem)
		_, err = q.Revive(ctx, it.ID, time.Now())
		assert.ErrorIs(t, err, ErrNoItem)
	})

	t.Run("unknown and malformed ids: ErrNoItem", func(t *testing.T) {
		q := open(t)
		queued := newQueueTestItem(queue, time.Now().Add(-time.Second))
		require.NoError(t, q.Enqueue(ctx, []*Item{queued}, nil))
		for _, id := range []string{NewItemID(), queued.ID, "", "q", "../../etc/passwd", "Q" + NewItemID()[1:], queued.ID + "0", "q0123456789ABCDEF01234567"} {
			_, err := q.Revive(ctx, id, time.Now())
			assert.ErrorIs(t, err, ErrNoItem, "Revive(%q)", id)
			assert.ErrorIs(t, q.DeleteDead(ctx, id), ErrNoItem, "DeleteDead(%q)", id)
		}
		got, err := q.Take(ctx, queue, 10, time.Minute)
		require.NoError(t, err)
		assert.Equal(t, []string{queued.ID}, queueTestIDs(got), "a queued item is no dead letter to delete")
	})

	t.Run("Dead lists every queue's dead letters, oldest first", func(t *testing.T) {
		q := open(t)
		now := time.Now()
		var order []string
		for i, spec := range []struct {
			queue string
			ago   time.Duration
		}{{queue, 2 * time.Minute}, {"paddle/default", 3 * time.Minute}, {queue, time.Minute}} {
			it := newQueueTestItem(spec.queue, now.Add(-time.Hour))
			it.EventID = fmt.Sprint("evt_", i)
			require.NoError(t, q.Enqueue(ctx, []*Item{it}, nil))
			got, err := q.Take(ctx, spec.queue, 1, time.Minute)
			require.NoError(t, err)
			require.Len(t, got, 1)
			got[0].Died = now.Add(-spec.ago)
			require.NoError(t, q.Bury(ctx, got[0]))
			order = append(order, it.ID)
		}
		dead, err := q.Dead(ctx)
		require.NoError(t, err)
		assert.Equal(t, []string{order[1], order[0], order[2]}, queueTestIDs(dead))
		s, err := q.Stats(ctx, queue)
		require.NoError(t, err)
		assert.Equal(t, 2, s.Dead)
		s, err = q.Stats(ctx, "paddle/default")
		require.NoError(t, err)
		assert.Equal(t, 1, s.Dead)
	})

	t.Run("Enqueue's marks make the provider's retry a duplicate", func(t *testing.T) {
		q := open(t)
		s, ok := q.(Store)
		require.True(t, ok, "the queue's store is also the dedup store")
		state, token, err := s.Claim(ctx, "stripe/default/evt_1", time.Minute)
		require.NoError(t, err)
		require.Equal(t, Claimed, state)
		it := newQueueTestItem(queue, time.Now())
		require.NoError(t, q.Enqueue(ctx, []*Item{it}, []Mark{{Key: "stripe/default/evt_1", Token: token, Window: time.Hour}}))
		state, _, err = s.Claim(ctx, "stripe/default/evt_1", time.Minute)
		require.NoError(t, err)
		assert.Equal(t, Delivered, state)
		state, _, err = s.Claim(ctx, "stripe/default/evt_2", time.Minute)
		require.NoError(t, err)
		assert.Equal(t, Claimed, state, "another event is not marked")
	})

	t.Run("two queues do not see each other's items", func(t *testing.T) {
		q := open(t)
		a := newQueueTestItem(queue, time.Now().Add(-time.Second))
		b := newQueueTestItem("paddle/default", time.Now().Add(-2*time.Second))
		require.NoError(t, q.Enqueue(ctx, []*Item{a, b}, nil))
		got, err := q.Take(ctx, queue, 10, time.Minute)
		require.NoError(t, err)
		assert.Equal(t, []string{a.ID}, queueTestIDs(got))
		s, err := q.Stats(ctx, "paddle/default")
		require.NoError(t, err)
		assert.Equal(t, QueueStats{Depth: 1, Oldest: s.Oldest}, s)
		got, err = q.Take(ctx, "paddle/default", 10, time.Minute)
		require.NoError(t, err)
		assert.Equal(t, []string{b.ID}, queueTestIDs(got))
		got, err = q.Take(ctx, "stripe/other", 10, time.Minute)
		require.NoError(t, err)
		assert.Empty(t, got)
	})

	t.Run("Stats: depth, in flight, oldest", func(t *testing.T) {
		q := open(t)
		s, err := q.Stats(ctx, queue)
		require.NoError(t, err)
		assert.Equal(t, QueueStats{}, s, "an empty queue")
		assert.True(t, s.Oldest.IsZero())

		now := time.Now()
		var items []*Item
		for i, due := range []time.Duration{-time.Second, -2 * time.Second, time.Hour} {
			it := newQueueTestItem(queue, now.Add(due))
			it.Enqueued = now.Add(-time.Duration(10-i) * time.Minute).Add(123456 * time.Nanosecond)
			items = append(items, it)
		}
		require.NoError(t, q.Enqueue(ctx, items, nil))
		s, err = q.Stats(ctx, queue)
		require.NoError(t, err)
		assert.Equal(t, 3, s.Depth)
		assert.Equal(t, 0, s.InFlight)
		assert.WithinDuration(t, items[0].Enqueued, s.Oldest, time.Millisecond)

		got, err := q.Take(ctx, queue, 1, time.Minute)
		require.NoError(t, err)
		require.Equal(t, []string{items[1].ID}, queueTestIDs(got))
		s, err = q.Stats(ctx, queue)
		require.NoError(t, err)
		assert.Equal(t, 3, s.Depth)
		assert.Equal(t, 1, s.InFlight)

		taken, err := q.Take(ctx, queue, 1, time.Minute)
		require.NoError(t, err)
		require.Equal(t, []string{items[0].ID}, queueTestIDs(taken))
		require.NoError(t, q.Delivered(ctx, taken[0]))
		s, err = q.Stats(ctx, queue)
		require.NoError(t, err)
		assert.Equal(t, 2, s.Depth)
		assert.Equal(t, 1, s.InFlight)
		assert.WithinDuration(t, items[1].Enqueued, s.Oldest, time.Millisecond, "the oldest was delivered")
	})

	t.Run("concurrent takers never take one item twice", func(t *testing.T) {
		q := open(t)
		const n, takers = 200, 4
		items := make([]*Item, n)
		for i := range items {
			items[i] = newQueueTestItem(queue, time.Now().Add(-time.Duration(n-i)*time.Millisecond))
		}
		require.NoError(t, q.Enqueue(ctx, items, nil))

		var mu sync.Mutex
		taken := map[string]int{}
		var wg sync.WaitGroup
		for range takers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					got, err := q.Take(ctx, queue, 7, time.Minute)
					if !assert.NoError(t, err) || len(got) == 0 {
						return
					}
					mu.Lock()
					for _, it := range got {
						taken[it.ID]++
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		assert.Len(t, taken, n, "every item was taken")
		for id, times := range taken {
			assert.Equal(t, 1, times, "item %s", id)
		}
		s, err := q.Stats(ctx, queue)
		require.NoError(t, err)
		assert.Equal(t, n, s.Depth)
		assert.Equal(t, n, s.InFlight)
	})
}

// newQueueTestItem returns an item of queue due at due, with every field
// set, times to the nanosecond, and a body that is not UTF-8.
func newQueueTestItem(queue string, due time.Time) *Item {
	enqueued := due.Add(-1500 * time.Millisecond).Add(789 * time.Nanosecond)
	return &Item{
		ID:       NewItemID(),
		Queue:    queue,
		Provider: "stripe",
		EventID:  "evt_1, evt_2",
		Method:   http.MethodPost,
		Query:    "a=1&b=%20",
		Header: http.Header{
			"Content-Type":     {"application/json"},
			"Stripe-Signature": {"t=1,v1=abc"},
			"X-Twice":          {"one", "two"},
		},
		Body:     []byte("{\"id\":\"evt_1\"}\x00\xff\xfe"),
		Enqueued: enqueued,
		Since:    enqueued,
		Due:      due,
	}
}

// assertSameItem: got is want as stored, times to the millisecond or better.
func assertSameItem(t *testing.T, want, got *Item) {
	t.Helper()
	assert.Equal(t, want.ID, got.ID)
	assert.Equal(t, want.Queue, got.Queue)
	assert.Equal(t, want.Provider, got.Provider)
	assert.Equal(t, want.EventID, got.EventID)
	assert.Equal(t, want.Method, got.Method)
	assert.Equal(t, want.Query, got.Query)
	assert.Equal(t, want.Header, got.Header)
	assert.Equal(t, want.Body, got.Body)
	assert.WithinDuration(t, want.Enqueued, got.Enqueued, time.Millisecond, "Enqueued")
	assert.WithinDuration(t, want.Since, got.Since, time.Millisecond, "Since")
	assert.WithinDuration(t, want.Due, got.Due, time.Millisecond, "Due")
	assert.Equal(t, want.Attempts, got.Attempts)
	assert.Equal(t, want.LastError, got.LastError)
	assert.Equal(t, want.Died.IsZero(), got.Died.IsZero())
}

func queueTestIDs(items []*Item) []string {
	ids := make([]string, len(items))
	for i, it := range items {
		ids[i] = it.ID
	}
	return ids
}
