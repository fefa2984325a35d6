package caddymodule

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/paynotify/paynotify/dedup"
	"github.com/paynotify/paynotify/internal/testredis"
)

// TestRedisDurabilityWarnings: a queued route on a Redis that would lose
// acknowledged notifications says so when it starts, naming the setting.
func TestRedisDurabilityWarnings(t *testing.T) {
	ctx := context.Background()
	url := testredis.URL(t)
	r, err := dedup.OpenRedis(url)
	require.NoError(t, err)
	defer r.Close()
	opts, err := goredis.ParseURL(url)
	require.NoError(t, err)
	admin := goredis.NewClient(opts)
	defer admin.Close()

	warnings := func() []string {
		core, logs := observer.New(zap.InfoLevel)
		warnRedisDurability(ctx, zap.New(core), r)
		var msgs []string
		for _, e := range logs.All() {
			msgs = append(msgs, e.Message)
		}
		return msgs
	}

	// testredis runs redis-server with --appendonly no, and Redis' default
	// policy, noeviction.
	got := warnings()
	require.Len(t, got, 1)
	assert.Contains(t, got[0], "appendonly no: a Redis restart loses the queued notifications")

	require.NoError(t, admin.ConfigSet(ctx, "appendonly", "yes").Err())
	require.NoError(t, admin.ConfigSet(ctx, "appendfsync", "no").Err())
	require.NoError(t, admin.ConfigSet(ctx, "maxmemory-policy", "allkeys-lru").Err())
	got = warnings()
	require.Len(t, got, 2)
	assert.Contains(t, got[0], "appendfsync no")
	assert.Contains(t, got[1], "maxmemory-policy noeviction")

	require.NoError(t, admin.ConfigSet(ctx, "appendfsync", "always").Err())
	require.NoError(t, admin.ConfigSet(ctx, "maxmemory-policy", "noeviction").Err())
	assert.Empty(t, warnings(), "appendonly yes, appendfsync always, noeviction: nothing to warn about")
}

// TestUnservedQueuesAreWarnedAbout: acknowledged notifications left in a
// queue that no route of the new config delivers (a route removed, its
// dedup_scope renamed) are named in a warning when the config starts.
func TestUnservedQueuesAreWarnedAbout(t *testing.T) {
	ctx := context.Background()
	db, err := dedup.OpenBolt(filepath.Join(t.TempDir(), "dedup.db"), time.Minute, time.Second)
	require.NoError(t, err)
	defer db.Close()
	now := time.Now()
	var items []*dedup.Item
	for _, queue := range []string{"octo3/default", "octo3/old-shop", "octo3/old-shop"} {
		items = append(items, &dedup.Item{ID: dedup.NewItemID(), Queue: queue, Provider: "octo3", Method: "POST", Enqueued: now, Since: now, Due: now})
	}
	require.NoError(t, db.Enqueue(ctx, items, nil))

	core, logs := observer.New(zap.InfoLevel)
	a := &App{logger: zap.New(core)}
	a.warnUnserved(ctx, map[string]dedup.Queue{"bolt /data/dedup.db": db}, map[string]bool{"bolt /data/dedup.db\x00octo3/default": true})
	require.Equal(t, 1, logs.Len())
	fields := logs.All()[0].ContextMap()
	assert.Equal(t, "octo3/old-shop", fields["queue"])
	assert.Equal(t, "old-shop", fields["dedup_scope"])
	assert.EqualValues(t, 2, fields["queued"])

	assert.Equal(t, "redis redis://:xxxxx@10.0.0.5:6379/0", redactedStoreKey("redis redis://:hunter2@10.0.0.5:6379/0"))
	assert.Equal(t, "bolt /data/dedup.db", redactedStoreKey("bolt /data/dedup.db"))
}
