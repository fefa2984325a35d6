package caddymodule

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"go.uber.org/zap"

	"github.com/paynotify/paynotify/dedup"
	"github.com/paynotify/paynotify/verifiers"
)

// Queued delivery (deliver queued): the provider gets its ACK once the
// notification is stored durably in the outbox (the route's store), and the
// route's worker delivers it to the app, retrying with backoff until the app
// answers 2xx or retry_for runs out (then it is a dead letter, kept).
//
// The workers belong to the paynotify app, which Caddy starts and stops
// with the config: `caddy validate` provisions handlers without starting
// apps, so no worker runs for a config that is only checked. Each config
// has its own app; during a reload the new config's workers start before
// the old ones stop, and the store's leases keep them from delivering an
// item twice.

// Defaults of deliver queued.
const (
	DefaultRetryFor    = 72 * time.Hour
	DefaultTimeout     = 30 * time.Second
	DefaultConcurrency = 4
	DefaultBackoff     = time.Second
	DefaultBackoffMax  = 5 * time.Minute
	maxConcurrency     = 256
	// Bounds that keep the time arithmetic (leases, waits, deadlines) far
	// from overflowing.
	maxRetryFor = 365 * 24 * time.Hour
	maxTimeout  = time.Hour
	maxBackoff  = 24 * time.Hour
)

var (
	// stopGrace is how long stopping a config waits for the deliveries in
	// flight before it returns (they go on until their timeout).
	stopGrace = 5 * time.Second
	// takeErrorLogEvery spaces the warnings of a store that cannot be read.
	takeErrorLogEvery = 30 * time.Second
)

// Deliver selects how a verified notification reaches the app.
type Deliver struct {
	// Mode is "direct" (the default: the next handler gets it, normally
	// reverse_proxy, and the provider's ACK waits for the app's answer) or
	// "queued" (the ACK once it is stored; paynotify delivers it to To).
	Mode string `json:"mode,omitempty"`
	// To is the app's URL (queued: required). {env.*} placeholders are
	// resolved at load. With forward original, the query the provider
	// sent is added to its query.
	To string `json:"to,omitempty"`
	// RetryFor is how long failed deliveries are retried before the event
	// becomes a dead letter. Default 72h.
	RetryFor caddy.Duration `json:"retry_for,omitempty"`
	// Timeout bounds each attempt. Default 30s.
	Timeout caddy.Duration `json:"timeout,omitempty"`
	// Concurrency is the number of deliveries in flight per node. Default 4.
	Concurrency int `json:"concurrency,omitempty"`
	// Backoff is the wait after the first failed attempt; it doubles at
	// each failure up to BackoffMax, and each wait is drawn between half
	// of it and all of it (jitter). Defaults 1s and 5m.
	Backoff    caddy.Duration `json:"backoff,omitempty"`
	BackoffMax caddy.Duration `json:"backoff_max,omitempty"`
}

// queued reports whether d selects queued delivery.
func (d *Deliver) queued() bool { return d != nil && d.Mode == "queued" }

