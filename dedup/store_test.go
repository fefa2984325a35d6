package dedup

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/paynotify/paynotify/internal/testredis"
)

// stores opens each store, fresh, for one test.
var stores = map[string]func(t *testing.T) Store{
	"bolt": func(t *testing.T) Store {
		b, err := OpenBolt(filepath.Join(t.TempDir(), "dedup.db"), time.Minute, time.Second)
		require.NoError(t, err)
		t.Cleanup(func() { b.Close() })
		return b
	},
	"redis": func(t *testing.T) Store {
		r, err := OpenRedis(testredis.URL(t))
		require.NoError(t, err)
		require.NoError(t, r.Ping(context.Background()))
		t.Cleanup(func() { r.Close() })
		return r
	},
}

// TestStoreContract: both stores behave alike; the HTTP flow relies on it.
func TestStoreContract(t *testing.T) {
	for name, open := range stores {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			const lease, window = 10 * time.Second, time.Hour

			t.Run("a claim is taken once", func(t *testing.T) {
				s := open(t)
				state, token, err := s.Claim(ctx, "octo3/e1", lease)
				require.NoError(t, err)
				assert.Equal(t, Claimed, state)
				assert.NotEmpty(t, token)
				state, token2, err := s.Claim(ctx, "octo3/e1", lease)
				require.NoError(t, err)
				assert.Equal(t, InFlight, state)
				assert.Empty(t, token2)
				state, _, _ = s.Claim(ctx, "octo3/e2", lease)
				assert.Equal(t, Claimed, state, "another key is another event")
			})

			t.Run("delivered stays delivered for the window", func(t *testing.T) {
				s := open(t)
				_, token, _ := s.Claim(ctx, "k", lease)
				require.NoError(t, s.Deliver(ctx, "k", token, window))
				for range 3 {
					state, _, err := s.Claim(ctx, "k", lease)
					require.NoError(t, err)
					assert.Equal(t, Delivered, state)
				}
			})

			t.Run("a release lets the retry through", func(t *testing.T) {
				s := open(t)
				_, token, _ := s.Claim(ctx, "k", lease)
				require.NoError(t, s.Release(ctx, "k", token))
				state, token2, _ := s.Claim(ctx, "k", lease)
				assert.Equal(t, Claimed, state)
				assert.NotEqual(t, token, token2)
			})

			t.Run("only the holder releases", func(t *testing.T) {
				s := open(t)
				s.Claim(ctx, "k", lease)
				require.NoError(t, s.Release(ctx, "k", "not-the-token"))
				state, _, _ := s.Claim(ctx, "k", lease)
				assert.Equal(t, InFlight, state)
			})

			t.Run("an expired lease frees the event, and its stale release does not free the new claim", func(t *testing.T) {
				s := open(t)
				_, first, _ := s.Claim(ctx, "k", 150*time.Millisecond)
				time.Sleep(300 * time.Millisecond) // the node holding it died
				state, _, _ := s.Claim(ctx, "k", lease)
				require.Equal(t, Claimed, state)
				require.NoError(t, s.Release(ctx, "k", first)) // the first node comes back late
				state, _, _ = s.Claim(ctx, "k", lease)
				assert.Equal(t, InFlight, state)
			})

			t.Run("the window expires", func(t *testing.T) {
				s := open(t)
				_, token, _ := s.Claim(ctx, "k", lease)
				require.NoError(t, s.Deliver(ctx, "k", token, 150*time.Millisecond))
				time.Sleep(300 * time.Millisecond)
				state, _, _ := s.Claim(ctx, "k", lease)
				assert.Equal(t, Claimed, state)
			})

			t.Run("concurrent claims: exactly one wins", func(t *testing.T) {
				s := open(t)
				const n = 32
				var wg sync.WaitGroup
				results := make(chan State, n)
				for range n {
					wg.Add(1)
					go func() {
						defer wg.Done()
						state, _, err := s.Claim(ctx, "same", lease)
						assert.NoError(t, err)
						results <- state
					}()
				}
				wg.Wait()
				close(results)
				counts := map[State]int{}
				for st := range results {
					counts[st]++
				}
				assert.Equal(t, map[State]int{Claimed: 1, InFlight: n - 1}, counts)
			})
		})
	}
}

func TestBoltSurvivesARestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dedup.db")
	b, err := OpenBolt(path, 0, time.Second)
	require.NoError(t, err)
	_, token, _ := b.Claim(context.Background(), "k", time.Minute)
	require.NoError(t, b.Deliver(context.Background(), "k", token, time.Hour))
	require.NoError(t, b.Close())

	b, err = OpenBolt(path, 0, time.Second)
	require.NoError(t, err)
	defer b.Close()
	state, _, err := b.Claim(context.Background(), "k", time.Minute)
	require.NoError(t, err)
	assert.Equal(t, Delivered, state)
}

func TestBoltLocksItsFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dedup.db")
	b, err := OpenBolt(path, 0, time.Second)
	require.NoError(t, err)
	defer b.Close()
	_, err = OpenBolt(path, 0, 100*time.Millisecond)
	require.ErrorIs(t, err, ErrUnavailable, "a second open of the same file must wait, then fail")
}

func TestBoltSweepsExpiredRecords(t *testing.T) {
	b, err := OpenBolt(filepath.Join(t.TempDir(), "dedup.db"), 0, time.Second)
	require.NoError(t, err)
	defer b.Close()
	now := time.Now()
	b.now = func() time.Time { return now }
	ctx := context.Background()
	for i := range 10 {
		_, token, _ := b.Claim(ctx, fmt.Sprint("old", i), time.Minute)
		require.NoError(t, b.Deliver(ctx, fmt.Sprint("old", i), token, time.Hour))
	}
	b.Claim(ctx, "fresh", 3*time.Hour)
	now = now.Add(2 * time.Hour)
	deleted, err := b.Sweep()
	require.NoError(t, err)
	assert.Equal(t, 10, deleted)
	state, _, _ := b.Claim(ctx, "fresh", time.Minute)
	assert.Equal(t, InFlight, state, "an unexpired record survives the sweep")
}

func TestStoreUnavailable(t *testing.T) {
	r, err := OpenRedis("redis://127.0.0.1:9/0") // nothing listens on the discard port
	require.NoError(t, err, "a Redis that is down does not stop the config from loading")
	require.ErrorIs(t, r.Ping(context.Background()), ErrUnavailable)
	_, _, err = r.Claim(context.Background(), "k", time.Minute)
	require.ErrorIs(t, err, ErrUnavailable)
	r.Close()

	for _, url := range []string{"redis://user:hunter2@127.0.0.1:bad/0", "redis://:hun%40ter2@127.0.0.1:bad/0", "redis://:hunter2@[::1/0"} {
		_, err = OpenRedis(url)
		require.Error(t, err)
		assert.NotContains(t, err.Error(), "hunter2", "a Redis password in an error message")
		assert.NotContains(t, err.Error(), "hun%40ter2")
		assert.NotContains(t, err.Error(), "hun@ter2")
	}

	b, err := OpenBolt(filepath.Join(t.TempDir(), "dedup.db"), 0, time.Second)
	require.NoError(t, err)
	require.NoError(t, b.Close())
	_, _, err = b.Claim(context.Background(), "k", time.Minute)
	require.ErrorIs(t, err, ErrUnavailable)
}

// BenchmarkStores measures one notification's store cost: a claim and a
// delivered marker, fsync included for bolt, from parallel goroutines as
// concurrent notifications would.
func BenchmarkStores(b *testing.B) {
	for _, name := range []string{"bolt", "redis"} {
		b.Run(name, func(b *testing.B) {
			var s Store
			switch name {
			case "bolt":
				bs, err := OpenBolt(filepath.Join(b.TempDir(), "dedup.db"), 0, time.Second)
				require.NoError(b, err)
				s = bs
			case "redis":
				rs, err := OpenRedis(testredis.URL(b))
				require.NoError(b, err)
				s = rs
			}
			defer s.Close()
			var n sync.Mutex
			i := 0
			b.SetParallelism(16) // 32 concurrent notifications on 2 cores
			b.RunParallel(func(pb *testing.PB) {
				ctx := context.Background()
				for pb.Next() {
					n.Lock()
					i++
					key := fmt.Sprint("bench/", i)
					n.Unlock()
					_, token, err := s.Claim(ctx, key, time.Minute)
					if err != nil {
						b.Fatal(err)
					}
					if err := s.Deliver(ctx, key, token, time.Hour); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}
