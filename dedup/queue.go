package dedup

import (
	"context"
	"errors"
	"net/http"
	"time"
)

// Item is one queued delivery (deliver queued): the request paynotify sends
// to the app, kept durably from before the provider's ACK until the app
// answered 2xx, and then removed; or, when retry_for ran out, kept as a dead
// letter until an operator retries or deletes it.
type Item struct {
	// ID names the item in the store, the admin API and the logs: "q"
	// followed by 24 hex digits, random.
	ID string `json:"id"`
	// Queue is the route that delivers it: provider "/" dedup scope.
	Queue    string `json:"queue"`
	Provider string `json:"provider"`
	// EventID is the Paynotify-Event-Id (and webhook-id) of the request:
	// one event id, or the ids of a batch forwarded as the original,
	// joined by ", ".
	EventID string      `json:"event_id"`
	Method  string      `json:"method"`
	Query   string      `json:"query,omitempty"` // forward original: the query as received
	Header  http.Header `json:"header"`
	Body    []byte      `json:"body"`
	// Enqueued is when the provider's notification was stored.
	Enqueued time.Time `json:"enqueued"`
	// Since starts the retry period: Enqueued, or when an operator
	// retried the dead letter. Once retry_for has passed since, a failed
	// attempt makes it a dead letter.
	Since time.Time `json:"since"`
	// Due is when the next attempt may start.
	Due      time.Time `json:"due"`
	Attempts int       `json:"attempts"`
	// LastError is why the last attempt failed.
	LastError string `json:"last_error,omitempty"`
	// Died is when it became a dead letter.
	Died time.Time `json:"died,omitzero"`

	// Lease is the token of the lease Take gave; Retry and Bury need it.
	Lease string `json:"-"`
}

// Mark is a delivered mark written together with queued items: the claim
// of Key held with Token becomes delivered for Window (the dedup window),
// so that a provider's retry of a queued event is acknowledged as a
// duplicate and not queued again.
type Mark struct {
	Key, Token string
	Window     time.Duration
}

// QueueStats describes one queue.
type QueueStats struct {
	Depth    int       // items waiting or being delivered
	InFlight int       // items leased to a delivery right now
	Oldest   time.Time // the Enqueued of the oldest item; zero when empty
	Dead     int       // dead letters of the queue
}

// Queue is the outbox of queued deliveries. Both stores implement it; with
// Redis, every node takes from the same queues, and an item taken by a node
// that died is taken again once its lease ends. Its methods are safe for
// concurrent use. An error wraps ErrUnavailable when the store could not be
// reached or written.
type Queue interface {
	// Enqueue stores items and writes marks in one durable write (bolt:
	// one fsynced transaction; Redis: one MULTI/EXEC): all or nothing.
	// The items are due at their Due.
	Enqueue(ctx context.Context, items []*Item, marks []Mark) error
	// Take leases up to max items of queue that are due, earliest first,
	// for lease (after which another Take may take them again: the
	// taker is presumed dead). Each item's Lease is set.
	Take(ctx context.Context, queue string, max int, lease time.Duration) ([]*Item, error)
	// Delivered removes the item: the app has it. It is removed even if
	// its lease was lost (the app has it all the same).
	Delivered(ctx context.Context, it *Item) error
	// Retry stores the item's Due, Attempts and LastError and gives up its
	// lease. Nothing happens when the lease is no longer it.Lease (another
	// node took it over) or the item is gone.
	Retry(ctx context.Context, it *Item) error
	// Bury makes the item a dead letter (with its Died, Attempts and
	// LastError), under the same condition as Retry.
	Bury(ctx context.Context, it *Item) error
	// Stats describes queue.
	Stats(ctx context.Context, queue string) (QueueStats, error)
	// Dead lists the dead letters of every queue of the store, oldest
	// first, bodies included.
	Dead(ctx context.Context) ([]*Item, error)
	// Revive queues the dead letter id again, due at now, with Since now
	// and its attempts reset. It returns ErrNoItem when there is none.
	Revive(ctx context.Context, id string, now time.Time) (*Item, error)
	// DeleteDead deletes the dead letter id, or returns ErrNoItem.
	DeleteDead(ctx context.Context, id string) error
	// Queues returns the depth of every queue of the store that holds
	// items, so that items no configured route delivers are seen.
	Queues(ctx context.Context) (map[string]int, error)
}

// ErrNoItem: no dead letter has that id.
var ErrNoItem = errors.New("no such dead letter")

// NewItemID returns a new random item id.
func NewItemID() string { return "q" + newToken() }

// ValidItemID reports whether id has the form NewItemID gives, so that an
// id from outside (the admin API's path) can go into a key.
func ValidItemID(id string) bool {
	if len(id) != 25 || id[0] != 'q' {
		return false
	}
	for _, c := range id[1:] {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