// check checks the settings and fills in the defaults; to is To with its
// placeholders resolved.
func (d *Deliver) check() (*url.URL, error) {
	switch d.Mode {
	case "", "direct":
		if d.To != "" || d.RetryFor != 0 || d.Timeout != 0 || d.Concurrency != 0 || d.Backoff != 0 || d.BackoffMax != 0 {
			return nil, errors.New("to, retry_for, timeout, concurrency and backoff apply to deliver queued only")
		}
		return nil, nil
	case "queued":
	default:
		return nil, fmt.Errorf("%q is not direct or queued", d.Mode)
	}
	if d.To == "" {
		return nil, errors.New("queued: to <url> is required: the app's URL, e.g. http://localhost:8000/webhooks")
	}
	resolved, err := caddy.NewReplacer().ReplaceOrErr(d.To, true, true)
	if err != nil {
		return nil, fmt.Errorf("to: %v", err)
	}
	to, err := url.Parse(resolved)
	switch {
	case err != nil:
		return nil, errors.New("to: not a URL")
	case to.Scheme != "http" && to.Scheme != "https", to.Host == "":
		return nil, errors.New("to: an http:// or https:// URL with a host is required")
	case to.User != nil:
		return nil, errors.New("to: credentials in the URL are not supported; let the app check upstream_secret's signature instead")
	case to.Fragment != "":
		return nil, errors.New("to: a URL without #fragment is required")
	}
	if port := to.Port(); port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("to: port %q is not between 1 and 65535", port)
		}
	}
	if d.RetryFor == 0 {
		d.RetryFor = caddy.Duration(DefaultRetryFor)
	}
	if d.Timeout == 0 {
		d.Timeout = caddy.Duration(DefaultTimeout)
	}
	if d.Concurrency == 0 {
		d.Concurrency = DefaultConcurrency
	}
	if d.Backoff == 0 {
		d.Backoff = caddy.Duration(DefaultBackoff)
	}
	if d.BackoffMax == 0 {
		d.BackoffMax = caddy.Duration(max(DefaultBackoffMax, time.Duration(d.Backoff)))
	}
	switch {
	case d.RetryFor < 0:
		return nil, errors.New("retry_for: must be positive")
	case time.Duration(d.RetryFor) > maxRetryFor:
		return nil, fmt.Errorf("retry_for: at most %v", maxRetryFor)
	case d.Timeout < 0:
		return nil, errors.New("timeout: must be positive")
	case time.Duration(d.Timeout) > maxTimeout:
		return nil, fmt.Errorf("timeout: at most %v per attempt", maxTimeout)
	case time.Duration(d.BackoffMax) > maxBackoff:
		return nil, fmt.Errorf("backoff: the longest wait is at most %v", maxBackoff)
	case d.Concurrency < 1 || d.Concurrency > maxConcurrency:
		return nil, fmt.Errorf("concurrency: %d is not between 1 and %d", d.Concurrency, maxConcurrency)
	case d.Backoff < 0:
		return nil, errors.New("backoff: must be positive")
	case d.BackoffMax < d.Backoff:
		return nil, fmt.Errorf("backoff: the longest wait %v is shorter than the first %v", time.Duration(d.BackoffMax), time.Duration(d.Backoff))
	}
	return to, nil
}

// unmarshalDeliver parses `deliver direct` or
//
//	deliver queued {
//	    to          <url>
//	    retry_for   <duration>
//	    timeout     <duration>
//	    concurrency <n>
//	    backoff     <first> [<longest>]
//	}
func (h *Handler) unmarshalDeliver(d *caddyfile.Dispenser) error {
	var mode string
	if err := verifiers.OneValue(d, &mode); err != nil {
		return d.Errf("deliver: direct or queued { to <url> ... }")
	}
	h.Deliver = &Deliver{Mode: mode}
	if mode != "direct" && mode != "queued" {
		return d.Errf("deliver: %q is not direct or queued", mode)
	}
	duration := func(option string, dst *caddy.Duration, value string) error {
		v, err := caddy.ParseDuration(value)
		if err != nil || v <= 0 {
			return d.Errf("deliver: %s: %q is not a positive duration", option, value)
		}
		*dst = caddy.Duration(v)
		return nil
	}
	seen := map[string]bool{}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		option := d.Val()
		if mode == "direct" {
			return d.Errf("deliver direct takes no options (%s is for deliver queued)", option)
		}
		if seen[option] {
			return d.Errf("deliver: %s given twice", option)
		}
		seen[option] = true
		args := d.RemainingArgs()
		one := func() (string, error) {
			if len(args) != 1 {
				return "", d.Errf("deliver: %s takes one value", option)
			}
			return args[0], nil
		}
		var err error
		var v string
		switch option {
		case "to":
			if v, err = one(); err == nil {
				h.Deliver.To = v
			}
		case "retry_for":
			if v, err = one(); err == nil {
				err = duration(option, &h.Deliver.RetryFor, v)
			}
		case "timeout":
			if v, err = one(); err == nil {
				err = duration(option, &h.Deliver.Timeout, v)
			}
		case "concurrency":
			if v, err = one(); err == nil {
				var n int
				if _, scanErr := fmt.Sscan(v, &n); scanErr != nil || fmt.Sprint(n) != v {
					return d.Errf("deliver: concurrency: %q is not a number", v)
				}
				if n < 1 {
					return d.Errf("deliver: concurrency: %d is not between 1 and %d", n, maxConcurrency)
				}
				h.Deliver.Concurrency = n
			}
		case "backoff":
			if len(args) < 1 || len(args) > 2 {
				return d.Errf("deliver: backoff <first> [<longest>]")
			}
			err = duration(option, &h.Deliver.Backoff, args[0])
			if err == nil && len(args) == 2 {
				err = duration(option, &h.Deliver.BackoffMax, args[1])
			}
		default:
			return d.Errf("deliver: unrecognized option %q (to, retry_for, timeout, concurrency, backoff)", option)
		}
		if err != nil {
			return err
		}
	}
	if mode == "queued" && h.Deliver.To == "" {
		return d.Errf("deliver queued: to <url> is required (the app's URL)")
	}
	// Checked on a copy: the defaults are filled in at provision, not
	// written into the adapted JSON.
	settings := *h.Deliver
	if strings.Contains(settings.To, "{") {
		settings.To = "http://placeholder" // resolved at provision
	}
	if _, err := settings.check(); err != nil {
		return d.Errf("deliver: %v", err)
	}
	return nil
}

