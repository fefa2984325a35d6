package dedup

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The bolt outbox: queued items in one bucket and dead letters in another,
// each item as JSON under its id. Every change goes through the writer, so
// that a queued item is on disk (fsynced, in the same transaction as its
// delivered mark) before the provider gets its ACK, and so that under load
// one fsync serves many items.
//
// The file is this process's alone (bolt locks it), so the index of what is
// due and the leases are kept in memory: read from the file when it is
// opened, then kept in step with every commit. A process that dies holds no
// lease after its restart, and what it was delivering is due again.
var (
	boltQueueBucket = []byte("paynotify_queue")
	boltDeadBucket  = []byte("paynotify_dead")
)

// boltQueue is the in-memory index of the queued items and dead letters,
// guarded by Bolt.mu.
type boltQueue struct {
	queues map[string]map[string]*boltQueued // queue → id → item
	dead   map[string]int                    // queue → dead letters
}

// boltQueued is what the index knows of a queued item.
type boltQueued struct {
	due, enqueued time.Time
	lease         string // token; "" when not leased
	leaseEnds     time.Time
}

var _ Queue = (*Bolt)(nil)

// loadQueue builds the index from the file.
func (b *Bolt) loadQueue() error {
	b.queue = boltQueue{queues: map[string]map[string]*boltQueued{}, dead: map[string]int{}}
	return b.db.View(func(tx *bolt.Tx) error {
		err := tx.Bucket(boltQueueBucket).ForEach(func(k, v []byte) error {
			var it Item
			if err := json.Unmarshal(v, &it); err != nil {
				return fmt.Errorf("item %s: %v", k, err)
			}
			b.queue.add(&it)
			return nil
		})
		if err != nil {
			return err
		}
		return tx.Bucket(boltDeadBucket).ForEach(func(k, v []byte) error {
			var it Item
			if err := json.Unmarshal(v, &it); err != nil {
				return fmt.Errorf("dead letter %s: %v", k, err)
			}
			b.queue.dead[it.Queue]++
			return nil
		})
	})
}

func (q *boltQueue) add(it *Item) {
	items := q.queues[it.Queue]
	if items == nil {
		items = map[string]*boltQueued{}
		q.queues[it.Queue] = items
	}
	items[it.ID] = &boltQueued{due: it.Due, enqueued: it.Enqueued}
}

// leased returns the index entry of it if it still holds its lease.
func (q *boltQueue) leased(it *Item) *boltQueued {
	e := q.queues[it.Queue][it.ID]
	if e == nil || e.lease == "" || e.lease != it.Lease {
		return nil
	}
	return e
}

