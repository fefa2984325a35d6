package verifiers

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the expected events in testdata/")

// The client address and clock every golden request is verified with.
var (
	goldenClientIP   = netip.MustParseAddr("203.0.113.10")
	goldenReceivedAt = time.Date(2024, 5, 1, 10, 20, 31, 0, time.UTC)
)

// goldenRequest reads testdata/<name>.http, a raw HTTP request.
func goldenRequest(t testing.TB, name string) *Request {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "testdata", name+".http"))
	require.NoError(t, err)
	return parseRawRequest(t, raw)
}

func parseRawRequest(t testing.TB, raw []byte) *Request {
	t.Helper()
	hr, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw)))
	require.NoError(t, err)
	body, err := io.ReadAll(hr.Body)
	require.NoError(t, err)
	return &Request{
		Method:     hr.Method,
		Header:     hr.Header,
		RawQuery:   hr.URL.RawQuery,
		Body:       body,
		ClientIP:   goldenClientIP,
		ReceivedAt: goldenReceivedAt,
	}
}

// verifyGolden verifies testdata/<name>.http and returns its one event.
func verifyGolden(t *testing.T, v Verifier, name string) Event {
	t.Helper()
	events, err := v.Verify(context.Background(), goldenRequest(t, name))
	require.NoError(t, err)
	require.Len(t, events, 1)
	return events[0]
}

// checkGolden compares the events with testdata/<name>.event.json.
func checkGolden(t *testing.T, name string, events []Event) {
	t.Helper()
	var got any = events
	if len(events) == 1 {
		got = events[0]
	}
	out, err := json.MarshalIndent(got, "", "  ")
	require.NoError(t, err)
	out = append(out, '\n')
	path := filepath.Join("..", "testdata", name+".event.json")
	if *update {
		require.NoError(t, os.WriteFile(path, out, 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test ./verifiers -update once, and review the new file")
	require.JSONEq(t, string(want), string(out))
}

func mustNew(t testing.TB, provider string, c Config) Verifier {
	t.Helper()
	v, err := New(provider, c)
	require.NoError(t, err)
	return v
}
