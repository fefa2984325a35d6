package caddymodule

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPrintQueues: the tables of caddy paynotify queue, for a person: one
// line per queue and per dead letter, ages instead of seconds, "-" for an
// empty queue's age, "?" for a store that cannot be read.
func TestPrintQueues(t *testing.T) {
	now := time.Date(2026, 11, 30, 23, 19, 4, 0, time.UTC)
	queues := queueListing{Queues: []queueInfo{
		{Provider: "stripe", Queue: "stripe/default", To: "http://localhost:8000/webhooks/stripe", Dead: 1},
		{Provider: "stripe", Queue: "stripe/shop-2", To: "http://localhost:8001/stripe", Depth: 12, InFlight: 4, OldestSeconds: 3725.4},
		{Provider: "octo3", Queue: "octo3/default", To: "http://localhost:8000/octo3", Depth: 1, OldestSeconds: 0.25},
		{Provider: "paypal", Queue: "paypal/default", To: "http://localhost:8000/paypal", Error: "connection refused"},
	}}
	dead := deadListing{Dead: []deadInfo{{
		ID: "qd12f6e6503f4930a89c213c2", Queue: "stripe/default", EventID: "pn_584dec23f484d4a02a822bfd176f102f",
		Died: now.Add(-2*time.Hour - 5*time.Minute), Attempts: 55, LastError: "the app answered 500",
	}}}
	var out bytes.Buffer
	require.NoError(t, printQueues(&out, queues, dead, now))
	assert.Equal(t, `PROVIDER  QUEUE           DEPTH  IN FLIGHT  OLDEST  DEAD  TO
stripe    stripe/default  0      0          -       1     http://localhost:8000/webhooks/stripe
stripe    stripe/shop-2   12     4          1h2m5s  0     http://localhost:8001/stripe
octo3     octo3/default   1      0          250ms   0     http://localhost:8000/octo3
paypal    paypal/default  ?      ?          ?       ?     http://localhost:8000/paypal

DEAD LETTER                QUEUE           EVENT ID                             DIED                               ATTEMPTS  LAST ERROR
qd12f6e6503f4930a89c213c2  stripe/default  pn_584dec23f484d4a02a822bfd176f102f  2026-11-30T21:14:04Z (2h5m0s ago)  55        the app answered 500
`, out.String())

	out.Reset()
	require.NoError(t, printQueues(&out, queueListing{}, deadListing{}, now))
	assert.Equal(t, "No route of the running config delivers queued.\n\nNo dead letters.\n", out.String())
	out.Reset()
	require.NoError(t, printQueues(&out, queues, deadListing{Errors: []storeError{{"redis redis://:xxxxx@db:6379/0", "connection refused"}}}, now))
	assert.Contains(t, out.String(), "\nNo dead letters in the stores that could be read.\n")
}
