package caddymodule_test

// End-to-end tests: a real Caddy (caddytest) with paynotify in front of a
// real upstream (httptest), replaying the signed golden requests of
// testdata/. One Caddy serves the whole package, so no test runs in parallel.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddytest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	_ "github.com/caddyserver/caddy/v2/modules/standard"
	_ "github.com/paynotify/paynotify/caddymodule"
	"github.com/paynotify/paynotify/internal/testcaddy"
)

func TestMain(m *testing.M) { testcaddy.Main(m) }

// upstream is the merchant app stand-in. It records every request and
// answers as the request's X-Test-Answer header asks: a status code, "slow"
// (past the proxy's timeout) or "reset" (the connection dies mid-body).
type upstream struct {
	*httptest.Server
	mu       sync.Mutex
	received []received
}

type received struct {
	Method, Path, RawQuery string
	Header, Trailer        http.Header
	Body                   []byte
}

func newUpstream(t *testing.T) *upstream {
	u := &upstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		u.mu.Lock()
		u.received = append(u.received, received{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Clone(), r.Trailer.Clone(), body})
		u.mu.Unlock()
		// What an app might send back; none of it may reach the provider.
		w.Header().Set("X-App-Session", "app-internal")
		w.Header().Set("Content-Type", "text/html")
		switch answer := r.Header.Get("X-Test-Answer"); answer {
		case "slow":
			time.Sleep(2 * time.Second)
		case "early-hints":
			w.Header().Set("Link", "</app.css>; rel=preload")
			w.WriteHeader(http.StatusEarlyHints)
			w.Header().Del("Link")
			w.WriteHeader(http.StatusOK)
		case "reset":
			w.Header().Set("Content-Length", "1000")
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write([]byte("<html>partial"))
			w.(http.Flusher).Flush()
			conn, _, _ := http.NewResponseController(w).Hijack()
			conn.Close()
			return
		case "":
			w.WriteHeader(http.StatusOK)
		default:
			var status int
			fmt.Sscan(answer, &status)
			w.WriteHeader(status)
		}
		_, _ = w.Write([]byte("<html>app page</html>"))
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *upstream) take() []received {
	u.mu.Lock()
	defer u.mu.Unlock()
	got := u.received
	u.received = nil
	return got
}

const globalOptions = `{
	admin localhost:2999
	default_bind 127.0.0.1
	persist_config off
	skip_install_trust
	http_port 9080
	https_port 9443
	grace_period 1ns
	servers {
		trusted_proxies static 127.0.0.1/32
	}
}
`

func caddyfile(up string) string {
	return globalOptions + strings.NewReplacer("UPSTREAM", up).Replace(`
http://localhost:9080 {
	handle /octo3 {
		paynotify octo3 {
			dedup off
			secret octo3-test-secret octo3-old-secret
		}
		reverse_proxy UPSTREAM
	}
	handle /octo3/original {
		paynotify octo3 {
			dedup off
			secret octo3-test-secret
			forward original
		}
		reverse_proxy UPSTREAM
	}
	handle /octo3/allow {
		paynotify octo3 {
			dedup off
			secret octo3-test-secret
			allow_ip 198.51.100.0/24 2001:db8::1
		}
		reverse_proxy UPSTREAM
	}
	handle /octo3/small {
		paynotify octo3 {
			dedup off
			secret octo3-test-secret
			max_body 300B
		}
		reverse_proxy UPSTREAM
	}
	handle /octo3/down {
		paynotify octo3 {
			dedup off
			secret octo3-test-secret
		}
		reverse_proxy 127.0.0.1:9
	}
	handle /octo3/timeout {
		paynotify octo3 {
			dedup off
			secret octo3-test-secret
		}
		reverse_proxy UPSTREAM {
			transport http {
				response_header_timeout 300ms
			}
		}
	}
	handle /octo3/nothing-after {
		paynotify octo3 {
			dedup off
			secret octo3-test-secret
		}
	}
	handle /octo3/custom-ack {
		paynotify octo3 {
			dedup off
			secret octo3-test-secret
			ack "OK-RECEIVED"
		}
		reverse_proxy UPSTREAM
	}
	handle /octo3/sha256-minor {
		paynotify octo3 {
			dedup off
			secret octo3-test-secret
			algorithm hmac-sha256
			amount_unit minor
		}
		reverse_proxy UPSTREAM
	}
	handle /octo3/unsigned {
		paynotify octo3 {
			dedup off
			signature off
			allow_ip 198.51.100.0/24
		}
		reverse_proxy UPSTREAM
	}
	handle /thedao {
		paynotify thedao {
			dedup off
			secret octo3-test-secret
		}
		reverse_proxy UPSTREAM
	}
	handle /checkout {
		paynotify checkout {
			dedup off
			secret cko-test-signature-key cko-old-signature-key
			authorization cko-test-authorization
		}
		reverse_proxy UPSTREAM
	}
	handle /octopus {
		paynotify octopus {
			dedup off
			secret octopus-test-secret
			key octopus-test-key
		}
		reverse_proxy UPSTREAM
	}
	handle /oobit {
		paynotify oobit {
			dedup off
			secret oobit-test-hash-key
			allow_ip 127.0.0.1
		}
		reverse_proxy UPSTREAM
	}
	handle /oobit/original {
		paynotify oobit {
			dedup off
			secret oobit-test-hash-key
			allow_ip 127.0.0.1
			forward original
		}
		reverse_proxy UPSTREAM
	}
}
`)
}

