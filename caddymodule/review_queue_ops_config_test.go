package caddymodule

// Review of deliver queued (ops): settings that Deliver.check accepts must
// give the worker a lease longer than an attempt and waits that are
// positive. caddy.Duration takes any int64 of nanoseconds from JSON (and
// "2000000h" from a Caddyfile); check bounds none of them above.

import (
	"math"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/stretchr/testify/assert"
)

// A timeout over about 146 years passes check, and lease() (2*timeout + 5s,
// queue.go) overflows to a negative duration: the bolt index and the Redis
// Take script then treat the item as free again at once, so the worker
// takes the item it is delivering over and over, up to concurrency
// duplicate deliveries in flight. check should refuse the timeout, naming
// it, or the lease should saturate.
func TestReviewQueueOpsHugeTimeoutGivesALeaseLongerThanTheAttempt(t *testing.T) {
	d := Deliver{Mode: "queued", To: "http://127.0.0.1:8000/n", Timeout: caddy.Duration(2_000_000 * time.Hour)}
	if _, err := d.check(); err != nil {
		assert.ErrorContains(t, err, "timeout", "a refusal names the option")
		return
	}
	q := &queueRoute{settings: d}
	assert.Greater(t, q.lease(), time.Duration(d.Timeout), "the lease of an attempt with timeout %v", time.Duration(d.Timeout))
}

// A backoff_max over about 4.6e18 ns passes check; backoff() doubles the
// wait past math.MaxInt64 into a negative one, and rand.N panics on it in
// the worker's goroutine: the whole Caddy process dies. The item's Attempts
// are stored, so after the restart the same item crashes it again at its
// next failure.
func TestReviewQueueOpsHugeBackoffMaxNeverPanicsOrWaitsNegative(t *testing.T) {
	d := Deliver{Mode: "queued", To: "http://127.0.0.1:8000/n", BackoffMax: caddy.Duration(math.MaxInt64)}
	if _, err := d.check(); err != nil {
		assert.ErrorContains(t, err, "backoff", "a refusal names the option")
		return
	}
	q := &queueRoute{settings: d}
	for attempts := 1; attempts <= 100; attempts++ {
		var wait time.Duration
		if !assert.NotPanics(t, func() { wait = q.backoff(attempts) }, "the wait after failure %d", attempts) {
			return
		}
		assert.GreaterOrEqual(t, wait, time.Duration(d.Backoff)/2, "the wait after failure %d", attempts)
	}
}

// A to whose port is out of range (a typo: 80800) passes check; every
// attempt then fails before it leaves the machine ("invalid port") for
// retry_for (72 h by default), and every event becomes a dead letter. It is
// known at load: check should refuse it, naming to.
func TestReviewQueueOpsToWithAnImpossiblePortFailsAtLoad(t *testing.T) {
	for _, to := range []string{"http://127.0.0.1:80800/n", "http://localhost:0/n", "https://app.internal:65536/n"} {
		d := Deliver{Mode: "queued", To: to}
		_, err := d.check()
		if assert.Error(t, err, "to %s", to) {
			assert.Contains(t, err.Error(), "to:", "the refusal names the option")
		}
	}
}
