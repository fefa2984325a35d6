package caddymodule

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/spf13/cobra"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/paynotify/paynotify/schema"
	"github.com/paynotify/paynotify/verifiers"
)

// provider is a stand-in for paynotify: it verifies what it receives with
// the real verifier and answers the provider's ACK, or 401/403/400.
type provider struct {
	*httptest.Server
	mu     sync.Mutex
	events []verifiers.Event
}

func newProvider(t *testing.T, name string, cfg string) *provider {
	v, err := verifiers.LookupProvider(name)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal([]byte(cfg), v))
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	require.NoError(t, v.Provision(ctx))
	p := &provider{}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		events, err := v.Verify(r.Context(), &verifiers.Request{Method: r.Method, Header: r.Header, RawQuery: r.URL.RawQuery,
			Body: body, ClientIP: netip.MustParseAddr("127.0.0.1"), ReceivedAt: time.Now()})
		switch {
		case errors.Is(err, verifiers.ErrSignature):
			w.WriteHeader(http.StatusUnauthorized)
		case errors.Is(err, verifiers.ErrForbidden):
			w.WriteHeader(http.StatusForbidden)
		case err != nil:
			w.WriteHeader(http.StatusBadRequest)
		default:
			p.mu.Lock()
			p.events = append(p.events, events...)
			p.mu.Unlock()
			ack := v.ACK()
			w.WriteHeader(ack.Status)
			_, _ = io.WriteString(w, ack.Body)
		}
	}))
	t.Cleanup(p.Close)
	return p
}

func (p *provider) take() []verifiers.Event {
	p.mu.Lock()
	defer p.mu.Unlock()
	e := p.events
	p.events = nil
	return e
}

// run runs `caddy paynotify <args>` and returns its stdout, stderr and error.
func run(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	root := &cobra.Command{Use: "paynotify", SilenceErrors: true}
	root.AddCommand(signCommand(), providersCommand(), schemaCommand())
	var stdout, stderr bytes.Buffer
	root.SetOut(&stdout)
	root.SetErr(&stderr)
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	return stdout.String(), stderr.String(), err
}

func TestSignedNotificationsVerify(t *testing.T) {
	cases := []struct {
		provider string
		cfg      string
		args     []string
		want     map[string]string // event member → value
	}{
		{"octo3", `{"secrets":["s3cret"]}`, []string{"--field", "txn_status=DECLINED", "--field", "captured_amount=99.90"},
			map[string]string{"status": "failed", "amount": "99.90", "currency": "HKD"}},
		{"thedao", `{"secrets":["s3cret"],"algorithm":"hmac-sha256"}`, []string{"--algorithm", "hmac-sha256"},
			map[string]string{"status": "succeeded", "amount": "12.50"}},
		{"checkout", `{"secrets":["s3cret"],"authorization":"auth"}`,
			[]string{"--authorization", "auth", "--field", "type=payment_refunded", "--field", "data.amount=2000", "--field", "data.currency=JPY"},
			map[string]string{"status": "refunded", "amount": "2000", "currency": "JPY"}},
		{"octopus", `{"secrets":["s3cret"],"key":"k"}`, []string{"--key", "k", "--field", "final_amount:=12.5", "--field", "tenant=a&b=c"},
			map[string]string{"status": "succeeded", "amount": "12.50", "currency": "PHP"}},
		{"oobit", `{"secrets":["s3cret"]}`, []string{"--field", "reply_code=051"},
			map[string]string{"status": "failed", "amount": "7.23", "currency": "USD"}},
		{"oobit", `{"secrets":["s3cret"]}`, []string{"--method", "post"},
			map[string]string{"status": "succeeded"}},
	}
	for _, c := range cases {
		t.Run(c.provider+strings.Join(c.args, " "), func(t *testing.T) {
			p := newProvider(t, c.provider, c.cfg)
			args := append([]string{"sign", c.provider, "--secret", "s3cret", "--order", "ORD-77", "--url", p.URL + "/notify"}, c.args...)
			stdout, stderr, err := run(t, args...)
			require.NoError(t, err, stdout+stderr)
			assert.Contains(t, stderr, "acknowledged")
			assert.Contains(t, stdout, " 200 OK")
			events := p.take()
			require.Len(t, events, 1)
			assert.Equal(t, "ORD-77", events[0].OrderID)
			e, _ := json.Marshal(events[0])
			var got map[string]any
			require.NoError(t, json.Unmarshal(e, &got))
			for k, v := range c.want {
				assert.Equal(t, v, got[k], k)
			}
		})
	}
}