// golden returns the request of testdata/<name>.http aimed at path.
func golden(t *testing.T, name, path string) *http.Request {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "testdata", name+".http"))
	require.NoError(t, err)
	src, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw)))
	require.NoError(t, err)
	body, err := io.ReadAll(src.Body)
	require.NoError(t, err)
	target := "http://localhost:9080" + path
	if src.URL.RawQuery != "" {
		target += "?" + src.URL.RawQuery
	}
	req, err := http.NewRequest(src.Method, target, bytes.NewReader(body))
	require.NoError(t, err)
	req.Header = src.Header
	return req
}

type reply struct {
	Status int
	Header http.Header
	Body   string
}

func send(t *testing.T, tc *caddytest.Tester, req *http.Request) reply {
	t.Helper()
	res, err := tc.Client.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return reply{res.StatusCode, res.Header, string(body)}
}

func startCaddy(t *testing.T) (*caddytest.Tester, *upstream) {
	up := newUpstream(t)
	tc := caddytest.NewTester(t)
	initServer(tc, caddyfile(strings.TrimPrefix(up.URL, "http://")), "caddyfile")
	return tc, up
}

// assertNoAppLeak checks that nothing of the app's reply reached the provider.
func assertNoAppLeak(t *testing.T, r reply) {
	t.Helper()
	assert.Empty(t, r.Header.Get("X-App-Session"), "an upstream header reached the provider")
	assert.NotContains(t, r.Body, "app page", "the upstream body reached the provider")
}

