package caddymodule

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/paynotify/paynotify/dedup"
)

// The operator's view of deliver queued, on Caddy's admin endpoint (which
// applies its own listener, origin and host checks):
//
//	GET    /paynotify/queue               the queued routes of the running config
//	GET    /paynotify/dead                the dead letters of their stores
//	POST   /paynotify/dead/<id>/retry     queue a dead letter again
//	DELETE /paynotify/dead/<id>           delete a dead letter
//
// Listings carry no header, body or query of a notification: those hold
// what the provider sent (card data, customers' names). A Redis URL is shown
// without its password.

func init() {
	caddy.RegisterModule(new(adminAPI))
}

// adminAPI serves /paynotify/ on the admin endpoint. It reads the routes
// of the running config (running). Caddy provisions it with each config
// it loads, when it replaces the admin endpoint.
type adminAPI struct {
	// logger logs the operator's actions; the config's logs that
	// include admin.api.paynotify get them.
	logger *zap.Logger
}

// CaddyModule returns the Caddy module information.
func (*adminAPI) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "admin.api.paynotify",
		New: func() caddy.Module { return new(adminAPI) },
	}
}

// Provision implements caddy.Provisioner.
func (a *adminAPI) Provision(ctx caddy.Context) error {
	a.logger = ctx.Logger(a)
	return nil
}

// Routes implements caddy.AdminRouter.
func (a *adminAPI) Routes() []caddy.AdminRoute {
	return []caddy.AdminRoute{{Pattern: "/paynotify/", Handler: caddy.AdminHandlerFunc(a.serve)}}
}

// adminStoreTimeout bounds the store reads and writes of one admin request.
const adminStoreTimeout = 10 * time.Second

func (a *adminAPI) serve(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), adminStoreTimeout)
	defer cancel()
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/paynotify/"), "/")
	switch {
	case len(parts) == 1 && parts[0] == "queue":
		if err := allowMethod(w, r, http.MethodGet); err != nil {
			return err
		}
		return a.queues(ctx, w)
	case len(parts) == 1 && parts[0] == "dead":
		if err := allowMethod(w, r, http.MethodGet); err != nil {
			return err
		}
		return a.dead(ctx, w)
	case len(parts) == 2 && parts[0] == "dead" && parts[1] != "":
		if err := allowMethod(w, r, http.MethodDelete); err != nil {
			return err
		}
		return a.delete(ctx, w, parts[1])
	case len(parts) == 3 && parts[0] == "dead" && parts[1] != "" && parts[2] == "retry":
		if err := allowMethod(w, r, http.MethodPost); err != nil {
			return err
		}
		return a.retry(ctx, w, parts[1])
	}
	return caddy.APIError{HTTPStatus: http.StatusNotFound,
		Err: errors.New("not found: /paynotify/queue, /paynotify/dead, /paynotify/dead/<id>/retry and /paynotify/dead/<id> are served here")}
}

func allowMethod(w http.ResponseWriter, r *http.Request, method string) error {
	if r.Method == method {
		return nil
	}
	w.Header().Set("Allow", method)
	return caddy.APIError{HTTPStatus: http.StatusMethodNotAllowed, Err: fmt.Errorf("method %s not allowed: %s only", r.Method, method)}
}

// queueInfo is a queued route in GET /paynotify/queue.
type queueInfo struct {
	Provider string `json:"provider"`
	Queue    string `json:"queue"`
	// To is the app's URL (deliver queued refuses credentials in it).
	To            string  `json:"to"`
	Store         string  `json:"store"`
	Depth         int     `json:"depth"`
	InFlight      int     `json:"in_flight"`
	OldestSeconds float64 `json:"oldest_seconds"`
	Dead          int     `json:"dead"`
	RetryFor      string  `json:"retry_for"`
	Timeout       string  `json:"timeout"`
	Concurrency   int     `json:"concurrency"`
	// Error says why the store could not be read (the counts are then 0).
	Error string `json:"error,omitempty"`
}

type queueListing struct {
	Queues []queueInfo `json:"queues"`
}