// queueRoute is one route's queue and what its worker needs to deliver it.
type queueRoute struct {
	name     string // provider/scope: the queue in the store
	provider string
	storeKey string // the store in the pool (admin API listings)
	queue    dedup.Queue
	settings Deliver // checked, defaults filled in
	to       *url.URL
	signer   *standardwebhooks.Webhook
	secret   string // upstream_secret, resolved: routes that share a queue must sign alike
	logger   *zap.Logger
	metrics  *queueMetrics
	wake     chan struct{} // a notification was queued here

}

// lease is how long an attempt holds its item: longer than the attempt, so
// that only a node that died loses it.
func (q *queueRoute) lease() time.Duration {
	return 2*time.Duration(q.settings.Timeout) + 5*time.Second
}

// poll is how often the worker looks for due items when nothing wakes it.
func (q *queueRoute) poll() time.Duration {
	return min(time.Second, max(50*time.Millisecond, time.Duration(q.settings.Backoff)/2))
}

func (q *queueRoute) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// same reports whether two handlers' routes are one: a site with several
// listener addresses gets a copy of its handlers per server.
func (q *queueRoute) same(o *queueRoute) bool {
	return q.settings == o.settings && q.to.String() == o.to.String() && q.secret == o.secret
}

// App runs the workers of the queued routes of a config. Handlers load it
// (ctx.App("paynotify")); it needs no configuration of its own.
type App struct {
	logger *zap.Logger
	mu     sync.Mutex
	routes map[string]*queueRoute // by store key and queue name
	stores map[string]dedup.Queue // every store of the config's handlers, by key
	cancel context.CancelFunc
	loops  sync.WaitGroup // the workers' loops
	flight sync.WaitGroup // the attempts in flight
}

func init() {
	caddy.RegisterModule(new(App))
}

// CaddyModule returns the Caddy module information.
func (*App) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "paynotify",
		New: func() caddy.Module { return new(App) },
	}
}

// Provision implements caddy.Provisioner.
func (a *App) Provision(ctx caddy.Context) error {
	a.logger = ctx.Logger()
	a.routes = map[string]*queueRoute{}
	a.stores = map[string]dedup.Queue{}
	return nil
}

// registerStore records a store the config's handlers use, queued or not:
// queued notifications a route of an earlier config left in it are then
// seen (warned about at start, counted in the metrics).
func (a *App) registerStore(key string, store dedup.Store) {
	if q, ok := store.(dedup.Queue); ok {
		a.mu.Lock()
		a.stores[key] = q
		a.mu.Unlock()
	}
}

// register adds the queue of a handler; a second handler of the same queue
// must deliver alike (it is the same route served on another address).
func (a *App) register(q *queueRoute) (*queueRoute, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	// Compared by queue name whatever the store: no string comparison can
	// tell two spellings of one Redis apart (localhost and 127.0.0.1).
	for _, known := range a.routes {
		if known.name == q.name && !known.same(q) {
			return nil, fmt.Errorf("paynotify: deliver: another %s route of this config queues under dedup_scope %q "+
				"and delivers differently; give each route its own dedup_scope", q.provider, strings.TrimPrefix(q.name, q.provider+"/"))
		}
	}
	key := q.storeKey + "\x00" + q.name
	if known, ok := a.routes[key]; ok {
		return known, nil
	}
	a.routes[key] = q
	return q, nil
}