func TestVerifiedAndAcceptedIsAcked(t *testing.T) {
	tc, up := startCaddy(t)

	req := golden(t, "octo3/accepted", "/octo3")
	req.Header.Set("Paynotify-Event-Id", "forged-id")    // must not reach the app
	req.Header.Set("Paynotify_Status", "succeeded")      // nor its underscore twin
	req.Header.Set("X-Merchant-Trace", "kept-as-it-was") // other headers go through
	r := send(t, tc, req)

	assert.Equal(t, http.StatusOK, r.Status)
	assert.Equal(t, "ACK", r.Body)
	assert.Equal(t, "text/plain; charset=utf-8", r.Header.Get("Content-Type"))
	assertNoAppLeak(t, r)

	got := up.take()
	require.Len(t, got, 1, "the app gets the notification exactly once")
	fwd := got[0]
	assert.Equal(t, http.MethodPost, fwd.Method)
	assert.Equal(t, "/octo3", fwd.Path)
	assert.Empty(t, fwd.RawQuery, "normalized forwards drop the query string")
	assert.Equal(t, "application/json", fwd.Header.Get("Content-Type"))
	assert.Equal(t, "kept-as-it-was", fwd.Header.Get("X-Merchant-Trace"))
	assert.Empty(t, fwd.Header.Values("Paynotify_Status"))

	var event map[string]any
	require.NoError(t, json.Unmarshal(fwd.Body, &event))
	assert.Equal(t, "paynotify.v1", event["schema"])
	assert.Equal(t, "octo3", event["provider"])
	assert.Equal(t, "succeeded", event["status"])
	assert.Equal(t, "ORD-20240501-0001", event["order_id"])
	assert.Equal(t, "12.50", event["amount"])
	assert.EqualValues(t, 1250, event["amount_minor"])
	assert.Equal(t, "HKD", event["currency"])
	assert.Equal(t, "127.0.0.1", event["source_ip"])
	assert.NotContains(t, string(fwd.Body), "4111111111111111", "a full card number reached the app")

	assert.Equal(t, []string{event["id"].(string)}, fwd.Header.Values("Paynotify-Event-Id"))
	assert.Equal(t, "octo3", fwd.Header.Get("Paynotify-Provider"))
	assert.Equal(t, "succeeded", fwd.Header.Get("Paynotify-Status"))
	assert.Equal(t, fmt.Sprint(len(fwd.Body)), fwd.Header.Get("Content-Length"))
}

func TestOriginalForwardIsTheRequestAsReceived(t *testing.T) {
	tc, up := startCaddy(t)
	req := golden(t, "octo3/accepted", "/octo3/original")
	sent, _ := io.ReadAll(req.Body)
	req.Body = io.NopCloser(bytes.NewReader(sent))
	req.Header.Set("Paynotify-Status", "forged")

	r := send(t, tc, req)
	assert.Equal(t, http.StatusOK, r.Status)
	assert.Equal(t, "ACK", r.Body)

	got := up.take()
	require.Len(t, got, 1)
	fwd := got[0]
	assert.Equal(t, http.MethodPost, fwd.Method)
	assert.Equal(t, "src=octo3", fwd.RawQuery)
	assert.Equal(t, "application/x-www-form-urlencoded", fwd.Header.Get("Content-Type"))
	assert.Equal(t, string(sent), string(fwd.Body))
	assert.Equal(t, "succeeded", fwd.Header.Get("Paynotify-Status"))
	assert.Regexp(t, `^pn_[0-9a-f]{32}$`, fwd.Header.Get("Paynotify-Event-Id"))
}

func TestProviderOptionsEndToEnd(t *testing.T) {
	tc, up := startCaddy(t)

	r := send(t, tc, golden(t, "thedao/thedao", "/thedao"))
	assert.Equal(t, "ACK", r.Body)
	assert.Contains(t, string(up.take()[0].Body), `"provider":"thedao"`)

	r = send(t, tc, golden(t, "octo3/accepted", "/octo3/custom-ack"))
	assert.Equal(t, http.StatusOK, r.Status)
	assert.Equal(t, "OK-RECEIVED", r.Body)
	up.take()

	// The sha256-signed request and a minor-unit amount (1250 → 12.50).
	sha := golden(t, "octo3/sha256", "/octo3/sha256-minor")
	assert.Equal(t, http.StatusBadRequest, send(t, tc, sha).Status, "12.50 is not a minor-unit amount")
	assert.Empty(t, up.take())

	// signature off: accepted without secure_hash, but only from allow_ip.
	unsigned := golden(t, "octo3/unsigned", "/octo3/unsigned")
	unsigned.Header.Set("X-Forwarded-For", "198.51.100.20")
	assert.Equal(t, "ACK", send(t, tc, unsigned).Body)
	assert.Len(t, up.take(), 1)
	unsigned = golden(t, "octo3/unsigned", "/octo3/unsigned")
	assert.Equal(t, http.StatusForbidden, send(t, tc, unsigned).Status)
	assert.Empty(t, up.take())
}

