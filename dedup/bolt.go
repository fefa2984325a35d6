package dedup

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Bolt is the embedded store: one bbolt file, for a single node. Delivered
// events survive a restart. Delivered marks are written by one goroutine
// that commits whatever marks are waiting in one transaction (group commit):
// a lone notification is written at once, and under load one fsync serves
// every notification that arrived during the previous one.
//
// Claims are kept in memory, not in the file: bolt locks its file, so this
// process is the only one that can claim its events, and a claim is a lease
// that must not outlive the process anyway (after a crash, the provider's
// retry is delivered rather than held up until the lease ends). So the only
// write, and the only fsync, per notification is the delivered mark.
type Bolt struct {
	db   *bolt.DB
	now  func() time.Time // the clock; tests may set it
	stop chan struct{}
	done sync.WaitGroup

	mu     sync.Mutex
	claims map[string]boltClaim // by key
	queue  boltQueue            // the outbox's index; see boltqueue.go

	writes chan boltWrite // to the writer
}

// boltWrite is a change waiting for the writer: apply runs in the
// transaction that commits it, and done gets the commit's outcome.
type boltWrite struct {
	apply func(tx *bolt.Tx) error
	after func() // run by the writer once the commit succeeded, in commit order
	done  chan error
}

// maxWritesPerCommit bounds one transaction, maxMarkDelay its wait for the
// marks of other claims in flight.
const (
	maxWritesPerCommit = 1000
	maxMarkDelay       = time.Millisecond
)

// inFlight is the number of claims held: the deliveries under way (and
// those that timed out, until their lease ends).
func (b *Bolt) inFlight() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.claims)
}

// boltClaim is a claim held in memory.
type boltClaim struct {
	token   string
	expires time.Time
}

var boltBucket = []byte("paynotify_dedup")

// A record: one state byte, the expiry in Unix nanoseconds, the claim token.
const (
	recClaim     byte = 'c'
	recDelivered byte = 'd'
)