// Start implements caddy.App: a worker per queued route.
func (a *App) Start() error {
	ctx, cancel := context.WithCancel(context.Background())
	a.cancel = cancel
	a.mu.Lock()
	defer a.mu.Unlock()
	served := map[string]bool{}
	for key, q := range a.routes {
		a.loops.Add(1)
		go a.work(ctx, q)
		running.add(q)
		served[key] = true
	}
	stores := maps.Clone(a.stores)
	for key, q := range stores {
		running.addStore(key, q)
	}
	a.loops.Add(1)
	go func() {
		defer a.loops.Done()
		a.warnUnserved(ctx, stores, served)
	}()
	return nil
}

// warnUnserved warns about queued notifications in the stores of this
// config that none of its routes delivers (a route removed, its dedup_scope
// renamed): they were acknowledged, and wait in the store until a route of
// that provider and scope is configured again.
func (a *App) warnUnserved(ctx context.Context, stores map[string]dedup.Queue, served map[string]bool) {
	for storeKey, queue := range stores {
		depths, err := queue.Queues(ctx)
		if err != nil {
			continue // the workers log a store that cannot be read
		}
		for name, depth := range depths {
			if served[storeKey+"\x00"+name] {
				continue
			}
			provider, scope, _ := strings.Cut(name, "/")
			a.logger.Error("queued notifications that no route of this config delivers: they wait in the store until a route of "+
				"that provider with that dedup_scope is configured again (restore it), or until they are deleted from the store",
				zap.String("queue", name), zap.String("provider", provider), zap.String("dedup_scope", scope),
				zap.Int("queued", depth), zap.String("store", redactedStoreKey(storeKey)))
		}
	}
}

// Stop implements caddy.App: the workers take no more items, and the
// deliveries in flight get stopGrace to end (after that they go on until
// their own timeout, or the process exits: an item whose delivery did not
// end is delivered again once its lease runs out or after the restart).
func (a *App) Stop() error {
	if a.cancel != nil {
		a.cancel()
	}
	a.loops.Wait()
	a.mu.Lock()
	for _, q := range a.routes {
		running.remove(q)
	}
	for key := range a.stores {
		running.removeStore(key)
	}
	a.mu.Unlock()
	ended := make(chan struct{})
	go func() { a.flight.Wait(); close(ended) }()
	select {
	case <-ended:
	case <-time.After(stopGrace):
		a.logger.Warn("stopping with queued deliveries in flight; an event whose delivery did not end is delivered again (the app may see it twice: it has the same webhook-id and Paynotify-Event-Id)")
	}
	return nil
}

