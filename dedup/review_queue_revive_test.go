package dedup

// Review (queued delivery, bolt): Bury updates the in-memory index after its
// commit without checking that the item is still the one it buried
// (boltqueue.go, Bury: b.queue.remove(it) unconditionally; Retry checks its
// lease again). A Revive of the dead letter committed after Bury's commit
// but indexed before Bury's index update (the writer commits Revive while
// Bury's goroutine waits to run, or in the same batch) is then removed from
// the index: the file has it queued, Take never gives it, Stats does not
// count it, until the process restarts. The dead-letter count is off by one
// too.
//
// The test makes the window wide by putting Revive in the same commit as
// Bury (the writer is held busy while both wait), then counts the revived
// items that Take does not give.

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
)

func TestReviewQueueBoltRevivedDeadLetterIsTakenAgain(t *testing.T) {
	ctx := context.Background()
	b, err := OpenBolt(filepath.Join(t.TempDir(), "q.db"), 0, time.Second)
	require.NoError(t, err)
	defer b.Close()
	const queue = "stripe/default"

	lost, raced := 0, 0
	for range 100 {
		it := newQueueTestItem(queue, time.Now().Add(-time.Second))
		require.NoError(t, b.Enqueue(ctx, []*Item{it}, nil))
		got, err := b.Take(ctx, queue, 1, time.Minute)
		require.NoError(t, err)
		require.Len(t, got, 1)
		got[0].Died = time.Now()

		// Hold the writer busy so that Bury and then Revive wait for it.
		release, busy := make(chan struct{}), make(chan struct{})
		go b.write(func(*bolt.Tx) error { close(busy); <-release; return nil }, nil)
		<-busy
		buried, revived := make(chan error, 1), make(chan error, 1)
		go func() { buried <- b.Bury(ctx, got[0]) }()
		time.Sleep(2 * time.Millisecond)
		go func() { _, err := b.Revive(ctx, it.ID, time.Now()); revived <- err }()
		time.Sleep(2 * time.Millisecond)
		close(release)
		require.NoError(t, <-buried)
		if err := <-revived; err != nil {
			require.ErrorIs(t, err, ErrNoItem) // Revive came first: not this case
			continue
		}
		raced++
		// The dead letter was revived: it is queued, due now.
		again, err := b.Take(ctx, queue, 10, time.Minute)
		require.NoError(t, err)
		if len(again) == 0 {
			lost++
			// Only the index lost it: the file still has it queued.
			require.NoError(t, b.db.View(func(tx *bolt.Tx) error {
				assert.NotNil(t, tx.Bucket(boltQueueBucket).Get([]byte(it.ID)), "the revived item is in the file")
				return nil
			}))
			b.mu.Lock()
			b.queue.remove(it) // keep the next rounds apart
			b.mu.Unlock()
			require.NoError(t, b.write(func(tx *bolt.Tx) error { return tx.Bucket(boltQueueBucket).Delete([]byte(it.ID)) }, nil))
			continue
		}
		for _, a := range again {
			require.NoError(t, b.Delivered(ctx, a))
		}
	}
	t.Logf("%d revivals in Bury's commit, %d of them not given by Take", raced, lost)
	require.NotZero(t, raced, "the test put no Revive in Bury's commit")
	assert.Zero(t, lost, "revived dead letters that Take never gives (until a restart)")
}
