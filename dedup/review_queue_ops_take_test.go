package dedup

// Review of deliver queued (ops): the bolt outbox after an outage. Every
// Take scans and sorts the whole queue's index under b.mu, the mutex that
// every Claim (each incoming notification) also takes, and the worker
// calls Take(1) after each delivery ends. With a backlog of n items the
// drain runs at one O(n log n) sort per delivery, and the hot path waits on
// it. The figure is printed, not asserted:
//
//	go test ./dedup/ -run '^$' -bench ReviewQueueOpsTake -benchtime 20x

import (
	"context"
	"net/http"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

func BenchmarkReviewQueueOpsTakeFromABacklog(b *testing.B) {
	for _, n := range []int{1000, 100000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			store, err := OpenBolt(filepath.Join(b.TempDir(), "q.db"), time.Hour, time.Second)
			if err != nil {
				b.Fatal(err)
			}
			defer store.Close()
			ctx := context.Background()
			now := time.Now()
			batch := make([]*Item, 0, 1000)
			for i := range n {
				batch = append(batch, &Item{ID: NewItemID(), Queue: "stripe/default", Provider: "stripe", EventID: "evt_" + strconv.Itoa(i),
					Method: http.MethodPost, Header: http.Header{"Content-Type": {"application/json"}}, Body: make([]byte, 800),
					Enqueued: now, Since: now, Due: now})
				if len(batch) == cap(batch) || i == n-1 {
					if err := store.Enqueue(ctx, batch, nil); err != nil {
						b.Fatal(err)
					}
					batch = batch[:0]
				}
			}
			b.ResetTimer()
			for range b.N {
				// What the worker does when one of its deliveries ends.
				items, err := store.Take(ctx, "stripe/default", 1, time.Hour)
				if err != nil || len(items) != 1 {
					b.Fatalf("Take: %d items, %v", len(items), err)
				}
			}
		})
	}
}
