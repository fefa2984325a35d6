package caddymodule

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/paynotify/paynotify/verifiers"
)

// referenceForwards is forwards and forwardRequest as they were before the
// forwarded requests were built without r.Clone, json.Marshal and
// strings.Join (commit dd19d8a): the reference the differential tests
// compare with. credentialHeaders are as the provider names them.
func referenceForwards(h *Handler, credentialHeaders []string, r *http.Request, body []byte, events []verifiers.Event, sign bool) ([]*http.Request, [][]byte, error) {
	if h.Forward == "original" {
		return []*http.Request{referenceForwardRequest(h, r, body, sign, events...)}, [][]byte{body}, nil
	}
	var requests []*http.Request
	var bodies [][]byte
	for i := range events {
		e := &events[i]
		event, err := json.Marshal(e)
		if err != nil {
			return nil, nil, fmt.Errorf("encoding event: %v", err)
		}
		fr := referenceForwardRequest(h, r, event, sign, *e)
		fr.Method = http.MethodPost
		fr.URL.RawQuery = ""
		fr.RequestURI = fr.URL.RequestURI()
		fr.Header.Set("Content-Type", "application/json")
		for _, name := range []string{"Content-Encoding", "Content-Md5", "Digest", "Content-Digest"} {
			fr.Header.Del(name)
		}
		for _, name := range credentialHeaders {
			fr.Header.Del(name)
		}
		requests, bodies = append(requests, fr), append(bodies, event)
	}
	return requests, bodies, nil
}

func referenceForwardRequest(h *Handler, r *http.Request, body []byte, sign bool, events ...verifiers.Event) *http.Request {
	fr := r.Clone(r.Context())
	fr.Body = io.NopCloser(bytes.NewReader(body))
	fr.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	fr.ContentLength = int64(len(body))
	fr.Header.Set("Content-Length", strconv.Itoa(len(body)))
	fr.TransferEncoding = nil
	fr.Trailer = nil
	for _, name := range fr.Header.Values("Connection") {
		for _, listed := range strings.Split(name, ",") {
			fr.Header.Del(strings.TrimSpace(listed))
		}
	}
	for _, name := range []string{"Connection", "Keep-Alive", "Proxy-Connection", "Te", "Trailer", "Upgrade", "Expect",
		"Proxy-Authorization", "Proxy-Authenticate", "Alt-Svc"} {
		fr.Header.Del(name)
	}
	fr.Header.Del("Cookie")
	ids, statuses := make([]string, len(events)), make([]string, len(events))
	for i, e := range events {
		ids[i], statuses[i] = e.ID, string(e.Status)
	}
	id := strings.Join(ids, ", ")
	fr.Header.Set("Paynotify-Event-Id", id)
	fr.Header.Set("Paynotify-Provider", h.provider)
	fr.Header.Set("Paynotify-Status", strings.Join(statuses, ", "))
	if h.upstreamSigner != nil && sign {
		signUpstream(h.upstreamSigner, fr.Header, id, time.Now(), body)
	}
	return fr
}

const forwardTestSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// forwardTestHandler is the part of a provisioned handler that forwards
// use, with the credential headers as a provider names them.
func forwardTestHandler(t testing.TB, forward string, signed bool, credentialHeaders []string) *Handler {
	h := &Handler{Forward: forward, provider: "hmac"}
	for _, name := range credentialHeaders {
		h.credentialHeaders = append(h.credentialHeaders, textproto.CanonicalMIMEHeaderKey(name))
	}
	if signed {
		var err error
		h.upstreamSigner, err = newUpstreamSigner(forwardTestSecret)
		require.NoError(t, err)
	}
	return h
}