func TestUpstreamFailureIsNotAcked(t *testing.T) {
	tc, up := startCaddy(t)
	cases := []struct {
		name, path, answer string
		upstreamCalls      int
	}{
		{"app error", "/octo3", "500", 1},
		{"app refuses", "/octo3", "422", 1},
		{"app redirects", "/octo3", "302", 1},
		{"app unreachable", "/octo3/down", "", 0},
		{"app timed out", "/octo3/timeout", "slow", 1},
		{"app reset mid-response", "/octo3", "reset", 1},
		{"no handler after paynotify", "/octo3/nothing-after", "", 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := golden(t, "octo3/accepted", c.path)
			req.Header.Set("X-Test-Answer", c.answer)
			r := send(t, tc, req)
			assert.Equal(t, http.StatusBadGateway, r.Status)
			assert.NotContains(t, r.Body, "ACK")
			assertNoAppLeak(t, r)
			assert.Len(t, up.take(), c.upstreamCalls)
		})
	}
}

func TestRejectedNotificationsNeverReachTheApp(t *testing.T) {
	tc, up := startCaddy(t)
	cases := []struct {
		name, golden, path string
		change             func(*http.Request)
		status             int
	}{
		{"tampered amount", "octo3/tampered_amount", "/octo3", nil, http.StatusUnauthorized},
		{"wrong secret", "octo3/wrong_secret", "/octo3", nil, http.StatusUnauthorized},
		{"signature missing", "octo3/unsigned", "/octo3", nil, http.StatusUnauthorized},
		{"signature not hex", "octo3/bad_hex", "/octo3", nil, http.StatusUnauthorized},
		{"source not allowed", "octo3/accepted", "/octo3/allow", func(r *http.Request) {
			r.Header.Set("X-Forwarded-For", "192.0.2.66")
		}, http.StatusForbidden},
		{"source not allowed, direct", "octo3/accepted", "/octo3/allow", nil, http.StatusForbidden},
		{"mandatory field missing", "octo3/missing_mandatory", "/octo3", nil, http.StatusBadRequest},
		{"field given twice", "octo3/duplicate_field", "/octo3", nil, http.StatusBadRequest},
		{"not a form", "octo3/json_content_type", "/octo3", nil, http.StatusBadRequest},
		{"amount not a number", "octo3/bad_amount", "/octo3", nil, http.StatusBadRequest},
		{"body over max_body", "octo3/accepted", "/octo3/small", nil, http.StatusRequestEntityTooLarge},
		{"body over max_body, chunked", "octo3/accepted", "/octo3/small", func(r *http.Request) {
			r.ContentLength = -1 // no Content-Length: the limit must hold while reading
		}, http.StatusRequestEntityTooLarge},
		{"wrong method", "octo3/accepted", "/octo3", func(r *http.Request) {
			r.Method = http.MethodPut
		}, http.StatusMethodNotAllowed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := golden(t, c.golden, c.path)
			if c.change != nil {
				c.change(req)
			}
			r := send(t, tc, req)
			assert.Equal(t, c.status, r.Status)
			assert.NotContains(t, r.Body, "ACK")
			assert.Empty(t, up.take(), "a rejected notification reached the app")
			if c.status == http.StatusMethodNotAllowed {
				assert.Equal(t, "POST", r.Header.Get("Allow"))
			}
		})
	}

	// The allowlist honours trusted_proxies: the same request from an allowed
	// address behind the trusted proxy goes through.
	for _, ip := range []string{"198.51.100.20", "2001:db8::1"} {
		req := golden(t, "octo3/accepted", "/octo3/allow")
		req.Header.Set("X-Forwarded-For", ip)
		assert.Equal(t, "ACK", send(t, tc, req).Body, ip)
		assert.Len(t, up.take(), 1)
	}
}