// queues answers GET /paynotify/queue: 200, or 503 with the same listing
// when the store of every queue failed (a monitor sees the failure in the
// status, the operator the reasons in the listing).
func (*adminAPI) queues(ctx context.Context, w http.ResponseWriter) error {
	listing := queueListing{Queues: []queueInfo{}}
	failed := 0
	now := time.Now()
	for _, q := range running.routes() {
		info := queueInfo{
			Provider: q.provider, Queue: q.name, To: q.to.String(), Store: redactedStoreKey(q.storeKey),
			RetryFor:    time.Duration(q.settings.RetryFor).String(),
			Timeout:     time.Duration(q.settings.Timeout).String(),
			Concurrency: q.settings.Concurrency,
		}
		st, err := q.queue.Stats(ctx, q.name)
		if err != nil {
			failed++
			info.Error = redactStoreError(q.storeKey, err)
		} else {
			info.Depth, info.InFlight, info.Dead = st.Depth, st.InFlight, st.Dead
			if !st.Oldest.IsZero() {
				info.OldestSeconds = math.Round(max(0, now.Sub(st.Oldest).Seconds())*1000) / 1000
			}
		}
		listing.Queues = append(listing.Queues, info)
	}
	status := http.StatusOK
	if failed > 0 && failed == len(listing.Queues) {
		status = http.StatusServiceUnavailable
	}
	return writeJSON(w, status, listing)
}

// deadInfo is a dead letter in the listings: what an operator needs to
// find the event in the provider's dashboard and the app's logs, and no
// header, body or query.
type deadInfo struct {
	ID        string    `json:"id"`
	Queue     string    `json:"queue"`
	Provider  string    `json:"provider"`
	EventID   string    `json:"event_id"`
	Method    string    `json:"method"`
	Enqueued  time.Time `json:"enqueued"`
	Died      time.Time `json:"died"`
	Attempts  int       `json:"attempts"`
	LastError string    `json:"last_error"`
	Store     string    `json:"store"`
}

func newDeadInfo(storeKey string, it *dedup.Item) deadInfo {
	return deadInfo{
		ID: it.ID, Queue: it.Queue, Provider: it.Provider, EventID: it.EventID, Method: it.Method,
		Enqueued: it.Enqueued, Died: it.Died, Attempts: it.Attempts, LastError: it.LastError, Store: redactedStoreKey(storeKey),
	}
}

// storeError is a store of the running routes that could not be read.
type storeError struct {
	Store string `json:"store"`
	Error string `json:"error"`
}

type deadListing struct {
	Dead   []deadInfo   `json:"dead"`
	Errors []storeError `json:"errors,omitempty"`
}

// deadStore is one store of the running routes, with its dead letters.
type deadStore struct {
	key   string
	queue dedup.Queue
	dead  []*dedup.Item
	err   error
}

// deadLetters reads the dead letters of each store of the running config
// (routes share a store), in the order of the stores' names.
func deadLetters(ctx context.Context) []*deadStore {
	all := running.allStores()
	stores := make([]*deadStore, 0, len(all))
	for _, key := range slices.Sorted(maps.Keys(all)) {
		s := &deadStore{key: key, queue: all[key]}
		s.dead, s.err = s.queue.Dead(ctx)
		stores = append(stores, s)
	}
	return stores
}

// dead answers GET /paynotify/dead: the dead letters of every store of
// the running routes, including those of queues no route delivers any more
// (they are in the store; they can be deleted, not retried). 503 when
// every store failed.
func (*adminAPI) dead(ctx context.Context, w http.ResponseWriter) error {
	listing := deadListing{Dead: []deadInfo{}}
	stores := deadLetters(ctx)
	for _, s := range stores {
		if s.err != nil {
			listing.Errors = append(listing.Errors, storeError{redactedStoreKey(s.key), redactStoreError(s.key, s.err)})
			continue
		}
		for _, it := range s.dead {
			listing.Dead = append(listing.Dead, newDeadInfo(s.key, it))
		}
	}
	slices.SortStableFunc(listing.Dead, func(a, b deadInfo) int {
		return cmp.Or(a.Died.Compare(b.Died), cmp.Compare(a.ID, b.ID))
	})
	status := http.StatusOK
	if len(stores) > 0 && len(listing.Errors) == len(stores) {
		status = http.StatusServiceUnavailable
	}
	return writeJSON(w, status, listing)
}