// work takes due items of q and delivers them, at most Concurrency at once.
func (a *App) work(ctx context.Context, q *queueRoute) {
	defer a.loops.Done()
	slots := make(chan struct{}, q.settings.Concurrency)
	freed := make(chan struct{}, 1)
	tick := time.NewTicker(q.poll())
	defer tick.Stop()
	var lastTakeError time.Time
	for {
		if free := cap(slots) - len(slots); free > 0 {
			items, err := q.queue.Take(ctx, q.name, free, q.lease())
			if err != nil && ctx.Err() == nil && time.Since(lastTakeError) >= takeErrorLogEvery {
				lastTakeError = time.Now()
				q.logger.Warn("queued deliveries wait: the store cannot be read", zap.String("provider", q.provider),
					zap.String("queue", q.name), zap.Error(err))
			}
			for _, it := range items {
				slots <- struct{}{}
				a.flight.Add(1)
				go func() {
					defer func() {
						<-slots
						a.flight.Done()
						select {
						case freed <- struct{}{}:
						default:
						}
					}()
					q.attempt(it)
				}()
			}
			if len(items) == free && ctx.Err() == nil {
				continue // there may be more due
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-q.wake:
		case <-freed:
		}
	}
}

// deliveryClient sends queued deliveries: it follows no redirect (a 3xx is
// not the app's acceptance) and uses no proxy from the environment (the app
// is the operator's).
var deliveryClient = &http.Client{
	Transport: &http.Transport{
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConnsPerHost:   maxConcurrency,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		ForceAttemptHTTP2:     true,
	},
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// The results of a delivery attempt, in the log line and the counter.
const (
	deliveryDelivered = "delivered"
	deliveryRetry     = "retry"
	deliveryDead      = "dead"
)

var deliveryResults = []string{deliveryDelivered, deliveryRetry, deliveryDead}

// attempt delivers it once and records the result: removed from the queue
// (2xx), due again after a backoff, or a dead letter once retry_for has
// passed since it.Since.
func (q *queueRoute) attempt(it *dedup.Item) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(q.settings.Timeout))
	defer cancel()
	start := time.Now()
	status, err := q.send(ctx, it)
	took := time.Since(start)
	it.Attempts++
	fields := []zap.Field{
		zap.String("provider", q.provider), zap.String("queue_id", it.ID), zap.String("event_id", it.EventID),
		zap.Int("attempt", it.Attempts), zap.Duration("duration", took),
	}
	if status != 0 {
		fields = append(fields, zap.Int("upstream_status", status))
	}
	// The outcome is written with a context of its own: the attempt's may
	// have run out.
	store, cancelStore := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancelStore()
	if err == nil {
		q.metrics.count(deliveryDelivered)
		fields = append(fields, zap.String("result", deliveryDelivered), zap.Duration("queued_for", time.Since(it.Enqueued)))
		if serr := q.queue.Delivered(store, it); serr != nil {
			q.logger.Error("delivery", append(fields, zap.String("store_error",
				"the app has the event but the queue could not be told; it will be delivered again: "+serr.Error()))...)
			return
		}
		q.logger.Info("delivery", fields...)
		return
	}
	it.LastError = err.Error()
	now := time.Now()
	deadline := it.Since.Add(time.Duration(q.settings.RetryFor))
	fields = append(fields, zap.String("reason", it.LastError))
	if !now.Before(deadline) {
		it.Died = now
		q.metrics.count(deliveryDead)
		if serr := q.queue.Bury(store, it); serr != nil {
			q.logger.Error("delivery", append(fields, zap.String("result", deliveryRetry), zap.String("store_error",
				"retry_for ran out but the dead letter could not be stored; it stays queued and is tried again once its lease ends: "+serr.Error()))...)
			return
		}
		q.logger.Error("delivery", append(fields, zap.String("result", deliveryDead),
			zap.String("retry_for", time.Duration(q.settings.RetryFor).String()))...)
		return
	}
	wait := q.backoff(it.Attempts)
	it.Due = now.Add(wait)
	if it.Due.After(deadline) {
		it.Due = deadline // one last attempt when retry_for runs out
	}
	q.metrics.count(deliveryRetry)
	if serr := q.queue.Retry(store, it); serr != nil {
		q.logger.Error("delivery", append(fields, zap.String("result", deliveryRetry), zap.String("store_error",
			"the next attempt could not be scheduled; it is made once its lease ends: "+serr.Error()))...)
		return
	}
	q.logger.Warn("delivery", append(fields, zap.String("result", deliveryRetry), zap.Duration("next_attempt_in", it.Due.Sub(now)))...)
}

// backoff is the wait after the attempts-th failure: Backoff doubled at each
// failure up to BackoffMax, drawn between half of it and all of it.
func (q *queueRoute) backoff(attempts int) time.Duration {
	d, most := time.Duration(q.settings.Backoff), time.Duration(q.settings.BackoffMax)
	for i := 1; i < attempts && d < most; i++ {
		d *= 2
	}
	d = min(d, most)
	return d/2 + rand.N(d/2+1)
}

// maxAppReply is how much of the app's reply is read (and dropped), so that
// the connection can be kept.
const maxAppReply = 64 << 10

