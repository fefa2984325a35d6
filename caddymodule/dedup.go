package caddymodule

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/paynotify/paynotify/dedup"
	"github.com/paynotify/paynotify/verifiers"
)

// How long a delivery may take, and how long its claim lasts. The claim must
// outlive the delivery, or a retry arriving meanwhile would be forwarded
// too; so the forwarded request gets a deadline shorter than the lease.
// Providers give up waiting well before a minute.
var (
	// deliveryTimeout and claimLease are copied into each handler at
	// provision; tests that need short leases set them before loading a config.
	deliveryTimeout = 60 * time.Second
	claimLease      = 2 * deliveryTimeout
)

const (
	// retryAfter is what a 409 (in flight) tells the provider.
	retryAfter = "30"
	// boltOpenTimeout bounds the wait for the bolt file's lock, which
	// another Caddy process may hold: its requests then get 503.
	boltOpenTimeout = time.Second
	boltSweepEvery  = 10 * time.Minute
	// maxIDInKey: longer event ids are hashed into the key (bolt keys are
	// at most 32 KiB, and a key need not carry a huge id).
	maxIDInKey = 128
)

// stores shares open stores between handler instances and across config
// reloads: Caddy provisions the new config before it cleans up the old one,
// and bbolt locks its file, so the new handlers must reuse the open database.
var stores = caddy.NewUsagePool()

type pooledStore struct{ dedup.Store }

func (p pooledStore) Destruct() error { return p.Close() }

// lazyBolt opens the bolt file on first use, not at provision: `caddy
// validate` provisions a config while the running Caddy holds the file's
// lock. An open that fails (another process holds the lock) is tried again
// at the next notification; meanwhile notifications get 503.
type lazyBolt struct {
	path string
	mu   sync.Mutex
	db   *dedup.Bolt
}

func (l *lazyBolt) store() (*dedup.Bolt, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.db == nil {
		db, err := dedup.OpenBolt(l.path, boltSweepEvery, boltOpenTimeout)
		if err != nil {
			return nil, err
		}
		l.db = db
	}
	return l.db, nil
}

func (l *lazyBolt) Claim(ctx context.Context, key string, lease time.Duration) (dedup.State, string, error) {
	db, err := l.store()
	if err != nil {
		return 0, "", err
	}
	return db.Claim(ctx, key, lease)
}

func (l *lazyBolt) Deliver(ctx context.Context, key, token string, window time.Duration) error {
	db, err := l.store()
	if err != nil {
		return err
	}
	return db.Deliver(ctx, key, token, window)
}

func (l *lazyBolt) Release(ctx context.Context, key, token string) error {
	db, err := l.store()
	if err != nil {
		return err
	}
	return db.Release(ctx, key, token)
}

func (l *lazyBolt) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.db == nil {
		return nil
	}
	return l.db.Close()
}

// storeKey names the store h uses in the pool, and its bolt path.
func (h *Handler) storeKey() (key, boltPath string, err error) {
	if h.Store != nil && h.Store.Type == "redis" {
		return "redis " + h.redisURL, "", nil
	}
	path := filepath.Join(caddy.AppDataDir(), "paynotify", "dedup.db")
	if h.Store != nil && h.Store.Path != "" {
		path = h.Store.Path
	}
	// One file, one pool entry, whatever path names it.
	dir, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return "", "", err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", "", err
	}
	if real, err := filepath.EvalSymlinks(dir); err == nil {
		dir = real
	}
	path = filepath.Join(dir, filepath.Base(path))
	if fi, err := os.Stat(path); err == nil && !fi.Mode().IsRegular() {
		return "", "", fmt.Errorf("%s is not a file", path)
	}
	return "bolt " + path, path, nil
}

// openStore provisions the dedup store, shared through the pool. A bolt file
// is opened at the first notification (see lazyBolt).
func (h *Handler) openStore(ctx context.Context) error {
	key, boltPath, err := h.storeKey()
	if err != nil {
		return fmt.Errorf("paynotify: store: %v", err)
	}
	value, loaded, err := stores.LoadOrNew(key, func() (caddy.Destructor, error) {
		if boltPath != "" {
			return pooledStore{&lazyBolt{path: boltPath}}, nil
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

// eventKey is the dedup key of an event received at r: the provider, a hash
// of the notification URL's host name and path, and the event id (hashed
// when long). The URL scopes the key, so that two apps behind one Caddy that
// get the same provider account's events (Checkout.com sends one evt_ id to
// every webhook endpoint) each get every event; a provider retries to the
// same URL. The port is left out: nodes behind one load balancer may be
// reached on different ports.
func eventKey(r *http.Request, e verifiers.Event) string {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	scope := sha256.Sum256([]byte(strings.ToLower(host) + r.URL.Path))
	id := e.ID
	if len(id) > maxIDInKey {
		sum := sha256.Sum256([]byte(id))
		id = "sha256:" + hex.EncodeToString(sum[:])
	}
	return e.Provider + "/" + hex.EncodeToString(scope[:6]) + "/" + id
}

// claims are the claims one notification holds, by event id, until each is
// settled: marked delivered or released.
type claims struct {
	h      *Handler
	keys   map[string]string // event id → key
	tokens map[string]string // event id → token
}

func newClaims(h *Handler) *claims {
	return &claims{h: h, keys: map[string]string{}, tokens: map[string]string{}}
}

func (c *claims) holds(id string) bool { _, ok := c.keys[id]; return ok }

func (c *claims) add(id, key, token string) { c.keys[id], c.tokens[id] = key, token }

// delivered marks the event delivered for the dedup window. The app has it,
// so a failure is logged, not returned: the provider still gets its ACK.
func (c *claims) delivered(ctx context.Context, id string) {
	key, ok := c.keys[id]
	if !ok {
		return
	}
	delete(c.keys, id)
	if err := c.h.store.Deliver(ctx, key, c.tokens[id], c.h.dedupWindow); err != nil {
		c.h.logger.Error("marking an event delivered; a retry of it may reach the app again",
			zap.String("provider", c.h.Provider), zap.String("event_id", id), zap.Error(err))
	}
}

// release frees every claim still held, so that the provider's retry is
// forwarded. A failed release is logged; the lease expires on its own.
func (c *claims) release(ctx context.Context) {
	for id, key := range c.keys {
		delete(c.keys, id)
		if err := c.h.store.Release(ctx, key, c.tokens[id]); err != nil {
			c.h.logger.Warn("releasing a dedup claim; a retry gets 409 until its lease ends",
				zap.String("provider", c.h.Provider), zap.String("event_id", id), zap.Error(err))
		}
	}
}

// keep drops the claims without releasing them: the app may have the
// events, so retries get 409 until the leases end rather than a second copy.
func (c *claims) keep() { clear(c.keys) }
