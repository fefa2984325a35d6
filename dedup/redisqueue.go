package dedup

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// The Redis outbox: every node takes from the same queues, in keys under
// "paynotify:queue:":
//
//	items                 hash: id → the item as JSON (its Lease is not stored)
//	due:<queue>           zset: id → Due, unix ms: the items waiting
//	leased:<queue>        zset: id → lease end, unix ms: the items taken
//	lease                 hash: id → the token of the item's lease
//	age:<queue>           zset: id → Enqueued, unix ms: for Stats' Oldest
//	dead                  hash: id → the dead letter as JSON
//	deadids:<queue>       set: the ids of the queue's dead letters, for Stats
//	queues                set: the names of the queues that ever had an item
//
// A queued item is in due or in leased, never in both. An item in leased
// whose lease has ended belongs to a node that died: Take takes it again.
// Take, Retry and Bury are Lua scripts, so that two nodes never take one
// item and a node whose lease was taken over changes nothing.
//
// "Now" is the clock of the node that calls, not Redis' own: the nodes'
// clocks must agree within much less than a lease (NTP does), or a node
// whose clock runs ahead takes leases over before they end.
const redisQueuePrefix = "paynotify:queue:"

// redisTakeMax bounds the items of one Take (one token each is sent along).
const redisTakeMax = 1000

var _ Queue = (*Redis)(nil)

// redisQueueKeys are the keys of one queue and those the queues share.
type redisQueueKeys struct {
	items, lease, dead, queues string // shared
	due, leased, age, deadIDs  string // of the queue
}

func redisQueueKeysOf(queue string) redisQueueKeys {
	p := redisQueuePrefix
	return redisQueueKeys{
		items: p + "items", lease: p + "lease", dead: p + "dead", queues: p + "queues",
		due: p + "due:" + queue, leased: p + "leased:" + queue, age: p + "age:" + queue, deadIDs: p + "deadids:" + queue,
	}
}

// redisMillis is t as a zset score.
func redisMillis(t time.Time) int64 { return t.UnixMilli() }

// redisTakeScript leases up to #ARGV-2 items whose Due has come or whose
// lease has ended, earliest first, each with its token from ARGV. An id
// whose item is gone is cleaned from the queue's keys and skipped.
//
// KEYS: items, due, leased, lease, age. ARGV: now, lease end, tokens...
var redisTakeScript = redis.NewScript(`
local now, ends = tonumber(ARGV[1]), ARGV[2]
local max = #ARGV - 2
local out = {}
local taken = 0
while taken < max do
	local want = max - taken
	local due = redis.call("ZRANGEBYSCORE", KEYS[2], "-inf", now, "WITHSCORES", "LIMIT", 0, want)
	local ended = redis.call("ZRANGEBYSCORE", KEYS[3], "-inf", now, "WITHSCORES", "LIMIT", 0, want)
	if #due == 0 and #ended == 0 then
		break
	end
	local i, j, picked = 1, 1, 0
	while picked < want and (i <= #due or j <= #ended) do
		local id
		if j > #ended or (i <= #due and tonumber(due[i + 1]) <= tonumber(ended[j + 1])) then
			id = due[i]
			i = i + 2
		else
			id = ended[j]
			j = j + 2
		end
		picked = picked + 1
		local item = redis.call("HGET", KEYS[1], id)
		redis.call("ZREM", KEYS[2], id)
		if item then
			taken = taken + 1
			local token = ARGV[2 + taken]
			redis.call("ZADD", KEYS[3], ends, id)
			redis.call("HSET", KEYS[4], id, token)
			out[#out + 1] = item
			out[#out + 1] = token
		else
			redis.call("ZREM", KEYS[3], id)
			redis.call("ZREM", KEYS[5], id)
			redis.call("HDEL", KEYS[4], id)
		end
	end
end
return out`)

// redisRetryScript stores the item and makes it due again, if its lease is
// still held with the token.
//
// KEYS: items, due, leased, lease. ARGV: id, token, item, due.
var redisRetryScript = redis.NewScript(`
if redis.call("HGET", KEYS[4], ARGV[1]) ~= ARGV[2] then
	return 0
end
redis.call("HSET", KEYS[1], ARGV[1], ARGV[3])
redis.call("ZREM", KEYS[3], ARGV[1])
redis.call("ZADD", KEYS[2], ARGV[4], ARGV[1])
redis.call("HDEL", KEYS[4], ARGV[1])
return 1`)