// checkSameForwards builds the forwards of r both ways and asserts that the
// app would see the same requests. A signature is checked, then left out of
// the comparison: it signs the time it is made.
func checkSameForwards(t testing.TB, h *Handler, credentialHeaders []string, r *http.Request, body []byte, events []verifiers.Event, sign bool) {
	t.Helper()
	before := r.Header.Clone()
	want, wantBodies, wantErr := referenceForwards(h, credentialHeaders, r, body, events, sign)
	got, err := h.forwards(nil, r, body, events, sign, true)
	if wantErr != nil {
		require.Error(t, err)
		return
	}
	require.NoError(t, err)
	defer releaseForwards(got)
	require.Equal(t, before, r.Header, "the provider's request was changed")
	require.Len(t, got, len(want))
	for i, w := range want {
		g := got[i].request
		assert.Equal(t, wantBodies[i], got[i].body)
		assert.Equal(t, w.Method, g.Method)
		assert.Equal(t, w.URL, g.URL)
		assert.Equal(t, w.RequestURI, g.RequestURI)
		assert.Equal(t, w.Host, g.Host)
		assert.Equal(t, w.ContentLength, g.ContentLength)
		assert.Equal(t, w.TransferEncoding, g.TransferEncoding)
		assert.Equal(t, w.Trailer, g.Trailer)
		assert.Equal(t, w.Context(), g.Context())
		if sign && h.upstreamSigner != nil {
			for _, fr := range []*http.Request{w, g} {
				assert.NoError(t, h.upstreamSigner.Verify(wantBodies[i], fr.Header))
				for _, name := range []string{standardwebhooks.HeaderWebhookID, standardwebhooks.HeaderWebhookTimestamp, standardwebhooks.HeaderWebhookSignature} {
					fr.Header.Del(name)
				}
			}
		}
		assert.Equal(t, w.Header, g.Header)
		read, err := io.ReadAll(g.Body)
		require.NoError(t, err)
		assert.Equal(t, wantBodies[i], read)
		again, err := g.GetBody()
		require.NoError(t, err)
		read, err = io.ReadAll(again)
		require.NoError(t, err)
		assert.Equal(t, wantBodies[i], read)
		require.NoError(t, again.Close())
		require.NoError(t, g.Body.Close())
	}
}

// forwardTestRequest is a provider's request with the headers in lines
// ("Name: value", one a line; a name may repeat).
func forwardTestRequest(target, lines string) *http.Request {
	r := &http.Request{Method: http.MethodPost, Header: http.Header{}, Host: "merchant.example", RequestURI: target}
	r.URL, _ = url.ParseRequestURI(target)
	if r.URL == nil {
		r.URL = &url.URL{Path: "/"}
	}
	for line := range strings.SplitSeq(lines, "\n") {
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		r.Header.Add(strings.TrimSpace(name), strings.TrimSpace(value))
	}
	r.Header["Nil-Values"] = nil
	r.Trailer = http.Header{"Paynotify-Status": {"forged"}}
	r.TransferEncoding = []string{"chunked"}
	return r.WithContext(context.WithValue(context.Background(), caddyhttp.VarsCtxKey, map[string]any{}))
}

func forwardTestEvents(n int) []verifiers.Event {
	events := make([]verifiers.Event, n)
	for i := range events {
		events[i] = verifiers.Event{Schema: verifiers.Schema, ID: fmt.Sprintf("pn_%d", i), Provider: "hmac",
			Status: verifiers.Statuses[i%len(verifiers.Statuses)], OrderID: "<ord>&" + strconv.Itoa(i),
			ReceivedAt: time.Date(2024, 5, 1, 10, 20, 31, 5, time.UTC), Raw: json.RawMessage(`{ "a" : "<b>" }`)}
	}
	return events
}

const forwardTestHeaders = `Content-Type: application/x-www-form-urlencoded
Content-Length: 12
Content-Encoding: gzip
Content-Md5: x
Digest: sha-256=x
Content-Digest: sha-256=:x:
Connection: keep-alive, X-Listed ,, Paynotify-Status
Connection: Content-Type
X-Listed: dropped
Keep-Alive: timeout=5
Proxy-Connection: keep-alive
Te: trailers
Trailer: X-T
Upgrade: h2c
Expect: 100-continue
Proxy-Authorization: Basic eA==
Proxy-Authenticate: Basic
Alt-Svc: h3=":443"
Cookie: a=b
Cookie: c=d
X-Signature: secret-derived
Authorization: Bearer secret
X-Forwarded-For: 198.51.100.1, 203.0.113.9
X-Forwarded-For: 192.0.2.1
User-Agent: provider/1.0`

// TestForwardsAsBefore: the forwarded requests are those the reference
// (r.Clone, json.Marshal, Header.Del) built, in every mode.
func TestForwardsAsBefore(t *testing.T) {
	credentials := []string{"x-signature", "Authorization"}
	for _, forward := range []string{"normalized", "original"} {
		for _, signed := range []bool{false, true} {
			for _, n := range []int{1, 3} {
				t.Run(fmt.Sprintf("%s signed=%v events=%d", forward, signed, n), func(t *testing.T) {
					h := forwardTestHandler(t, forward, signed, credentials)
					r := forwardTestRequest("/notify/hmac?src=x&b=%20", forwardTestHeaders)
					checkSameForwards(t, h, credentials, r, []byte("a=1&b=2&c=%3C"), forwardTestEvents(n), true)
					checkSameForwards(t, h, credentials, r, []byte("a=1"), forwardTestEvents(n), false)
				})
			}
		}
	}
	// An event that cannot be encoded fails both ways.
	events := forwardTestEvents(2)
	events[1].Raw = json.RawMessage(`{`)
	checkSameForwards(t, forwardTestHandler(t, "normalized", false, nil), nil, forwardTestRequest("/", ""), nil, events, true)
}

