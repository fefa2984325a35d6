// Package dedup remembers which events were delivered, so that a provider's
// retry of a delivered event is acknowledged without reaching the app again,
// and which are being delivered right now, so that two copies of one event
// arriving together are not both forwarded.
//
// A key goes through three states. Claim takes it for one delivery, as a
// lease: a node that dies mid-delivery does not block the event for longer
// than the lease. After the app accepted the event, Deliver marks it
// delivered for the dedup window. After the app failed, Release frees it, so
// that the provider's retry is forwarded. Every change is made by the holder
// of the claim's token only, so that a claim that expired and was taken by
// another delivery is not released or overwritten by the first.
//
// The package knows nothing of Caddy; the stores are bbolt (one node) and
// Redis (several nodes behind one load balancer).
package dedup

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"time"
)

// State is what Claim found.
type State int

const (
	// Claimed: the caller holds the claim and must Deliver or Release it.
	Claimed State = iota
	// Delivered: the event was delivered within the dedup window.
	Delivered
	// InFlight: another delivery holds an unexpired claim.
	InFlight
)

func (s State) String() string {
	switch s {
	case Claimed:
		return "claimed"
	case Delivered:
		return "delivered"
	case InFlight:
		return "in_flight"
	}
	return "unknown"
}

// Store keeps claims and delivered markers. Its methods are safe for
// concurrent use. An error means the store could not be reached or used: the
// caller must not forward the event (nor acknowledge it).
type Store interface {
	// Claim claims key for one delivery lasting at most lease. With
	// Claimed it returns the token that Deliver and Release need.
	Claim(ctx context.Context, key string, lease time.Duration) (State, string, error)
	// Deliver marks key delivered for window, the dedup window.
	Deliver(ctx context.Context, key, token string, window time.Duration) error
	// Release frees the claim held with token, if it is still held.
	Release(ctx context.Context, key, token string) error
	// Close releases the store's resources.
	Close() error
}

// ErrUnavailable wraps every error of a store that could not be reached.
var ErrUnavailable = errors.New("dedup store unavailable")

// newToken returns a random claim token.
func newToken() string {
	var b [12]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b[:])
}