// redisBuryScript makes the item a dead letter, if its lease is still held
// with the token.
//
// KEYS: items, due, leased, lease, age, dead, deadids. ARGV: id, token, item.
var redisBuryScript = redis.NewScript(`
if redis.call("HGET", KEYS[4], ARGV[1]) ~= ARGV[2] then
	return 0
end
redis.call("HDEL", KEYS[1], ARGV[1])
redis.call("ZREM", KEYS[2], ARGV[1])
redis.call("ZREM", KEYS[3], ARGV[1])
redis.call("HDEL", KEYS[4], ARGV[1])
redis.call("ZREM", KEYS[5], ARGV[1])
redis.call("HSET", KEYS[6], ARGV[1], ARGV[3])
redis.call("SADD", KEYS[7], ARGV[1])
return 1`)

// redisStatsScript reads a queue's counts and its oldest item at one moment.
//
// KEYS: due, leased, age, items, deadids. ARGV: now.
// Returns: waiting, leased, leased with an unended lease, dead, the oldest
// item's Enqueued in ms (or nil), the oldest item (or nil).
var redisStatsScript = redis.NewScript(`
local oldest = redis.call("ZRANGE", KEYS[3], 0, 0, "WITHSCORES")
local score, item = false, false
if #oldest > 0 then
	score = oldest[2]
	item = redis.call("HGET", KEYS[4], oldest[1])
end
return {
	redis.call("ZCARD", KEYS[1]),
	redis.call("ZCARD", KEYS[2]),
	redis.call("ZCOUNT", KEYS[2], "(" .. ARGV[1], "+inf"),
	redis.call("SCARD", KEYS[5]),
	score,
	item,
}`)

// Enqueue implements Queue: one MULTI/EXEC writes the items and the
// delivered marks (as Deliver writes them). Redis applies it whole, with
// no other client's command in between (none of its commands can fail on
// keys of the right types), and with appendonly writes it to the AOF as
// one; how durably is appendfsync's choice.
func (r *Redis) Enqueue(ctx context.Context, items []*Item, marks []Mark) error {
	if len(items) == 0 && len(marks) == 0 {
		return nil
	}
	values := make([]string, len(items))
	for i, it := range items {
		if !ValidItemID(it.ID) {
			return fmt.Errorf("queue item id %q is not one NewItemID gives", it.ID)
		}
		if it.Queue == "" {
			return fmt.Errorf("queue item %s has no queue", it.ID)
		}
		v, err := json.Marshal(it)
		if err != nil {
			return fmt.Errorf("encoding item %s: %v", it.ID, err)
		}
		values[i] = string(v)
	}
	_, err := r.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		for i, it := range items {
			k := redisQueueKeysOf(it.Queue)
			p.HSet(ctx, k.items, it.ID, values[i])
			p.ZAdd(ctx, k.due, redis.Z{Score: float64(redisMillis(it.Due)), Member: it.ID})
			p.ZAdd(ctx, k.age, redis.Z{Score: float64(redisMillis(it.Enqueued)), Member: it.ID})
			p.SAdd(ctx, k.queues, it.Queue)
		}
		for _, m := range marks {
			p.Set(ctx, r.prefix+m.Key, redisDelivered, m.Window)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	return nil
}

// Take implements Queue. Of the items that are due and those whose lease
// ended, the earliest come first (an item taken over counts from the end of
// its lease). It takes at most 1000 items per call.
func (r *Redis) Take(ctx context.Context, queue string, max int, lease time.Duration) ([]*Item, error) {
	if max <= 0 {
		return nil, nil
	}
	n := min(max, redisTakeMax)
	now := time.Now().UnixMilli()
	ends := now + lease.Milliseconds()
	if ends <= now {
		ends = now + 1 // a lease that ends at once would be taken again in the same script
	}
	args := make([]any, 0, 2+n)
	args = append(args, now, ends)
	for range n {
		args = append(args, newToken())
	}
	k := redisQueueKeysOf(queue)
	reply, err := redisTakeScript.Run(ctx, r.client, []string{k.items, k.due, k.leased, k.lease, k.age}, args...).StringSlice()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	items := make([]*Item, 0, len(reply)/2)
	for i := 0; i+1 < len(reply); i += 2 {
		it := new(Item)
		if err := json.Unmarshal([]byte(reply[i]), it); err != nil {
			// Written by something else (another version, a hand edit):
			// skipped, so that it does not hold up the items taken with it.
			// It stays in the queue, counted in its depth, and is taken
			// (and skipped) again when its lease ends.
			continue
		}
		it.Lease = reply[i+1]
		items = append(items, it)
	}
	return items, nil
}

// Delivered implements Queue.
func (r *Redis) Delivered(ctx context.Context, it *Item) error {
	k := redisQueueKeysOf(it.Queue)
	_, err := r.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HDel(ctx, k.items, it.ID)
		p.ZRem(ctx, k.due, it.ID)
		p.ZRem(ctx, k.leased, it.ID)
		p.ZRem(ctx, k.age, it.ID)
		p.HDel(ctx, k.lease, it.ID)
		return nil
	})
	if err != nil {
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	return nil
}