// TestJSONConfig runs the handler from a JSON config, as the admin API or
// `caddy run --config x.json` would load it.
func TestJSONConfig(t *testing.T) {
	up := newUpstream(t)
	tc := caddytest.NewTester(t)
	initServer(tc, `{
	"admin": {"listen": "localhost:2999"},
	"apps": {
		"http": {
			"http_port": 9080,
			"grace_period": 1,
			"servers": {
				"srv0": {
					"listen": [":9080"],
					"routes": [{
						"match": [{"path": ["/octo3"]}],
						"handle": [
							{"handler": "paynotify", "provider": {"name": "octo3", "secrets": ["octo3-test-secret"]}, "forward": "normalized", "max_body": 65536, "dedup": "off"},
							{"handler": "reverse_proxy", "upstreams": [{"dial": "`+strings.TrimPrefix(up.URL, "http://")+`"}]}
						]
					}],
					"automatic_https": {"disable": true}
				}
			}
		},
		"pki": {"certificate_authorities": {"local": {"install_trust": false}}}
	}
}`, "json")

	r := send(t, tc, golden(t, "octo3/accepted", "/octo3"))
	assert.Equal(t, http.StatusOK, r.Status)
	assert.Equal(t, "ACK", r.Body)
	assert.Len(t, up.take(), 1)
	assert.Equal(t, http.StatusUnauthorized, send(t, tc, golden(t, "octo3/wrong_secret", "/octo3")).Status)
	assert.Empty(t, up.take())
}

func TestMisconfigurationFailsAtLoad(t *testing.T) {
	site := func(options string) string {
		return globalOptions + "http://localhost:9080 {\n\tpaynotify octo3 {\n" + options + "\n\t}\n\trespond 200\n}\n"
	}
	os.Unsetenv("PAYNOTIFY_UNSET_SECRET")
	t.Setenv("PAYNOTIFY_NOT_A_REDIS_URL", "http://redis.internal:6379")
	cases := []struct{ options, want string }{
		{"secret {env.PAYNOTIFY_UNSET_SECRET}", "secret 1: evaluated placeholder {env.PAYNOTIFY_UNSET_SECRET} is empty"},
		{"secret s {env:OCTO3_OLD}", "secret 2: unrecognized placeholder {env:OCTO3_OLD}"},
		{"secret s\n signature off\n allow_ip 192.0.2.1", "signature: off and a secret together"},
		{"signature off\n allow_ip ::/0", "allow_ip: required for octo3 as configured, and narrower than 0.0.0.0/0 or ::/0: signature off"},
		{"secret s\n allow_ip 10.0.0.300", "allow_ip"},
		{"secret s\n authorization abc", "authorization: does not apply to provider"},
		{"signature off", "allow_ip: required for octo3 as configured"},
		{"secret s\n upstream_secret whsec_YWJj", "upstream_secret: decodes to 3 bytes; Standard Webhooks secrets are 24 to 64 bytes"},
		{"secret s\n upstream_secret MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "upstream_secret: must start with"},
		{"secret s\n upstream_secret whsec_not-base64!", "followed by standard base64"},
		{"secret s\n upstream_secret {env.PAYNOTIFY_UNSET_SECRET}", "upstream_secret: evaluated placeholder {env.PAYNOTIFY_UNSET_SECRET} is empty"},
		{"secret s\n key k", `key: does not apply to provider`},
		{"secret s\n store redis {env.PAYNOTIFY_UNSET_SECRET}", "store: evaluated placeholder {env.PAYNOTIFY_UNSET_SECRET} is empty"},
		{"secret s\n store redis {env.PAYNOTIFY_NOT_A_REDIS_URL}", "store: redis needs a url"},
		{"", "secret: required"},
	}
	for _, c := range cases {
		t.Run(c.want, func(t *testing.T) {
			caddytest.AssertLoadError(t, site(c.options), "caddyfile", c.want)
		})
	}
	caddytest.AssertLoadError(t, strings.Replace(site("secret s"), "octo3", "octo4", 1), "caddyfile", "provider: unknown provider")
	caddytest.AssertLoadError(t, strings.Replace(site("secret s\n allow_ip 127.0.0.1\n forward original\n upstream_secret "+upstreamSecret),
		"octo3", "oobit", 1), "caddyfile", "upstream_secret: oobit notifications may be GET requests")
	caddytest.AssertLoadError(t, strings.Replace(site("secret s"), "octo3", "oobit", 1), "caddyfile",
		"allow_ip: required for oobit as configured, and narrower than 0.0.0.0/0 or ::/0: its signature cannot tell where trans_order ends")
}

// TestSecretFromFile resolves {file.*} at provision.
func TestSecretFromFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "octo3.secret")
	require.NoError(t, os.WriteFile(path, []byte("octo3-test-secret\n"), 0o600))
	up := newUpstream(t)
	tc := caddytest.NewTester(t)
	initServer(tc, globalOptions+`
http://localhost:9080 {
	paynotify octo3 {
		secret {file.`+path+`}
		dedup off
	}
	reverse_proxy `+strings.TrimPrefix(up.URL, "http://")+`
}`, "caddyfile")
	assert.Equal(t, "ACK", send(t, tc, golden(t, "octo3/accepted", "/notify")).Body)
	assert.Len(t, up.take(), 1)
}