// findDead finds the dead letter id in the stores of the running routes.
func findDead(ctx context.Context, id string) (*deadStore, *dedup.Item, error) {
	if !dedup.ValidItemID(id) {
		return nil, nil, caddy.APIError{HTTPStatus: http.StatusNotFound,
			Err: fmt.Errorf("no dead letter %.40q: an id is q and 24 hex digits, as GET /paynotify/dead lists them", id)}
	}
	var unread []string
	for _, s := range deadLetters(ctx) {
		if s.err != nil {
			unread = append(unread, redactedStoreKey(s.key)+": "+redactStoreError(s.key, s.err))
			continue
		}
		for _, it := range s.dead {
			if it.ID == id {
				return s, it, nil
			}
		}
	}
	if len(unread) > 0 {
		return nil, nil, caddy.APIError{HTTPStatus: http.StatusServiceUnavailable,
			Err: fmt.Errorf("dead letter %s not found, and a store that may hold it cannot be read: %s", id, strings.Join(unread, "; "))}
	}
	return nil, nil, caddy.APIError{HTTPStatus: http.StatusNotFound, Err: fmt.Errorf("no dead letter %s", id)}
}

// retry answers POST /paynotify/dead/<id>/retry: the dead letter is
// queued again, due now, with a new retry_for period, and the route's
// worker is woken. The answer is the dead letter as it was listed.
func (a *adminAPI) retry(ctx context.Context, w http.ResponseWriter, id string) error {
	s, it, err := findDead(ctx, id)
	if err != nil {
		return err
	}
	var route *queueRoute
	for _, q := range running.routes() {
		if q.storeKey == s.key && q.name == it.Queue {
			route = q
			break
		}
	}
	if route == nil {
		return caddy.APIError{HTTPStatus: http.StatusConflict,
			Err: fmt.Errorf("no running route delivers queue %s (in %s): dead letter %s stays; configure the route again, or delete it",
				it.Queue, redactedStoreKey(s.key), id)}
	}
	if _, err := s.queue.Revive(ctx, id, time.Now()); errors.Is(err, dedup.ErrNoItem) {
		return caddy.APIError{HTTPStatus: http.StatusNotFound, Err: fmt.Errorf("no dead letter %s (it was retried or deleted meanwhile)", id)}
	} else if err != nil {
		return caddy.APIError{HTTPStatus: http.StatusServiceUnavailable,
			Err: fmt.Errorf("dead letter %s could not be queued again: %s", id, redactStoreError(s.key, err))}
	}
	route.signal()
	a.logger.Info("dead letter retried", zap.String("queue_id", id), zap.String("queue", it.Queue),
		zap.String("provider", it.Provider), zap.String("event_id", it.EventID), zap.Int("attempts", it.Attempts),
		zap.String("last_error", it.LastError))
	return writeJSON(w, http.StatusOK, map[string]deadInfo{"retried": newDeadInfo(s.key, it)})
}

// delete answers DELETE /paynotify/dead/<id>.
func (a *adminAPI) delete(ctx context.Context, w http.ResponseWriter, id string) error {
	s, it, err := findDead(ctx, id)
	if err != nil {
		return err
	}
	if err := s.queue.DeleteDead(ctx, id); errors.Is(err, dedup.ErrNoItem) {
		return caddy.APIError{HTTPStatus: http.StatusNotFound, Err: fmt.Errorf("no dead letter %s (it was retried or deleted meanwhile)", id)}
	} else if err != nil {
		return caddy.APIError{HTTPStatus: http.StatusServiceUnavailable,
			Err: fmt.Errorf("dead letter %s could not be deleted: %s", id, redactStoreError(s.key, err))}
	}
	a.logger.Info("dead letter deleted", zap.String("queue_id", id), zap.String("queue", it.Queue),
		zap.String("provider", it.Provider), zap.String("event_id", it.EventID), zap.Int("attempts", it.Attempts),
		zap.String("last_error", it.LastError))
	return writeJSON(w, http.StatusOK, map[string]string{"deleted": id})
}

func writeJSON(w http.ResponseWriter, status int, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, err = w.Write(append(body, '\n'))
	return err
}

// redactStoreError is err's message without the user information of the
// store's Redis URL.
func redactStoreError(key string, err error) string {
	msg := err.Error()
	kind, where, _ := strings.Cut(key, " ")
	if kind != "redis" {
		return msg
	}
	u, perr := url.Parse(where)
	if perr != nil || u.User == nil {
		return msg
	}
	if pw, ok := u.User.Password(); ok && pw != "" {
		for _, s := range []string{u.User.String(), pw, url.QueryEscape(pw), url.PathEscape(pw)} {
			msg = strings.ReplaceAll(msg, s, "xxxxx")
		}
	}
	return msg
}

// Interface guards.
var (
	_ caddy.AdminRouter = (*adminAPI)(nil)
	_ caddy.Provisioner = (*adminAPI)(nil)
)