// Enqueue implements Queue.
func (b *Bolt) Enqueue(_ context.Context, items []*Item, marks []Mark) error {
	values := make([][]byte, len(items))
	for i, it := range items {
		v, err := json.Marshal(it)
		if err != nil {
			return fmt.Errorf("encoding item %s: %v", it.ID, err)
		}
		values[i] = v
	}
	now := b.now()
	err := b.write(func(tx *bolt.Tx) error {
		q := tx.Bucket(boltQueueBucket)
		for i, it := range items {
			if err := q.Put([]byte(it.ID), values[i]); err != nil {
				return err
			}
		}
		d := tx.Bucket(boltBucket)
		for _, m := range marks {
			if err := d.Put([]byte(m.Key), encodeRecord(recDelivered, now.Add(m.Window), "")); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	b.mu.Lock()
	for _, it := range items {
		b.queue.add(it)
	}
	b.mu.Unlock()
	for _, m := range marks {
		b.forget(m.Key, m.Token)
	}
	return nil
}

// Take implements Queue.
func (b *Bolt) Take(_ context.Context, queue string, max int, lease time.Duration) ([]*Item, error) {
	if max <= 0 {
		return nil, nil
	}
	now := b.now()
	type candidate struct {
		id string
		e  *boltQueued
	}
	b.mu.Lock()
	var due []candidate
	for id, e := range b.queue.queues[queue] {
		if !e.due.After(now) && (e.lease == "" || !now.Before(e.leaseEnds)) {
			due = append(due, candidate{id, e})
		}
	}
	slices.SortFunc(due, func(a, c candidate) int {
		return cmp.Or(a.e.due.Compare(c.e.due), cmp.Compare(a.id, c.id))
	})
	if len(due) > max {
		due = due[:max]
	}
	tokens := make([]string, len(due))
	for i, c := range due {
		tokens[i] = newToken()
		c.e.lease, c.e.leaseEnds = tokens[i], now.Add(lease)
	}
	b.mu.Unlock()
	if len(due) == 0 {
		return nil, nil
	}

	items := make([]*Item, 0, len(due))
	err := b.db.View(func(tx *bolt.Tx) error {
		bucket := tx.Bucket(boltQueueBucket)
		for i, c := range due {
			v := bucket.Get([]byte(c.id))
			if v == nil {
				continue // delivered or buried since the index was read
			}
			it := new(Item)
			if err := json.Unmarshal(v, it); err != nil {
				return fmt.Errorf("item %s: %v", c.id, err)
			}
			it.Lease = tokens[i]
			items = append(items, it)
		}
		return nil
	})
	if err != nil {
		b.mu.Lock()
		for i, c := range due {
			if c.e.lease == tokens[i] {
				c.e.lease = ""
			}
		}
		b.mu.Unlock()
		return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	return items, nil
}

// Delivered implements Queue.
func (b *Bolt) Delivered(_ context.Context, it *Item) error {
	if err := b.write(func(tx *bolt.Tx) error { return tx.Bucket(boltQueueBucket).Delete([]byte(it.ID)) }); err != nil {
		return err
	}
	b.mu.Lock()
	b.queue.remove(it)
	b.mu.Unlock()
	return nil
}

func (q *boltQueue) remove(it *Item) {
	if items := q.queues[it.Queue]; items != nil {
		delete(items, it.ID)
		if len(items) == 0 {
			delete(q.queues, it.Queue)
		}
	}
}

// Retry implements Queue.
func (b *Bolt) Retry(_ context.Context, it *Item) error {
	v, err := json.Marshal(it)
	if err != nil {
		return fmt.Errorf("encoding item %s: %v", it.ID, err)
	}
	var held bool
	err = b.write(func(tx *bolt.Tx) error {
		b.mu.Lock()
		held = b.queue.leased(it) != nil
		b.mu.Unlock()
		if !held {
			return nil
		}
		return tx.Bucket(boltQueueBucket).Put([]byte(it.ID), v)
	})
	if err != nil || !held {
		return err
	}
	b.mu.Lock()
	if e := b.queue.leased(it); e != nil {
		e.due, e.lease = it.Due, ""
	}
	b.mu.Unlock()
	return nil
}

// Bury implements Queue.
func (b *Bolt) Bury(_ context.Context, it *Item) error {
	v, err := json.Marshal(it)
	if err != nil {
		return fmt.Errorf("encoding item %s: %v", it.ID, err)
	}
	var held bool
	err = b.write(func(tx *bolt.Tx) error {
		b.mu.Lock()
		held = b.queue.leased(it) != nil
		b.mu.Unlock()
		if !held {
			return nil
		}
		if err := tx.Bucket(boltQueueBucket).Delete([]byte(it.ID)); err != nil {
			return err
		}
		return tx.Bucket(boltDeadBucket).Put([]byte(it.ID), v)
	})
	if err != nil || !held {
		return err
	}
	b.mu.Lock()
	b.queue.remove(it)
	b.queue.dead[it.Queue]++
	b.mu.Unlock()
	return nil
}

// Stats implements Queue.
func (b *Bolt) Stats(_ context.Context, queue string) (QueueStats, error) {
	now := b.now()
	b.mu.Lock()
	defer b.mu.Unlock()
	s := QueueStats{Dead: b.queue.dead[queue]}
	for _, e := range b.queue.queues[queue] {
		s.Depth++
		if e.lease != "" && now.Before(e.leaseEnds) {
			s.InFlight++
		}
		if s.Oldest.IsZero() || e.enqueued.Before(s.Oldest) {
			s.Oldest = e.enqueued
		}
	}
	return s, nil
}

// Dead implements Queue.
func (b *Bolt) Dead(context.Context) ([]*Item, error) {
	var dead []*Item
	err := b.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(boltDeadBucket).ForEach(func(k, v []byte) error {
			it := new(Item)
			if err := json.Unmarshal(v, it); err != nil {
				return fmt.Errorf("dead letter %s: %v", k, err)
			}
			dead = append(dead, it)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	slices.SortStableFunc(dead, func(a, c *Item) int { return a.Died.Compare(c.Died) })
	return dead, nil
}

// Revive implements Queue.
func (b *Bolt) Revive(_ context.Context, id string, now time.Time) (*Item, error) {
	if !ValidItemID(id) {
		return nil, ErrNoItem
	}
	var it *Item
	err := b.write(func(tx *bolt.Tx) error {
		dead := tx.Bucket(boltDeadBucket)
		v := dead.Get([]byte(id))
		if v == nil {
			return nil
		}
		it = new(Item)
		if err := json.Unmarshal(v, it); err != nil {
			return fmt.Errorf("dead letter %s: %v", id, err)
		}
		revive(it, now)
		nv, err := json.Marshal(it)
		if err != nil {
			return err
		}
		if err := dead.Delete([]byte(id)); err != nil {
			return err
		}
		return tx.Bucket(boltQueueBucket).Put([]byte(id), nv)
	})
	if err != nil {
		return nil, err
	}
	if it == nil {
		return nil, ErrNoItem
	}
	b.mu.Lock()
	b.queue.add(it)
	b.queue.dead[it.Queue]--
	b.mu.Unlock()
	return it, nil
}

// revive makes a dead letter a queued item due at now, with a new retry period.
func revive(it *Item, now time.Time) {
	it.Due, it.Since, it.Attempts, it.Died = now, now, 0, time.Time{}
}

// DeleteDead implements Queue.
func (b *Bolt) DeleteDead(_ context.Context, id string) error {
	if !ValidItemID(id) {
		return ErrNoItem
	}
	var queue string
	found := false
	err := b.write(func(tx *bolt.Tx) error {
		dead := tx.Bucket(boltDeadBucket)
		v := dead.Get([]byte(id))
		if v == nil {
			return nil
		}
		var it Item
		if err := json.Unmarshal(v, &it); err != nil {
			return fmt.Errorf("dead letter %s: %v", id, err)
		}
		queue, found = it.Queue, true
		return dead.Delete([]byte(id))
	})
	if err != nil {
		return err
	}
	if !found {
		return ErrNoItem
	}
	b.mu.Lock()
	b.queue.dead[queue]--
	b.mu.Unlock()
	return nil
}
