package dedup

import (
	"context"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBoltQueue(t *testing.T) {
	testQueueContract(t, func(t *testing.T) Queue {
		b, err := OpenBolt(filepath.Join(t.TempDir(), "dedup.db"), time.Minute, time.Second)
		require.NoError(t, err)
		t.Cleanup(func() { b.Close() })
		return b
	})
}

// TestBoltQueueSurvivesReopening: what was queued is in the file, and a
// process that died held no lease: after a reopen (a restart), everything
// queued is due, dead letters are still dead, and the counts are rebuilt.
func TestBoltQueueSurvivesReopening(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "dedup.db")
	b, err := OpenBolt(path, time.Minute, time.Second)
	require.NoError(t, err)
	now := time.Now()
	var items []*Item
	for range 3 {
		items = append(items, &Item{ID: NewItemID(), Queue: "octo3/default", Provider: "octo3", EventID: "e", Method: "POST",
			Header: http.Header{"Content-Type": {"application/json"}}, Body: []byte(`{}`), Enqueued: now, Since: now, Due: now})
	}
	require.NoError(t, b.Enqueue(ctx, items, nil))
	taken, err := b.Take(ctx, "octo3/default", 3, time.Hour)
	require.NoError(t, err)
	require.Len(t, taken, 3)
	taken[0].Died, taken[0].LastError = now, "the app answered 500"
	require.NoError(t, b.Bury(ctx, taken[0]))
	// The process dies holding the leases of the other two.
	require.NoError(t, b.Close())

	b, err = OpenBolt(path, time.Minute, time.Second)
	require.NoError(t, err)
	defer b.Close()
	stats, err := b.Stats(ctx, "octo3/default")
	require.NoError(t, err)
	assert.Equal(t, QueueStats{Depth: 2, InFlight: 0, Oldest: stats.Oldest, Dead: 1}, stats)
	assert.True(t, stats.Oldest.Equal(now.Truncate(0)) || stats.Oldest.Sub(now).Abs() < time.Millisecond)
	again, err := b.Take(ctx, "octo3/default", 10, time.Hour)
	require.NoError(t, err)
	assert.Len(t, again, 2, "the leases died with the process")
	dead, err := b.Dead(ctx)
	require.NoError(t, err)
	require.Len(t, dead, 1)
	assert.Equal(t, taken[0].ID, dead[0].ID)
	assert.Equal(t, "the app answered 500", dead[0].LastError)
}
