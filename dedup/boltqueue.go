package dedup

import (
	"cmp"
	"container/heap"
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
	queues map[string]*boltQueueIndex // by queue name
	dead   map[string]int             // queue → dead letters
}

// boltQueueIndex is one queue's items: those not leased in a heap by due
// time, so that Take costs O(log n) per item taken however long the queue
// (an app down for hours leaves a long one), and those leased apart.
type boltQueueIndex struct {
	items  map[string]*boltQueued // every item, by id
	due    dueHeap                // the items not leased
	leased map[string]*boltQueued // the items leased to a delivery
}

// boltQueued is what the index knows of a queued item.
type boltQueued struct {
	id            string
	due, enqueued time.Time
	lease         string // token; "" when not leased
	leaseEnds     time.Time
	index         int // in the heap; -1 when not in it
}

// dueHeap orders items by due time, then id (container/heap).
type dueHeap []*boltQueued

func (h dueHeap) Len() int { return len(h) }
func (h dueHeap) Less(i, j int) bool {
	return cmp.Or(h[i].due.Compare(h[j].due), cmp.Compare(h[i].id, h[j].id)) < 0
}
func (h dueHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *dueHeap) Push(x any) {
	e := x.(*boltQueued)
	e.index = len(*h)
	*h = append(*h, e)
}
func (h *dueHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	e.index = -1
	return e
}

var _ Queue = (*Bolt)(nil)

// loadQueue builds the index from the file.
func (b *Bolt) loadQueue() error {
	b.queue = boltQueue{queues: map[string]*boltQueueIndex{}, dead: map[string]int{}}
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
	x := q.queues[it.Queue]
	if x == nil {
		x = &boltQueueIndex{items: map[string]*boltQueued{}, leased: map[string]*boltQueued{}}
		q.queues[it.Queue] = x
	}
	if old := x.items[it.ID]; old != nil {
		x.drop(old)
	}
	e := &boltQueued{id: it.ID, due: it.Due, enqueued: it.Enqueued, index: -1}
	x.items[it.ID] = e
	heap.Push(&x.due, e)
}

// drop takes e out of the heap or the leased set.
func (x *boltQueueIndex) drop(e *boltQueued) {
	if e.index >= 0 {
		heap.Remove(&x.due, e.index)
	}
	delete(x.leased, e.id)
}

// leased returns the index entry of it if it still holds its lease.
func (q *boltQueue) leased(it *Item) *boltQueued {
	x := q.queues[it.Queue]
	if x == nil {
		return nil
	}
	e := x.leased[it.ID]
	if e == nil || e.lease == "" || e.lease != it.Lease {
		return nil
	}
	return e
}

// requeue ends e's lease and makes it due at due.
func (x *boltQueueIndex) requeue(e *boltQueued, due time.Time) {
	delete(x.leased, e.id)
	e.lease, e.due = "", due
	if e.index < 0 {
		heap.Push(&x.due, e)
	}
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
	}, func() {
		b.mu.Lock()
		for _, it := range items {
			b.queue.add(it)
		}
		b.mu.Unlock()
	})
	if err != nil {
		return err
	}
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
	x := b.queue.queues[queue]
	if x == nil {
		b.mu.Unlock()
		return nil, nil
	}
	// A lease that ended (its delivery never reported, e.g. the store was
	// closed under it) makes the item due again.
	for _, e := range x.leased {
		if !now.Before(e.leaseEnds) {
			x.requeue(e, e.due)
		}
	}
	var due []candidate
	for len(due) < max && x.due.Len() > 0 && !x.due[0].due.After(now) {
		e := heap.Pop(&x.due).(*boltQueued)
		due = append(due, candidate{e.id, e})
	}
	tokens := make([]string, len(due))
	for i, c := range due {
		tokens[i] = newToken()
		c.e.lease, c.e.leaseEnds = tokens[i], now.Add(lease)
		x.leased[c.id] = c.e
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
				x.requeue(c.e, c.e.due)
			}
		}
		b.mu.Unlock()
		return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	return items, nil
}