// FuzzForwards compares the forwarded requests with the reference's for
// any header lines, target and body.
func FuzzForwards(f *testing.F) {
	f.Add("/notify?x=1", forwardTestHeaders, []byte("a=1"), uint8(1), true, false)
	f.Add("/", "Connection: ,\nConnection:\nCookie:\nX: y", []byte(nil), uint8(2), false, true)
	f.Add("/a%2Fb?", "connection: x-a, content-length\nx-a: 1\ncontent-type: text/plain", []byte("{}"), uint8(0), true, true)
	f.Fuzz(func(t *testing.T, target, lines string, body []byte, n uint8, original, signed bool) {
		forward := "normalized"
		if original {
			forward = "original"
		}
		credentials := []string{"x-a", "X-Signature"}
		h := forwardTestHandler(t, forward, signed, credentials)
		// A notification has at least one event (ServeHTTP refuses one without).
		checkSameForwards(t, h, credentials, forwardTestRequest(target, lines), body, forwardTestEvents(1+int(n%3)), true)
	})
}

// keptBody is an app that keeps the forwarded body and its GetBody past
// its reply, unread, as a transport may close a body after RoundTrip
// returned. It reads what the body holds through GetBody meanwhile.
type keptBody struct {
	body    io.ReadCloser
	getBody func() (io.ReadCloser, error)
	event   []byte
}

func (k *keptBody) ServeHTTP(w http.ResponseWriter, r *http.Request) error {
	k.body, k.getBody = r.Body, r.GetBody
	again, err := r.GetBody()
	if err != nil {
		return err
	}
	if k.event, err = io.ReadAll(again); err != nil {
		return err
	}
	if err := again.Close(); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// TestPooledEventOutlivesTheForwardUntilClosed: a forwarded body that the
// app closes only after its reply still reads its own event while other
// notifications are forwarded, fails to read once closed, and its GetBody
// ends with the forward.
func TestPooledEventOutlivesTheForwardUntilClosed(t *testing.T) {
	h := &Handler{ProviderRaw: providerJSON("octo3", testSecret), Dedup: "off"}
	provisioned(t, h)

	readsAll := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		_, err := io.Copy(io.Discard, r.Body)
		if err == nil {
			err = r.Body.Close()
		}
		return err
	})
	kept := &keptBody{}
	_, _, err := serveGolden(t, h, "octo3/accepted", kept)
	require.NoError(t, err)
	want := kept.event
	require.Contains(t, string(want), `"amount":"12.50"`)
	_, err = kept.getBody()
	assert.Error(t, err, "GetBody after the forward would read a buffer that may be another request's")

	// Other events go through the pool meanwhile.
	var others sync.WaitGroup
	for range 4 {
		others.Go(func() {
			for _, name := range []string{"octo3/declined", "octo3/jpy", "octo3/kwd"} {
				_, _, err := serveGolden(t, h, name, readsAll)
				assert.NoError(t, err)
			}
		})
	}
	others.Wait()

	got, err := io.ReadAll(kept.body)
	require.NoError(t, err)
	assert.Equal(t, string(want), string(got), "the kept body was handed to another request")
	require.NoError(t, kept.body.Close())
	_, err = kept.body.Read(make([]byte, 8))
	assert.Error(t, err, "a read after Close")
	require.NoError(t, kept.body.Close(), "a second Close")
}

// TestForwardedHeaderIsTheForwardsOwn: an app (or a handler before it, such
// as Caddy's header replacements) that edits the forwarded header's values
// in place changes neither the provider's request nor the next forward.
func TestForwardedHeaderIsTheForwardsOwn(t *testing.T) {
	h := &Handler{ProviderRaw: providerJSON("octo3", testSecret), Dedup: "off"}
	provisioned(t, h)
	var seen []http.Header
	editsInPlace := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		seen = append(seen, r.Header.Clone())
		for _, values := range r.Header {
			for i := range values {
				values[i] = "edited"
			}
		}
		w.WriteHeader(http.StatusOK)
		return nil
	})
	w, _, err := serveGolden(t, h, "octo3/accepted", editsInPlace)
	require.NoError(t, err)
	assert.Equal(t, "ACK", w.Body.String())
	assert.Equal(t, "3", w.Header().Get("Content-Length"))
	_, _, err = serveGolden(t, h, "octo3/declined", editsInPlace)
	require.NoError(t, err)
	require.Len(t, seen, 2)
	for _, header := range seen {
		assert.Equal(t, "octo3", header.Get("Paynotify-Provider"))
		assert.Equal(t, "application/json", header.Get("Content-Type"))
		assert.NotEqual(t, "edited", header.Get("Paynotify-Event-Id"))
	}
	assert.Equal(t, "failed", seen[1].Get("Paynotify-Status"))
}