// send makes one attempt: the request forward would have sent, to the app's
// URL, signed afresh with upstream_secret (same webhook-id, a new
// timestamp). The app must answer 2xx.
func (q *queueRoute) send(ctx context.Context, it *dedup.Item) (int, error) {
	target := *q.to
	if it.Query != "" {
		if target.RawQuery != "" {
			target.RawQuery += "&" + it.Query
		} else {
			target.RawQuery = it.Query
		}
	}
	req, err := http.NewRequestWithContext(ctx, it.Method, target.String(), bytes.NewReader(it.Body))
	if err != nil {
		return 0, fmt.Errorf("building the request: %v", err)
	}
	req.Header = it.Header.Clone()
	if req.Header == nil {
		req.Header = http.Header{}
	}
	if len(it.Body) == 0 && it.Method == http.MethodGet {
		req.Body, req.ContentLength = http.NoBody, 0
	}
	if q.signer != nil {
		signUpstream(q.signer, req.Header, it.EventID, time.Now(), it.Body)
	}
	resp, err := deliveryClient.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return 0, fmt.Errorf("the app did not answer within timeout %v", time.Duration(q.settings.Timeout))
		}
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // without the URL, which the log line's queue names
		}
		return 0, fmt.Errorf("the app could not be reached: %v", err)
	}
	_, _ = io.CopyN(io.Discard, resp.Body, maxAppReply)
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, fmt.Errorf("the app answered %d", resp.StatusCode)
	}
	return resp.StatusCode, nil
}

// running lists the queued routes of the configs running now, for the
// admin API: during a reload, the new config's route replaces the old one.
var running = &runningRoutes{byKey: map[string]*queueRoute{}, stores: map[string]*runningStore{}}

type runningRoutes struct {
	sync.Mutex
	byKey  map[string]*queueRoute
	stores map[string]*runningStore // the stores of the running configs' handlers
}

// runningStore is a store and the number of running configs using it
// (during a reload, two).
type runningStore struct {
	queue dedup.Queue
	users int
}

func (r *runningRoutes) addStore(key string, q dedup.Queue) {
	r.Lock()
	defer r.Unlock()
	if s := r.stores[key]; s != nil {
		s.queue = q
		s.users++
		return
	}
	r.stores[key] = &runningStore{queue: q, users: 1}
}

func (r *runningRoutes) removeStore(key string) {
	r.Lock()
	defer r.Unlock()
	if s := r.stores[key]; s != nil {
		if s.users--; s.users == 0 {
			delete(r.stores, key)
		}
	}
}

// allStores returns the stores of the running configs, by key.
func (r *runningRoutes) allStores() map[string]dedup.Queue {
	r.Lock()
	defer r.Unlock()
	stores := make(map[string]dedup.Queue, len(r.stores))
	for key, s := range r.stores {
		stores[key] = s.queue
	}
	return stores
}

func (r *runningRoutes) add(q *queueRoute) {
	r.Lock()
	r.byKey[q.storeKey+"\x00"+q.name] = q
	r.Unlock()
}

func (r *runningRoutes) remove(q *queueRoute) {
	r.Lock()
	if r.byKey[q.storeKey+"\x00"+q.name] == q {
		delete(r.byKey, q.storeKey+"\x00"+q.name)
	}
	r.Unlock()
}

// routes returns the running routes, sorted by queue name then store.
func (r *runningRoutes) routes() []*queueRoute {
	r.Lock()
	defer r.Unlock()
	routes := make([]*queueRoute, 0, len(r.byKey))
	for _, q := range r.byKey {
		routes = append(routes, q)
	}
	sortRoutes(routes)
	return routes
}

// Interface guards.
var (
	_ caddy.App         = (*App)(nil)
	_ caddy.Provisioner = (*App)(nil)
)

