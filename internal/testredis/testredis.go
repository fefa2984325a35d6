// Package testredis starts a real redis-server for tests.
package testredis

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// URL returns the URL of a Redis for the test: PAYNOTIFY_TEST_REDIS when
// set (test.sh starts one), else a redis-server started on a free loopback
// port for this test and stopped after it. Without redis-server the test is
// skipped, except in CI (CI set), where that is a failure: CI must not skip.
func URL(t testing.TB) string {
	t.Helper()
	if url := os.Getenv("PAYNOTIFY_TEST_REDIS"); url != "" {
		flush(t, url)
		return url
	}
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("redis-server is not installed (apt-get install redis-server)")
		}
		t.Skip("redis-server is not installed; test.sh and CI run this test")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command(bin, "--port", fmt.Sprint(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", t.TempDir())
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	url := fmt.Sprintf("redis://127.0.0.1:%d/0", port)
	client := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", port)})
	defer client.Close()
	for i := 0; ; i++ {
		if client.Ping(context.Background()).Err() == nil {
			return url
		}
		if i == 100 {
			t.Fatal("redis-server did not answer within 5 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func flush(t testing.TB, url string) {
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	client := redis.NewClient(opts)
	defer client.Close()
	if err := client.FlushDB(context.Background()).Err(); err != nil {
		t.Fatalf("PAYNOTIFY_TEST_REDIS=%s: %v", url, err)
	}
}