// TestPrintedCurlCommandVerifies runs the printed command in a shell.
func TestPrintedCurlCommandVerifies(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatal("curl is needed (./test.sh and .ci/run install it)")
	}
	for _, c := range []struct {
		provider string
		cfg      string
		args     []string
		ack      string
	}{
		{"octo3", `{"secrets":["it's"]}`, []string{"--field", "txn_message=it's paid; $(rm -rf /)"}, "ACK"},
		{"checkout", `{"secrets":["it's"],"authorization":"a'b"}`, []string{"--authorization", "a'b"}, ""},
		{"octopus", `{"secrets":["it's"],"key":"k"}`, []string{"--key", "k", "--field", `tenant=O'Brien "x"`}, "success"},
		{"oobit", `{"secrets":["it's"]}`, []string{"--field", "reply_desc=it's ok & done"}, "OK"},
	} {
		t.Run(c.provider, func(t *testing.T) {
			p := newProvider(t, c.provider, c.cfg)
			stdout, _, err := run(t, append([]string{"sign", c.provider, "--secret", "it's", "--url", p.URL + "/n", "--curl"}, c.args...)...)
			require.NoError(t, err)
			require.True(t, strings.HasPrefix(stdout, "curl "), stdout)
			out, err := exec.Command("sh", "-c", stdout).CombinedOutput()
			require.NoError(t, err, string(out))
			assert.Contains(t, string(out), "HTTP/1.1 200 OK")
			assert.True(t, strings.HasSuffix(string(out), "\r\n\r\n"+c.ack), string(out))
			assert.Len(t, p.take(), 1)
		})
	}
}

func TestWithoutURLTheCommandIsPrintedForTheExample(t *testing.T) {
	stdout, _, err := run(t, "sign", "oobit", "--secret", "x")
	require.NoError(t, err)
	assert.Regexp(t, `^curl -sS -i 'http://localhost:8080/notify/oobit\?reply_code=000&.*signature=`, stdout)
}

func TestRefusedNotificationsFailWithAHint(t *testing.T) {
	p := newProvider(t, "octo3", `{"secrets":["right"]}`)
	stdout, stderr, err := run(t, "sign", "octo3", "--secret", "wrong", "--url", p.URL)
	require.Error(t, err)
	assert.Contains(t, stdout, "401 Unauthorized")
	assert.Contains(t, stderr, "--secret must be one of the directive's secrets")

	_, stderr, err = run(t, "sign", "octo3", "--secret", "right", "--url", p.URL, "--drop", "merch_order_id")
	require.Error(t, err)
	assert.Contains(t, stderr, "400: the notification is malformed or misses a mandatory field")
	assert.Empty(t, p.take())

	for args, want := range map[string]string{
		"sign octo3":                                   "--secret is required",
		"sign octo4 --secret x":                        `unknown provider "octo4"`,
		"sign octo3 --secret x --field amount":         "--field amount: is not name=value",
		"sign octo3 --secret x --drop nope":            "--drop nope: there is no such field",
		"sign octo3 --secret x --field a:={":           "not JSON",
		"sign octo3 --secret x --field a.b=1":          "a form field is a string",
		"sign octo3 --secret x --url ftp://x":          "is not an http(s) URL",
		"sign octo3 --secret x --algorithm md5":        `algorithm: "md5" is not hmac-sha1 or hmac-sha256`,
		"sign oobit --secret x --method PUT":           "oobit sends GET or POST",
		"sign checkout --secret x --field data.id.x=1": "id is not an object",
	} {
		_, _, err := run(t, strings.Fields(args)...)
		if assert.Error(t, err, args) {
			assert.Contains(t, err.Error(), want, args)
		}
	}
}

func TestJSONFileReplacesTheDefaults(t *testing.T) {
	p := newProvider(t, "checkout", `{"secrets":["s"]}`)
	file := filepath.Join(t.TempDir(), "event.json")
	require.NoError(t, os.WriteFile(file, []byte(`{"id":"evt_fromfile","type":"payment_declined",
		"data":{"id":"pay_1","reference":"ORD-FILE","amount":1999,"currency":"USD","response_summary":"Insufficient Funds"}}`), 0o600))
	_, _, err := run(t, "sign", "checkout", "--secret", "s", "--json", file, "--field", "data.amount=2500", "--url", p.URL)
	require.NoError(t, err)
	events := p.take()
	require.Len(t, events, 1)
	assert.Equal(t, "evt_fromfile", events[0].ID)
	assert.Equal(t, verifiers.StatusFailed, events[0].Status)
	assert.Equal(t, "25.00", events[0].Amount, "the number stays a number")
	assert.Equal(t, "Insufficient Funds", events[0].Reason)
}

