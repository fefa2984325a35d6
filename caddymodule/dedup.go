package caddymodule

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus"
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
	// inquiryRetryAfter is what a 503 tells the provider when its API
	// could not be asked.
	inquiryRetryAfter = "60"
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
	path, err = boltFiles.canonical(path)
	if err != nil {
		return "", "", err
	}
	return "bolt " + path, path, nil
}

// boltFiles gives every bolt file one name, whatever path names it: a
// symbolic link, a hard link, another relative path. Two routes that name
// one file through two paths must share one open store: bolt locks its file,
// and a second open of it would wait for the first forever, answering 503
// to that route's every notification.
var boltFiles fileNames

type fileNames struct {
	sync.Mutex
	paths []string // canonical paths handed out so far
}

// canonical creates the file at path if it does not exist (so that it can be
// told apart from another by its identity, not its name), and returns the
// path first given for the same file, or its absolute path without links.
func (f *fileNames) canonical(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o700); err != nil {
		return "", err
	}
	// Not opened before its type is known: opening a FIFO would block
	// the config load, and with it the admin API.
	if fi, err := os.Stat(abs); err == nil && !fi.Mode().IsRegular() {
		return "", fmt.Errorf("%s is not a file", abs)
	}
	file, err := os.OpenFile(abs, os.O_RDONLY|os.O_CREATE, 0o600)
	if err != nil {
		return "", err
	}
	fi, err := file.Stat()
	file.Close()
	if err != nil {
		return "", err
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("%s is not a file", abs)
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		abs = real
	}
	f.Lock()
	defer f.Unlock()
	for _, known := range f.paths {
		if kfi, err := os.Stat(known); err == nil && os.SameFile(kfi, fi) {
			return known, nil
		}
	}
	f.paths = append(f.paths, abs)
	return abs, nil
}