// Retry implements Queue. The item is stored as given: the one Take gave,
// with its Due, Attempts and LastError changed.
func (r *Redis) Retry(ctx context.Context, it *Item) error {
	v, err := json.Marshal(it)
	if err != nil {
		return fmt.Errorf("encoding item %s: %v", it.ID, err)
	}
	k := redisQueueKeysOf(it.Queue)
	err = redisRetryScript.Run(ctx, r.client, []string{k.items, k.due, k.leased, k.lease},
		it.ID, it.Lease, string(v), redisMillis(it.Due)).Err()
	if err != nil {
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	return nil
}

// Bury implements Queue.
func (r *Redis) Bury(ctx context.Context, it *Item) error {
	v, err := json.Marshal(it)
	if err != nil {
		return fmt.Errorf("encoding item %s: %v", it.ID, err)
	}
	k := redisQueueKeysOf(it.Queue)
	err = redisBuryScript.Run(ctx, r.client, []string{k.items, k.due, k.leased, k.lease, k.age, k.dead, k.deadIDs},
		it.ID, it.Lease, string(v)).Err()
	if err != nil {
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	return nil
}

// Stats implements Queue.
func (r *Redis) Stats(ctx context.Context, queue string) (QueueStats, error) {
	k := redisQueueKeysOf(queue)
	reply, err := redisStatsScript.Run(ctx, r.client, []string{k.due, k.leased, k.age, k.items, k.deadIDs},
		time.Now().UnixMilli()).Slice()
	if err != nil {
		return QueueStats{}, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	if len(reply) < 4 {
		return QueueStats{}, fmt.Errorf("%w: unexpected reply to the stats of queue %s", ErrUnavailable, queue)
	}
	count := func(v any) int { n, _ := v.(int64); return int(n) }
	s := QueueStats{
		Depth:    count(reply[0]) + count(reply[1]),
		InFlight: count(reply[2]),
		Dead:     count(reply[3]),
	}
	if len(reply) > 5 {
		if item, ok := reply[5].(string); ok {
			var it Item
			if json.Unmarshal([]byte(item), &it) == nil {
				s.Oldest = it.Enqueued
			}
		}
	}
	if s.Oldest.IsZero() && len(reply) > 4 {
		// The item is gone (its Enqueued in ms is all there is).
		if score, ok := reply[4].(string); ok {
			if ms, err := strconv.ParseFloat(score, 64); err == nil {
				s.Oldest = time.UnixMilli(int64(ms))
			}
		}
	}
	return s, nil
}

// Dead implements Queue.
func (r *Redis) Dead(ctx context.Context) ([]*Item, error) {
	all, err := r.client.HGetAll(ctx, redisQueueKeysOf("").dead).Result()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	dead := make([]*Item, 0, len(all))
	for id, v := range all {
		it := new(Item)
		if err := json.Unmarshal([]byte(v), it); err != nil {
			return nil, fmt.Errorf("dead letter %.40q in Redis is not an item: %v", id, err)
		}
		dead = append(dead, it)
	}
	slices.SortFunc(dead, func(a, b *Item) int { return cmp.Or(a.Died.Compare(b.Died), cmp.Compare(a.ID, b.ID)) })
	return dead, nil
}

// Revive implements Queue. The dead letter keeps its LastError (until the
// next attempt replaces it). It is moved under WATCH of the dead letters,
// so that a DeleteDead or another Revive of it at the same moment is not
// undone.
func (r *Redis) Revive(ctx context.Context, id string, now time.Time) (*Item, error) {
	if !ValidItemID(id) {
		return nil, ErrNoItem
	}
	deadKey := redisQueueKeysOf("").dead
	var it *Item
	var corrupt error
	move := func(tx *redis.Tx) error {
		v, err := tx.HGet(ctx, deadKey, id).Result()
		if errors.Is(err, redis.Nil) {
			return ErrNoItem
		}
		if err != nil {
			return err
		}
		it = new(Item)
		if err := json.Unmarshal([]byte(v), it); err != nil {
			corrupt = fmt.Errorf("dead letter %s in Redis is not an item: %v", id, err)
			return corrupt
		}
		it.Due, it.Since, it.Attempts, it.Died = now, now, 0, time.Time{}
		nv, err := json.Marshal(it)
		if err != nil {
			corrupt = fmt.Errorf("encoding item %s: %v", id, err)
			return corrupt
		}
		k := redisQueueKeysOf(it.Queue)
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.HDel(ctx, k.dead, id)
			p.SRem(ctx, k.deadIDs, id)
			p.HSet(ctx, k.items, id, nv)
			p.ZAdd(ctx, k.due, redis.Z{Score: float64(redisMillis(it.Due)), Member: id})
			p.ZAdd(ctx, k.age, redis.Z{Score: float64(redisMillis(it.Enqueued)), Member: id})
			p.SAdd(ctx, k.queues, it.Queue)
			return nil
		})
		return err
	}
	for range 10 {
		err := r.client.Watch(ctx, move, deadKey)
		switch {
		case err == nil:
			return it, nil
		case errors.Is(err, redis.TxFailedErr):
			continue // another dead letter changed meanwhile
		case errors.Is(err, ErrNoItem):
			return nil, ErrNoItem
		case corrupt != nil:
			return nil, corrupt
		default:
			return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
		}
	}
	return nil, fmt.Errorf("%w: the dead letters kept changing while %s was revived", ErrUnavailable, id)
}

// DeleteDead implements Queue.
func (r *Redis) DeleteDead(ctx context.Context, id string) error {
	if !ValidItemID(id) {
		return ErrNoItem
	}
	deadKey := redisQueueKeysOf("").dead
	v, err := r.client.HGet(ctx, deadKey, id).Result()
	if errors.Is(err, redis.Nil) {
		return ErrNoItem
	}
	if err != nil {
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	// The queue names the set of its dead letter ids; a dead letter that
	// is not JSON is deleted all the same.
	var it Item
	_ = json.Unmarshal([]byte(v), &it)
	k := redisQueueKeysOf(it.Queue)
	var deleted *redis.IntCmd
	_, err = r.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		deleted = p.HDel(ctx, k.dead, id)
		p.SRem(ctx, k.deadIDs, id)
		return nil
	})
	if err != nil {
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	if deleted.Val() == 0 {
		return ErrNoItem // deleted or revived meanwhile
	}
	return nil
}

// Queues implements Queue.
func (r *Redis) Queues(ctx context.Context) (map[string]int, error) {
	names, err := r.client.SMembers(ctx, redisQueueKeysOf("").queues).Result()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	depths := map[string]int{}
	for _, name := range names {
		k := redisQueueKeysOf(name)
		due, err := r.client.ZCard(ctx, k.due).Result()
		if err == nil {
			var leased int64
			leased, err = r.client.ZCard(ctx, k.leased).Result()
			due += leased
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
		}
		if due > 0 {
			depths[name] = int(due)
		}
	}
	return depths, nil
}