func TestSchemaIsPrinted(t *testing.T) {
	stdout, _, err := run(t, "schema")
	require.NoError(t, err)
	assert.Equal(t, string(schema.V1), stdout)
	assert.True(t, json.Valid([]byte(stdout)))
}

func TestA200ThatIsNotTheACKFails(t *testing.T) {
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "OK-RECEIVED") }))
	t.Cleanup(other.Close)
	_, stderr, err := run(t, "sign", "octo3", "--secret", "s", "--url", other.URL)
	require.Error(t, err)
	assert.Contains(t, stderr, "200 but not the ACK")
	_, stderr, err = run(t, "sign", "octo3", "--secret", "s", "--url", other.URL, "--ack", "OK-RECEIVED")
	require.NoError(t, err)
	assert.Contains(t, stderr, "acknowledged")
}

func TestProvidersCommandListsTheRegistry(t *testing.T) {
	stdout, _, err := run(t, "providers")
	require.NoError(t, err)
	for _, want := range []string{
		"Every provider also takes the options ack, allow_ip, body_timeout, dedup, dedup_scope, deliver, forward, max_body, store, upstream_secret.",
		"octo3", "thedao", "checkout", "octopus", "oobit", "(http.handlers.paynotify.providers.oobit)",
		`200 text/plain; charset=utf-8 "ACK"`, "200, empty body", "required with signature off", "required without merchant_number",
		"algorithm hmac-sha1 | hmac-sha256", "secret <secret> [<secret>...] (repeatable)",
	} {
		assert.Contains(t, stdout, want)
	}

	stdout, _, err = run(t, "providers", "--json")
	require.NoError(t, err)
	var infos []providerInfo
	require.NoError(t, json.Unmarshal([]byte(stdout), &infos))
	byName := map[string]providerInfo{}
	for _, p := range infos {
		byName[p.Name] = p
	}
	assert.Equal(t, "without merchant_number", byName["oobit"].AllowIP)
	assert.Equal(t, []string{"GET", "POST"}, byName["oobit"].Methods)
	assert.Equal(t, "success", byName["octopus"].ACK.Body)
	assert.Equal(t, "", byName["checkout"].AllowIP)
	assert.True(t, byName["checkout"].Sign)
	var options []string
	for _, o := range byName["checkout"].Options {
		options = append(options, o.Name)
	}
	assert.Equal(t, []string{"secret", "authorization"}, options)
}

// A provider option with the name of a handler option could never be set:
// the handler's is read first.
func TestNoProviderOptionShadowsAHandlerOption(t *testing.T) {
	for _, name := range verifiers.Providers() {
		p, err := verifiers.LookupProvider(name)
		require.NoError(t, err)
		for _, opt := range p.Options() {
			assert.NotContains(t, handlerOptions, opt.Name, "provider %s option %s", name, opt.Name)
		}
	}
}

// A flag's value is the secret as typed: braces are not placeholders.
func TestSignTakesFlagValuesLiterally(t *testing.T) {
	p := newProvider(t, "checkout", `{"secrets":["it\\{s\\}"],"authorization":"a\\{b\\}"}`)
	_, stderr, err := run(t, "sign", "checkout", "--secret", "it{s}", "--authorization", "a{b}", "--url", p.URL)
	require.NoError(t, err, stderr)
	assert.Len(t, p.take(), 1)
}

func TestSignOptionsAreGivenOnce(t *testing.T) {
	for args, want := range map[string]string{
		"sign octo3 --secret x --algorithm hmac-sha1 --option algorithm_hmac-sha256": "--option: algorithm is already given by --algorithm",
		"sign octo3 --secret x --option algorithm_hmac-sha256_extra":                 "--option: algorithm takes one value",
		"sign octo3 --option secret_x --option secret_y --option key_k":              `key: does not apply to provider "octo3"`,
	} {
		fields := strings.Fields(args)
		for i := range fields {
			fields[i] = strings.ReplaceAll(fields[i], "_", " ")
		}
		_, _, err := run(t, fields...)
		if assert.Error(t, err, args) {
			assert.Contains(t, err.Error(), want, args)
		}
	}
	_, _, err := run(t, "sign", "octo3", "--option", "secret x", "--option", " ")
	if assert.Error(t, err) {
		assert.Contains(t, err.Error(), "--option 2: not a Caddyfile option line")
	}
}
