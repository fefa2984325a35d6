package caddymodule

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/paynotify/paynotify/dedup"
)

// How long a delivery may take, and how long its claim lasts. The claim must
// outlive the delivery, or a retry arriving meanwhile would be forwarded
// too; so the forwarded request gets a deadline shorter than the lease.
// Providers give up waiting well before a minute.
const (
	deliveryTimeout = 60 * time.Second
	claimLease      = 2 * deliveryTimeout
	// retryAfter is what a 409 (in flight) tells the provider.
	retryAfter = "30"
	// boltOpenTimeout bounds the wait for the bolt file's lock, which another
	// process may hold.
	boltOpenTimeout = 10 * time.Second
	boltSweepEvery  = 10 * time.Minute
)

// stores shares open stores between handler instances and across config
// reloads: Caddy provisions the new config before it cleans up the old one,
// and bbolt locks its file, so the new handlers must reuse the open database.
var stores = caddy.NewUsagePool()

type pooledStore struct{ dedup.Store }

func (p pooledStore) Destruct() error { return p.Close() }

// storeKey names the store h uses in the pool, and its bolt path.
func (h *Handler) storeKey() (key, boltPath string) {
	if h.Store != nil && h.Store.Type == "redis" {
		return "redis " + h.redisURL, ""
	}
	path := filepath.Join(caddy.AppDataDir(), "paynotify", "dedup.db")
	if h.Store != nil && h.Store.Path != "" {
		path = h.Store.Path
	}
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	return "bolt " + path, path
}

// openStore provisions the dedup store, shared through the pool.
func (h *Handler) openStore(ctx context.Context) error {
	key, boltPath := h.storeKey()
	value, loaded, err := stores.LoadOrNew(key, func() (caddy.Destructor, error) {
		if boltPath != "" {
			s, err := dedup.OpenBolt(boltPath, boltSweepEvery, boltOpenTimeout)
			return pooledStore{s}, err
		}
		s, err := dedup.OpenRedis(h.redisURL)
		return pooledStore{s}, err
	})
	if err != nil {
		return fmt.Errorf("paynotify: store: %v", err)
	}
	h.storeKeyInPool = key
	h.store = value.(pooledStore).Store
	if r, ok := h.store.(*dedup.Redis); ok && !loaded {
		if err := r.Ping(ctx); err != nil {
			// Not fatal: Caddy starts, and notifications get 503 (no ACK,
			// so the provider retries) until Redis answers.
			h.logger.Warn("dedup store unavailable at start", zap.Error(err))
		}
	}
	return nil
}

// Cleanup implements caddy.CleanerUpper: the last handler using a store closes it.
func (h *Handler) Cleanup() error {
	if h.storeKeyInPool == "" {
		return nil
	}
	_, err := stores.Delete(h.storeKeyInPool)
	return err
}

// claims holds the claims one notification took, so that they are all
// marked delivered or all released.
type claims struct {
	h      *Handler
	keys   []string
	tokens []string
}

func (c *claims) deliver(ctx context.Context) error {
	for i, key := range c.keys {
		if err := c.h.store.Deliver(ctx, key, c.tokens[i], c.h.dedupWindow); err != nil {
			return err
		}
	}
	return nil
}

func (c *claims) release(ctx context.Context) {
	for i, key := range c.keys {
		if err := c.h.store.Release(ctx, key, c.tokens[i]); err != nil {
			// The lease expires on its own; until then a retry gets 409.
			c.h.logger.Warn("releasing a dedup claim", zap.String("key", key), zap.Error(err))
		}
	}
}