// Delivered implements Queue.
func (b *Bolt) Delivered(_ context.Context, it *Item) error {
	return b.write(func(tx *bolt.Tx) error { return tx.Bucket(boltQueueBucket).Delete([]byte(it.ID)) }, func() {
		b.mu.Lock()
		b.queue.remove(it)
		b.mu.Unlock()
	})
}

func (q *boltQueue) remove(it *Item) {
	x := q.queues[it.Queue]
	if x == nil {
		return
	}
	if e := x.items[it.ID]; e != nil {
		x.drop(e)
		delete(x.items, it.ID)
	}
	if len(x.items) == 0 {
		delete(q.queues, it.Queue)
	}
}

// Retry implements Queue.
func (b *Bolt) Retry(_ context.Context, it *Item) error {
	return b.writeLeased(it, func(tx *bolt.Tx, v []byte) error {
		return tx.Bucket(boltQueueBucket).Put([]byte(it.ID), v)
	}, func(x *boltQueueIndex, e *boltQueued) {
		x.requeue(e, it.Due)
	})
}

// Bury implements Queue.
func (b *Bolt) Bury(_ context.Context, it *Item) error {
	return b.writeLeased(it, func(tx *bolt.Tx, v []byte) error {
		if err := tx.Bucket(boltQueueBucket).Delete([]byte(it.ID)); err != nil {
			return err
		}
		return tx.Bucket(boltDeadBucket).Put([]byte(it.ID), v)
	}, func(*boltQueueIndex, *boltQueued) {
		b.queue.remove(it)
		b.queue.dead[it.Queue]++
	})
}

// writeLeased writes it (as JSON, v) with apply and then updates the index
// with after (under b.mu), both only while it still holds its lease: a
// delivery whose item was taken over changes nothing.
func (b *Bolt) writeLeased(it *Item, apply func(tx *bolt.Tx, v []byte) error, after func(*boltQueueIndex, *boltQueued)) error {
	v, err := json.Marshal(it)
	if err != nil {
		return fmt.Errorf("encoding item %s: %v", it.ID, err)
	}
	var held bool
	return b.write(func(tx *bolt.Tx) error {
		b.mu.Lock()
		held = b.queue.leased(it) != nil
		b.mu.Unlock()
		if !held {
			return nil
		}
		return apply(tx, v)
	}, func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		if e := b.queue.leased(it); held && e != nil {
			after(b.queue.queues[it.Queue], e)
		}
	})
}

// Stats implements Queue.
func (b *Bolt) Stats(_ context.Context, queue string) (QueueStats, error) {
	now := b.now()
	b.mu.Lock()
	defer b.mu.Unlock()
	s := QueueStats{Dead: b.queue.dead[queue]}
	x := b.queue.queues[queue]
	if x == nil {
		return s, nil
	}
	s.Depth = len(x.items)
	for _, e := range x.leased {
		if now.Before(e.leaseEnds) {
			s.InFlight++
		}
	}
	for _, e := range x.items {
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
	}, func() {
		if it == nil {
			return
		}
		b.mu.Lock()
		b.queue.add(it)
		b.queue.dead[it.Queue]--
		b.mu.Unlock()
	})
	if err != nil {
		return nil, err
	}
	if it == nil {
		return nil, ErrNoItem
	}
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
	}, func() {
		if found {
			b.mu.Lock()
			b.queue.dead[queue]--
			b.mu.Unlock()
		}
	})
	if err != nil {
		return err
	}
	if !found {
		return ErrNoItem
	}
	return nil
}

// Queues implements Queue.
func (b *Bolt) Queues(context.Context) (map[string]int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	depths := make(map[string]int, len(b.queue.queues))
	for name, x := range b.queue.queues {
		if len(x.items) > 0 {
			depths[name] = len(x.items)
		}
	}
	return depths, nil
}