// provisionQueue sets up the route's queue in the paynotify app of the
// config being loaded, which starts its worker with the config.
func (h *Handler) provisionQueue(ctx caddy.Context, to *url.URL) error {
	if sr, ok := h.verifier.(verifiers.StorageRisker); ok && h.Forward == "original" {
		if risk := sr.StorageRisk(); risk != "" {
			return fmt.Errorf("paynotify: deliver: queued with forward original would store %s requests as sent, and %s: "+
				"use forward normalized with deliver queued, or deliver direct", h.provider, risk)
		}
	}
	queue, ok := h.pooled.(dedup.Queue)
	if !ok {
		return errors.New("paynotify: deliver: queued: the store cannot hold queued notifications")
	}
	m, err := newQueueMetrics(ctx.GetMetricsRegistry(), h.provider)
	if err != nil {
		return fmt.Errorf("paynotify: registering metrics: %v", err)
	}
	app, err := paynotifyApp(ctx)
	if err != nil {
		return fmt.Errorf("paynotify: deliver: %v", err)
	}
	secret, _ := verifiers.ResolveSecret(h.UpstreamSecret) // checked above
	q := &queueRoute{
		name:     h.provider + "/" + h.scope,
		provider: h.provider,
		storeKey: h.storeKeyInPool,
		queue:    queue,
		settings: *h.Deliver,
		to:       to,
		signer:   h.upstreamSigner,
		secret:   secret,
		logger:   h.logger,
		metrics:  m,
		wake:     make(chan struct{}, 1),
	}
	h.queue, err = app.register(q)
	return err
}

// paynotifyApp loads the config's paynotify app. A handler provisioned
// outside a config (a library caller's caddy.NewContext) has none:
// caddy.Context.App dereferences the missing config, hence the recover.
func paynotifyApp(ctx caddy.Context) (app *App, err error) {
	defer func() {
		if recover() != nil {
			app, err = nil, errors.New("the handler is not provisioned within a Caddy config")
		}
	}()
	a, err := ctx.App("paynotify")
	if err != nil {
		return nil, err
	}
	return a.(*App), nil
}

// enqueue stores what forward would have sent, with the delivered marks of
// the events' claims in the same write, then acknowledges: from here on the
// route's worker delivers it. A store that cannot take it gets 503, no ACK.
func (n *notification) enqueue(ctx context.Context, r *http.Request, body []byte, events []verifiers.Event, held *claims) error {
	h := n.h
	requests, err := h.forwards(nil, r, body, events, false, false)
	if err != nil {
		return n.reject(http.StatusBadGateway, outcomeUpstreamFailed, err)
	}
	// As reverse_proxy tells the app in direct mode: from a trusted proxy
	// (a balancer that ends TLS), the proto and host it forwarded.
	proto, host := "http", r.Host
	if r.TLS != nil {
		proto = "https"
	}
	if trusted, _ := caddyhttp.GetVar(r.Context(), caddyhttp.TrustedProxyVarKey).(bool); trusted {
		if v := r.Header.Get("X-Forwarded-Proto"); v != "" {
			proto = v
		}
		if v := r.Header.Get("X-Forwarded-Host"); v != "" {
			host = v
		}
	}
	now := time.Now()
	items := make([]*dedup.Item, len(requests))
	for i, f := range requests {
		header := f.request.Header.Clone()
		header.Del("Content-Length")
		header.Set("X-Forwarded-For", n.clientIPText)
		header.Set("X-Forwarded-Proto", proto)
		header.Set("X-Forwarded-Host", host)
		items[i] = &dedup.Item{
			ID: dedup.NewItemID(), Queue: h.queue.name, Provider: h.provider,
			EventID: header.Get("Paynotify-Event-Id"), Method: f.request.Method, Query: f.request.URL.RawQuery,
			Header: header, Body: f.body, Enqueued: now, Since: now, Due: now,
		}
	}
	if err := h.queue.queue.Enqueue(ctx, items, held.marks()); err != nil {
		return n.reject(http.StatusServiceUnavailable, outcomeStoreUnavailable, fmt.Errorf("queueing: %v", err))
	}
	held.keep() // the marks are written
	n.outcome(outcomeQueued, nil)
	n.writeACK()
	h.queue.signal()
	return nil
}

// sortRoutes orders routes by queue name, then store.
func sortRoutes(routes []*queueRoute) {
	slices.SortFunc(routes, func(a, b *queueRoute) int {
		return cmp.Or(cmp.Compare(a.name, b.name), cmp.Compare(a.storeKey, b.storeKey))
	})
}

// redactedStoreKey is a store's pool key for people to read: "bolt <path>"
// or "redis <url>" without the URL's password.
func redactedStoreKey(key string) string {
	if url, ok := strings.CutPrefix(key, "redis "); ok {
		return "redis " + dedup.RedactedURL(url)
	}
	return key
}
