package caddymodule

import (
	"context"
	"testing"

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