// TestForwardedRequestCannotBeShapedByTheClient: hop-by-hop headers and
// request trailers are the provider connection's business; they must not let
// a client strip or forge what the app relies on.
func TestForwardedRequestCannotBeShapedByTheClient(t *testing.T) {
	tc, up := startCaddy(t)

	req := golden(t, "octo3/accepted", "/octo3")
	req.Header.Set("Connection", "Paynotify-Event-Id, Paynotify-Status, Paynotify-Provider, Content-Type")
	assert.Equal(t, "ACK", send(t, tc, req).Body)
	fwd := up.take()[0]
	assert.Regexp(t, `^pn_[0-9a-f]{32}$`, fwd.Header.Get("Paynotify-Event-Id"))
	assert.Equal(t, "succeeded", fwd.Header.Get("Paynotify-Status"))
	assert.Equal(t, "octo3", fwd.Header.Get("Paynotify-Provider"))
	assert.Equal(t, "application/json", fwd.Header.Get("Content-Type"))

	for _, path := range []string{"/octo3", "/octo3/original"} {
		req = golden(t, "octo3/accepted", path)
		req.ContentLength = -1 // chunked, so that trailers can follow
		req.Trailer = http.Header{"Paynotify-Event-Id": {"forged-by-client"}}
		assert.Equal(t, "ACK", send(t, tc, req).Body, path)
		fwd = up.take()[0]
		assert.Empty(t, fwd.Trailer, "%s: a client trailer reached the app", path)
		assert.Regexp(t, `^pn_[0-9a-f]{32}$`, fwd.Header.Get("Paynotify-Event-Id"))
		assert.NotEmpty(t, fwd.Header.Get("Content-Length"), "%s: the body is forwarded with its length", path)
	}
}

func TestInterimRepliesOfTheAppDoNotReachTheProvider(t *testing.T) {
	tc, up := startCaddy(t)
	req := golden(t, "octo3/accepted", "/octo3")
	req.Header.Set("X-Test-Answer", "early-hints")
	r := send(t, tc, req)
	assert.Equal(t, http.StatusOK, r.Status)
	assert.Equal(t, "ACK", r.Body)
	assert.Empty(t, r.Header.Get("Link"), "the app's 103 Early Hints reached the provider")
	assert.Len(t, up.take(), 1)
}

func TestUnsignedQueryCannotShadowSignedFields(t *testing.T) {
	tc, up := startCaddy(t)
	// In original mode the query goes to the app; an app that merges query and
	// form parameters could read txn_status from it instead of the signed body.
	r := send(t, tc, golden(t, "octo3/query_shadows_field", "/octo3/original"))
	assert.Equal(t, http.StatusBadRequest, r.Status)
	assert.Empty(t, up.take())
}

