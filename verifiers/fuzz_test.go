package verifiers

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// FuzzOcto3 checks that no body makes the verifier panic, that every
// rejection is one of the typed errors, and that nothing is accepted unless
// its fields are exactly those of a notification the provider signed: the
// seeds of testdata/octo3.
func FuzzOcto3(f *testing.F) {
	v := mustNew(f, "octo3", octo3Config)
	signed := map[string]bool{}
	files, _ := filepath.Glob("../testdata/octo3/*.http")
	if len(files) == 0 {
		f.Fatal("no seeds in testdata/octo3")
	}
	for _, file := range files {
		req := goldenRequest(f, strings.TrimSuffix(strings.TrimPrefix(file, "../testdata/"), ".http"))
		f.Add(req.Body, req.Header.Get("Content-Type"))
		if _, err := v.Verify(context.Background(), req); err == nil {
			signed[canonicalForm(req.Body)] = true
		}
	}
	f.Fuzz(func(t *testing.T, body []byte, contentType string) {
		events, err := v.Verify(context.Background(), &Request{
			Method: http.MethodPost, Header: http.Header{"Content-Type": {contentType}}, Body: body,
			ClientIP: goldenClientIP, ReceivedAt: goldenReceivedAt,
		})
		if err != nil {
			if len(events) != 0 {
				t.Fatal("events returned with an error")
			}
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrSignature) {
				t.Fatalf("untyped rejection: %v", err)
			}
			return
		}
		if !signed[canonicalForm(body)] {
			t.Fatalf("accepted a body whose fields no seed signed: %q", body)
		}
	})
}

// canonicalForm is the set of non-empty fields other than secure_hash, in
// name order: two bodies with the same canonical form carry the same data.
func canonicalForm(body []byte) string {
	values, _ := url.ParseQuery(string(body))
	var pairs []string
	for name, vals := range values {
		if name != octo3Hash && len(vals) == 1 && vals[0] != "" {
			pairs = append(pairs, name+"="+vals[0])
		}
	}
	sort.Strings(pairs)
	return strings.Join(pairs, "\x00")
}
