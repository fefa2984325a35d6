package verifiers

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
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

func mustNew(t testing.TB, provider string, o options) Verifier {
	t.Helper()
	v, err := newVerifier(provider, o)
	require.NoError(t, err)
	return v
}

// rejectCase is a golden request the verifier must refuse.
type rejectCase struct {
	file   string
	config *options // nil: the provider's test config
	want   error
	reason string
}

// testProvider verifies each accepted golden request of testdata/<provider>/
// against its .event.json, and checks that each rejected one is refused with
// the typed error and reason, no event, and no secret or value in the error.
func testProvider(t *testing.T, provider string, config options, accepted []string, rejected []rejectCase) {
	t.Helper()
	v := mustNew(t, provider, config)
	for _, name := range accepted {
		t.Run(name, func(t *testing.T) {
			file := filepath.Join(provider, name)
			checkGolden(t, file, []Event{verifyGolden(t, v, file)})
		})
	}
	for _, rc := range rejected {
		t.Run(rc.file, func(t *testing.T) {
			cfg := config
			if rc.config != nil {
				cfg = *rc.config
			}
			events, err := mustNew(t, provider, cfg).Verify(context.Background(), goldenRequest(t, filepath.Join(provider, rc.file)))
			require.ErrorIs(t, err, rc.want)
			require.Contains(t, err.Error(), rc.reason)
			require.Empty(t, events)
			for _, secret := range append(cfg.Secrets, cfg.Authorization, cfg.Key) {
				if secret != "" {
					require.NotContains(t, err.Error(), secret, "a secret in an error message")
				}
			}
		})
	}
}

func signedCheckout(body, secret string) *Request {
	h := hmac.New(sha256.New, []byte(secret))
	h.Write([]byte(body))
	return &Request{
		Method: http.MethodPost,
		Header: http.Header{"Content-Type": {"application/json"}, "Cko-Signature": {hex.EncodeToString(h.Sum(nil))}},
		Body:   []byte(body), ClientIP: goldenClientIP, ReceivedAt: goldenReceivedAt,
	}
}