// TestEveryProviderEndToEnd: for each provider, a genuine notification gets
// exactly the provider's ACK and the app its event; forged ones get 401 (403
// for a wrong credential header) and the app nothing.
func TestEveryProviderEndToEnd(t *testing.T) {
	tc, up := startCaddy(t)
	providers := []struct {
		provider, path, valid string
		ackBody, ackType      string
		want                  map[string]any // members of the event the app must get
		forged                map[string]int // golden file → status
	}{
		{"octo3", "/octo3", "accepted", "ACK", "text/plain; charset=utf-8",
			map[string]any{"status": "succeeded", "order_id": "ORD-20240501-0001", "amount": "12.50", "currency": "HKD"},
			map[string]int{"tampered_amount": 401, "wrong_secret": 401, "unsigned": 401}},
		{"checkout", "/checkout", "payment_captured", "", "",
			map[string]any{"id": "evt_caxmnvuvbe4elkbdx2imwbnjxu", "status": "succeeded", "order_id": "ORD-5023-4E89",
				"amount": "10.50", "amount_minor": 1050.0, "currency": "HKD", "payment_method": "octopus"},
			map[string]int{"tampered": 401, "wrong_secret": 401, "unsigned": 401, "wrong_authorization": 403, "no_authorization": 403}},
		{"octopus", "/octopus", "completed", "success", "text/plain; charset=utf-8",
			map[string]any{"status": "succeeded", "order_id": "123qq", "amount": "99.50", "currency": "PHP", "transaction_id": "OUID-5521"},
			map[string]int{"tampered": 401, "number_reformatted": 401, "wrong_secret": 401, "unsigned": 401, "wrong_key": 403, "no_key": 403}},
		{"oobit", "/oobit", "approved_get", "OK", "text/plain; charset=utf-8",
			map[string]any{"status": "succeeded", "order_id": "ABC12365", "amount": "7.23", "currency": "USD", "occurred_at": "2020-02-11T12:40:11Z"},
			map[string]int{"tampered": 401, "wrong_secret": 401, "unsigned": 401, "bad_base64": 401}},
	}
	for _, p := range providers {
		t.Run(p.provider, func(t *testing.T) {
			r := send(t, tc, golden(t, p.provider+"/"+p.valid, p.path))
			assert.Equal(t, http.StatusOK, r.Status)
			assert.Equal(t, p.ackBody, r.Body)
			assert.Equal(t, p.ackType, r.Header.Get("Content-Type"))
			assertNoAppLeak(t, r)
			got := up.take()
			require.Len(t, got, 1)
			assert.Equal(t, http.MethodPost, got[0].Method, "normalized forwards are POSTs")
			assert.Empty(t, got[0].RawQuery, "normalized forwards drop the query")
			assert.Equal(t, "application/json", got[0].Header.Get("Content-Type"))
			assert.Equal(t, p.provider, got[0].Header.Get("Paynotify-Provider"))
			var event map[string]any
			require.NoError(t, json.Unmarshal(got[0].Body, &event))
			assert.Equal(t, p.provider, event["provider"])
			for k, v := range p.want {
				assert.Equal(t, v, event[k], k)
			}
			assert.Equal(t, event["id"], got[0].Header.Get("Paynotify-Event-Id"))
			for _, name := range []string{"Authorization", "Cko-Signature", "Oc-Key", "Oc-Signature"} {
				assert.Empty(t, got[0].Header.Get(name), "%s forwarded with a normalized event", name)
			}

			for file, status := range p.forged {
				r := send(t, tc, golden(t, p.provider+"/"+file, p.path))
				assert.Equal(t, status, r.Status, file) // never 200: for checkout that alone is the ACK
				assert.Empty(t, r.Body, file)
				assert.Empty(t, up.take(), "%s reached the app", file)
			}
		})
	}
}

func TestOobitOriginalForwardKeepsTheGetQuery(t *testing.T) {
	tc, up := startCaddy(t)
	req := golden(t, "oobit/approved_get", "/oobit/original")
	r := send(t, tc, req)
	assert.Equal(t, "OK", r.Body)
	got := up.take()
	require.Len(t, got, 1)
	assert.Equal(t, http.MethodGet, got[0].Method)
	assert.Equal(t, req.URL.RawQuery, got[0].RawQuery)
	assert.Regexp(t, `^pn_[0-9a-f]{32}$`, got[0].Header.Get("Paynotify-Event-Id"))
	assert.Equal(t, http.StatusMethodNotAllowed, send(t, tc, golden(t, "oobit/put", "/oobit")).Status)
	assert.Empty(t, up.take())
}