// openStore provisions the dedup store, shared through the pool. A bolt file
// is opened at the first notification (see lazyBolt).
func (h *Handler) openStore(ctx caddy.Context) error {
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
	h.pooled = value.(pooledStore).Store
	if app, err := paynotifyApp(ctx); err == nil {
		app.registerStore(key, h.pooled)
	}
	// The queue gauges also count what an earlier config queued in this
	// store, whether or not a route of this one still queues.
	if _, err := register(ctx.GetMetricsRegistry(), prometheus.Collector(queueCollector{})); err != nil {
		return fmt.Errorf("paynotify: registering metrics: %v", err)
	}
	if h.dedupWindow > 0 {
		h.store = h.pooled
	}
	if r, ok := h.pooled.(*dedup.Redis); ok && !loaded {
		if err := r.Ping(ctx); err != nil {
			// Not fatal: Caddy starts, and notifications get 503 (no ACK,
			// so the provider retries) until Redis answers.
			h.logger.Warn("dedup store unavailable at start", zap.Error(err))
		} else if h.Deliver.queued() {
			warnRedisDurability(ctx, h.logger, r)
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

// eventKey is the dedup key of an event: the provider, the handler's dedup
// scope and the event id (hashed when long). Nothing of the request is in
// it: Caddy's matchers fold the case of a path and clean it, and a site
// without a host name takes any Host, so a key that held the path or host
// as sent would let a replay spelled /NOTIFY/x, //notify/x or with another
// Host through as a new event. The scope is what keeps two routes that each
// must get every event (two apps, one provider account) apart.
func (h *Handler) eventKey(e verifiers.Event) string {
	id := e.ID
	if e.ReplayKey != "" {
		id = e.ReplayKey // the id is not signed (see verifiers.Event.ReplayKey)
	}
	if len(id) > maxIDInKey {
		sum := sha256.Sum256([]byte(id))
		id = "sha256:" + hex.EncodeToString(sum[:])
	}
	return e.Provider + "/" + h.scope + "/" + id
}

// defaultScope is the dedup scope of a handler without dedup_scope.
const defaultScope = "default"

// checkScope accepts a dedup_scope that reads well in a Redis key and a
// log line.
func checkScope(s string) error {
	valid := s != "" && len(s) <= 64
	for _, c := range s {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			valid = false
		}
	}
	if !valid {
		return fmt.Errorf("dedup_scope: %q is not a name of 1 to 64 letters, digits, '-', '_' or '.'", s)
	}
	return nil
}

// scopes holds, per config being loaded or running (known by its
// context's Done channel, which every module of one config shares), the
// dedup scopes its handlers use, so that two routes that would share dedup
// records by accident are found at load.
var scopes = struct {
	sync.Mutex
	byConfig map[<-chan struct{}]map[string]scopeUser
}{byConfig: map[<-chan struct{}]map[string]scopeUser{}}

// scopeUser is the first handler of a config seen with a scope.
type scopeUser struct {
	explicit bool   // dedup_scope was set
	config   string // the handler's JSON config
}

// claimScope records that h uses its scope, and fails when another handler
// of the same provider in the same config already does unless both
// name the scope explicitly (the operator says they are one endpoint). Two
// handlers with the default scope and the same configuration are let
// through with a warning: Caddy gives a site block with several listener
// addresses one copy of its routes per server, and those are one endpoint.
func (h *Handler) claimScope(ctx caddy.Context, config string) error {
	done := ctx.Done()
	if done == nil {
		return nil // a context that never ends is not a config load
	}
	// Not the store: two spellings of one Redis URL (localhost and
	// 127.0.0.1, an added option) are one store, which no string comparison
	// can tell. Routes of one provider need their own scope whatever store
	// they use.
	key := h.provider + "\x00" + h.scope
	user := scopeUser{explicit: h.DedupScope != "", config: config}
	scopes.Lock()
	defer scopes.Unlock()
	used := scopes.byConfig[done]
	if used == nil {
		used = map[string]scopeUser{}
		scopes.byConfig[done] = used
		context.AfterFunc(ctx, func() {
			scopes.Lock()
			delete(scopes.byConfig, done)
			scopes.Unlock()
		})
	}
	first, ok := used[key]
	switch {
	case !ok:
		used[key] = user
	case first.explicit && user.explicit:
		// Named alike on purpose: one endpoint reached by several routes.
	case !first.explicit && !user.explicit && first.config == config:
		h.logger.Warn("two paynotify routes with the same configuration share dedup records; "+
			"if they forward to different apps, each app gets only some events: give each route its own dedup_scope",
			zap.String("provider", h.provider), zap.String("dedup_scope", h.scope))
	default:
		return fmt.Errorf("paynotify: dedup_scope: another %s route of this config keeps its dedup records under scope %q, "+
			"so an event delivered by one would be acknowledged as a duplicate by the other without reaching its app; "+
			"give each route its own dedup_scope <name>, or the same name to both if they are one endpoint", h.provider, h.scope)
	}
	return nil
}

// claims are the claims one notification holds, by event id, until each is
// settled: marked delivered or released. A notification carries one event
// or a few (a batch), so they are a list; the handler keeps the struct on
// its stack, and a notification that claims nothing (dedup off) allocates
// nothing for it.
type claims struct {
	h    *Handler
	held []claim
}

// claim is one event's claim: its id, its key in the store and the token
// that holds it.
type claim struct{ id, key, token string }

// find is the index of the claim of id in held, or -1.
func (c *claims) find(id string) int {
	for i := range c.held {
		if c.held[i].id == id {
			return i
		}
	}
	return -1
}

func (c *claims) holds(id string) bool { return c.find(id) >= 0 }

func (c *claims) add(id, key, token string) {
	if i := c.find(id); i >= 0 {
		c.held[i] = claim{id, key, token}
		return
	}
	c.held = append(c.held, claim{id, key, token})
}

// take removes the claim at i from held and returns it.
func (c *claims) take(i int) claim {
	cl := c.held[i]
	c.held = append(c.held[:i], c.held[i+1:]...)
	return cl
}

// delivered marks the event delivered for the dedup window. The app has it,
// so a failure is logged, not returned: the provider still gets its ACK.
func (c *claims) delivered(ctx context.Context, id string) {
	i := c.find(id)
	if i < 0 {
		return
	}
	cl := c.take(i)
	if err := c.h.store.Deliver(ctx, cl.key, cl.token, c.h.dedupWindow); err != nil {
		c.h.logger.Error("marking an event delivered; a retry of it may reach the app again",
			zap.String("provider", c.h.provider), zap.String("event_id", id), zap.Error(err))
	}
}

// release frees every claim still held, so that the provider's retry is
// forwarded. A failed release is logged; the lease expires on its own.
func (c *claims) release(ctx context.Context) {
	for len(c.held) > 0 {
		cl := c.take(len(c.held) - 1)
		if err := c.h.store.Release(ctx, cl.key, cl.token); err != nil {
			c.h.logger.Warn("releasing a dedup claim; a retry gets 409 until its lease ends",
				zap.String("provider", c.h.provider), zap.String("event_id", cl.id), zap.Error(err))
		}
	}
}

// keep drops the claims without releasing them: the app may have the
// events, so retries get 409 until the leases end rather than a second copy.
func (c *claims) keep() { c.held = c.held[:0] }

// The outbox of deliver queued lives in the same bolt file (see
// dedup.Queue); lazyBolt opens it on first use like the dedup records.

var _ dedup.Queue = (*lazyBolt)(nil)

func (l *lazyBolt) Enqueue(ctx context.Context, items []*dedup.Item, marks []dedup.Mark) error {
	db, err := l.store()
	if err != nil {
		return err
	}
	return db.Enqueue(ctx, items, marks)
}

func (l *lazyBolt) Take(ctx context.Context, queue string, max int, lease time.Duration) ([]*dedup.Item, error) {
	db, err := l.store()
	if err != nil {
		return nil, err
	}
	return db.Take(ctx, queue, max, lease)
}

func (l *lazyBolt) Delivered(ctx context.Context, it *dedup.Item) error {
	db, err := l.store()
	if err != nil {
		return err
	}
	return db.Delivered(ctx, it)
}

func (l *lazyBolt) Retry(ctx context.Context, it *dedup.Item) error {
	db, err := l.store()
	if err != nil {
		return err
	}
	return db.Retry(ctx, it)
}

func (l *lazyBolt) Bury(ctx context.Context, it *dedup.Item) error {
	db, err := l.store()
	if err != nil {
		return err
	}
	return db.Bury(ctx, it)
}

func (l *lazyBolt) Stats(ctx context.Context, queue string) (dedup.QueueStats, error) {
	db, err := l.store()
	if err != nil {
		return dedup.QueueStats{}, err
	}
	return db.Stats(ctx, queue)
}

func (l *lazyBolt) Dead(ctx context.Context) ([]*dedup.Item, error) {
	db, err := l.store()
	if err != nil {
		return nil, err
	}
	return db.Dead(ctx)
}

func (l *lazyBolt) Revive(ctx context.Context, id string, now time.Time) (*dedup.Item, error) {
	db, err := l.store()
	if err != nil {
		return nil, err
	}
	return db.Revive(ctx, id, now)
}

func (l *lazyBolt) DeleteDead(ctx context.Context, id string) error {
	db, err := l.store()
	if err != nil {
		return err
	}
	return db.DeleteDead(ctx, id)
}

// marks are the delivered marks of the claims held, written with the
// queued items that carry their events.
func (c *claims) marks() []dedup.Mark {
	marks := make([]dedup.Mark, 0, len(c.held))
	for _, cl := range c.held {
		marks = append(marks, dedup.Mark{Key: cl.key, Token: cl.token, Window: c.h.dedupWindow})
	}
	return marks
}

// warnRedisDurability warns when the Redis settings would lose queued
// notifications that the provider was told were received.
func warnRedisDurability(ctx context.Context, logger *zap.Logger, r *dedup.Redis) {
	settings, err := r.Durability(ctx)
	if err != nil {
		logger.Info("could not read Redis' persistence settings (CONFIG GET); check them by hand: "+
			"queued notifications need appendonly yes, appendfsync always or everysec, and maxmemory-policy noeviction", zap.Error(err))
		return
	}
	if settings["appendonly"] != "yes" {
		logger.Warn("Redis runs with appendonly no: a Redis restart loses the queued notifications written since its last snapshot, "+
			"which their providers were told were received; set appendonly yes and appendfsync always (or everysec: up to a second lost on a power failure)",
			zap.String("appendonly", settings["appendonly"]))
	} else if settings["appendfsync"] == "no" {
		logger.Warn("Redis runs with appendfsync no: a crash of its machine loses the queued notifications the kernel had not written yet (up to about 30 s); "+
			"set appendfsync always or everysec", zap.String("appendfsync", settings["appendfsync"]))
	}
	if settings["maxmemory-policy"] != "noeviction" {
		logger.Warn("Redis may evict keys when it is full: queued notifications and dedup records would be dropped; set maxmemory-policy noeviction",
			zap.String("maxmemory-policy", settings["maxmemory-policy"]))
	}
}

func (l *lazyBolt) Queues(ctx context.Context) (map[string]int, error) {
	db, err := l.store()
	if err != nil {
		return nil, err
	}
	return db.Queues(ctx)
}