// OpenBolt opens (creating it if need be) the bolt file at path and sweeps
// expired records every sweepEvery. bbolt locks the file: a second OpenBolt
// of the same path in any process waits for the first to Close, up to
// timeout, then fails.
func OpenBolt(path string, sweepEvery, timeout time.Duration) (*Bolt, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	// The freelist is rebuilt when the file is opened instead of written at
	// every commit: less to write and fsync per notification.
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: timeout, NoFreelistSync: true, FreelistType: bolt.FreelistMapType})
	if err != nil {
		return nil, fmt.Errorf("%w: opening %s: %v", ErrUnavailable, path, err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{boltBucket, boltQueueBucket, boltDeadBucket} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		db.Close()
		return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	b := &Bolt{db: db, now: time.Now, stop: make(chan struct{}), claims: map[string]boltClaim{}, writes: make(chan boltWrite)}
	if err := b.loadQueue(); err != nil {
		db.Close()
		return nil, fmt.Errorf("%w: reading the queue in %s: %v", ErrUnavailable, path, err)
	}
	b.done.Add(1)
	go b.writer()
	if sweepEvery > 0 {
		b.done.Add(1)
		go b.sweepLoop(sweepEvery)
	}
	return b, nil
}

// Claim implements Store. The claim is taken in memory first, then a read
// transaction tells whether the event was delivered already. In that order,
// a claim that follows another's delivery always sees its mark: the
// delivery writes the mark before it gives up its claim.
func (b *Bolt) Claim(_ context.Context, key string, lease time.Duration) (State, string, error) {
	now := b.now()
	token := newToken()
	b.mu.Lock()
	if c, ok := b.claims[key]; ok && now.Before(c.expires) {
		b.mu.Unlock()
		return InFlight, "", nil
	}
	b.claims[key] = boltClaim{token: token, expires: now.Add(lease)}
	b.mu.Unlock()

	state := Claimed
	err := b.db.View(func(tx *bolt.Tx) error {
		// A claim record can only be in a file written by an older version.
		kind, expires, _, ok := decodeRecord(tx.Bucket(boltBucket).Get([]byte(key)))
		if ok && now.Before(expires) {
			state = InFlight
			if kind == recDelivered {
				state = Delivered
			}
		}
		return nil
	})
	if err != nil || state != Claimed {
		b.forget(key, token)
		if err != nil {
			return 0, "", fmt.Errorf("%w: %v", ErrUnavailable, err)
		}
		return state, "", nil
	}
	return Claimed, token, nil
}

// forget drops the claim of key if token still holds it.
func (b *Bolt) forget(key, token string) {
	b.mu.Lock()
	if c, ok := b.claims[key]; ok && c.token == token {
		delete(b.claims, key)
	}
	b.mu.Unlock()
}

// Deliver implements Store. The record is written even if the claim expired
// meanwhile: the app did accept the event.
func (b *Bolt) Deliver(_ context.Context, key, token string, window time.Duration) error {
	record := encodeRecord(recDelivered, b.now().Add(window), "")
	if err := b.write(func(tx *bolt.Tx) error { return tx.Bucket(boltBucket).Put([]byte(key), record) }, nil); err != nil {
		return err
	}
	b.forget(key, token)
	return nil
}

// write has the writer commit apply, and returns once it is on disk. after,
// if not nil, updates the in-memory state: the writer runs it once the
// commit succeeded, so that the index sees the changes in the order the
// file does.
func (b *Bolt) write(apply func(tx *bolt.Tx) error, after func()) error {
	w := boltWrite{apply: apply, after: after, done: make(chan error, 1)}
	select {
	case b.writes <- w:
	case <-b.stop:
		return fmt.Errorf("%w: %v", ErrUnavailable, bolt.ErrDatabaseNotOpen)
	}
	if err := <-w.done; err != nil {
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	return nil
}

// writer commits the writes: delivered marks, queued items and their
// changes. A transaction takes every write already waiting, and starts at
// once when its writes are those of every claim in flight (a lone
// notification waits for nothing); otherwise it waits up to maxMarkDelay for
// the other claimants' marks, so that under load one fsync serves many.
func (b *Bolt) writer() {
	defer b.done.Done()
	delay := time.NewTimer(0)
	<-delay.C
	for {
		var batch []boltWrite
		select {
		case w := <-b.writes:
			batch = append(batch, w)
		case <-b.stop:
			return
		}
	waiting:
		for len(batch) < maxWritesPerCommit {
			select {
			case w := <-b.writes:
				batch = append(batch, w)
			default:
				break waiting
			}
		}
		delay.Reset(maxMarkDelay)
	delaying:
		for len(batch) < maxWritesPerCommit && len(batch) < b.inFlight() {
			select {
			case w := <-b.writes:
				batch = append(batch, w)
			case <-delay.C:
				break delaying
			case <-b.stop:
				break delaying
			}
		}
		delay.Stop()
		err := b.db.Update(func(tx *bolt.Tx) error {
			for _, w := range batch {
				if err := w.apply(tx); err != nil {
					return err
				}
			}
			return nil
		})
		for _, w := range batch {
			if err == nil && w.after != nil {
				w.after()
			}
			w.done <- err
		}
	}
}

// Release implements Store.
func (b *Bolt) Release(_ context.Context, key, token string) error {
	b.forget(key, token)
	return nil
}

// Sweep deletes the expired records and returns how many it deleted from
// the file. Expired claims (of deliveries that timed out) are dropped too.
func (b *Bolt) Sweep() (int, error) {
	b.mu.Lock()
	for key, c := range b.claims {
		if !b.now().Before(c.expires) {
			delete(b.claims, key)
		}
	}
	b.mu.Unlock()
	deleted := 0
	err := b.db.Update(func(tx *bolt.Tx) error {
		now := b.now()
		c := tx.Bucket(boltBucket).Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if _, expires, _, ok := decodeRecord(v); !ok || !now.Before(expires) {
				if err := c.Delete(); err != nil {
					return err
				}
				deleted++
			}
		}
		return nil
	})
	return deleted, err
}

func (b *Bolt) sweepLoop(every time.Duration) {
	defer b.done.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
			_, _ = b.Sweep() // a failed sweep is retried at the next tick
		}
	}
}

// Close implements Store.
func (b *Bolt) Close() error {
	close(b.stop)
	b.done.Wait()
	return b.db.Close()
}

func encodeRecord(kind byte, expires time.Time, token string) []byte {
	rec := make([]byte, 9, 9+len(token))
	rec[0] = kind
	binary.BigEndian.PutUint64(rec[1:], uint64(expires.UnixNano()))
	return append(rec, token...)
}

func decodeRecord(rec []byte) (kind byte, expires time.Time, token string, ok bool) {
	if len(rec) < 9 {
		return 0, time.Time{}, "", false
	}
	return rec[0], time.Unix(0, int64(binary.BigEndian.Uint64(rec[1:9]))), string(rec[9:]), true
}
