package acmepay_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	_ "github.com/caddyserver/caddy/v2/modules/standard"
	_ "github.com/paynotify/paynotify/caddymodule"
	"github.com/paynotify/paynotify/examples/acmepay"
	"github.com/paynotify/paynotify/internal/testcaddy"
	"github.com/paynotify/paynotify/verifiers"
)

const secret = "acme-test-secret"

func TestMain(m *testing.M) { testcaddy.Main(m) }

// app records what paynotify forwards.
type app struct {
	mu     sync.Mutex
	bodies []string
}

func (a *app) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	a.mu.Lock()
	a.bodies = append(a.bodies, string(body))
	a.mu.Unlock()
}

func (a *app) take() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	b := a.bodies
	a.bodies = nil
	return b
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startCaddy runs Caddy in this process on a Caddyfile, the way `caddy run`
// would, and returns its base URL.
func startCaddy(t *testing.T, site func(base string) string) string {
	dir := t.TempDir()
	t.Setenv("ACME_TEST_SECRET", secret)
	base := fmt.Sprintf("http://127.0.0.1:%d", freePort(t))
	caddyfile := fmt.Sprintf("{\n\tadmin off\n\tpersist_config off\n}\n%s {\n%s}\n", base, site(dir))
	cfg, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(caddyfile), map[string]any{"filename": "Caddyfile"})
	require.NoError(t, err)
	require.NoError(t, caddy.Load(cfg, true))
	t.Cleanup(func() { _ = caddy.Stop() })
	return base
}

// paynotify runs `caddy paynotify <args>` as the caddy binary would.
func paynotify(t *testing.T, args ...string) (string, string, error) {
	cmd, ok := caddycmd.Commands()["paynotify"]
	require.True(t, ok, "the paynotify command is registered")
	root := &cobra.Command{Use: "paynotify", SilenceErrors: true, SilenceUsage: true}
	cmd.CobraFunc(root)
	var stdout, stderr bytes.Buffer
	root.SetOut(&stdout)
	root.SetErr(&stderr)
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	return stdout.String(), stderr.String(), err
}

// signed builds a notification signed here, apart from the module's signer.
func signed(t time.Time, key, body string) http.Header {
	ts := strconv.FormatInt(t.Unix(), 10)
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(ts + "." + body))
	return http.Header{"Content-Type": {"application/json"}, "Acme-Signature": {"t=" + ts + ",v1=" + hex.EncodeToString(m.Sum(nil))}}
}

func post(t *testing.T, url string, h http.Header, body string) (int, string) {
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	require.NoError(t, err)
	req.Header = h
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	reply, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(reply)
}

// TestAProviderFromOutsideWorksEndToEnd: a provider module that is not part
// of paynotify's packages is loaded by name from a Caddyfile, verifies,
// forwards the normalized event once and answers its own ACK; caddy
// paynotify sign and providers find it in the module registry.
func TestAProviderFromOutsideWorksEndToEnd(t *testing.T) {
	a := &app{}
	upstream := httptest.NewServer(a)
	t.Cleanup(upstream.Close)
	base := startCaddy(t, func(dir string) string {
		return fmt.Sprintf("\tpaynotify /notify/acmepay acmepay {\n\t\tsecret {env.ACME_TEST_SECRET}\n\t\ttolerance 2m\n\t\tstore bolt %s\n\t}\n\treverse_proxy %s\n",
			filepath.Join(dir, "dedup.db"), strings.TrimPrefix(upstream.URL, "http://"))
	})
	url := base + "/notify/acmepay"

	body := `{"id":"evt_1","type":"payment.succeeded","created":1714558830,"data":{"payment_id":"pay_1","order":"ORD-1","amount":1250,"currency":"EUR"}}`
	status, reply := post(t, url, signed(time.Now(), secret, body), body)
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, "received", reply, "AcmePay's own ACK")
	got := a.take()
	require.Len(t, got, 1)
	var event map[string]any
	require.NoError(t, json.Unmarshal([]byte(got[0]), &event))
	assert.Equal(t, "paynotify.v1", event["schema"])
	assert.Equal(t, "acmepay", event["provider"])
	assert.Equal(t, "evt_1", event["id"])
	assert.Equal(t, "succeeded", event["status"])
	assert.Equal(t, "ORD-1", event["order_id"])
	assert.Equal(t, "12.50", event["amount"])
	assert.Equal(t, "EUR", event["currency"])

	// The retry is ACKed without reaching the app again.
	status, reply = post(t, url, signed(time.Now(), secret, body), body)
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, "received", reply)
	assert.Empty(t, a.take(), "a duplicate is not forwarded")

	// Forged, tampered, stale and future notifications are refused.
	other := strings.Replace(body, "evt_1", "evt_2", 1)
	for name, c := range map[string]struct {
		h    http.Header
		body string
	}{
		"wrong secret": {signed(time.Now(), "guess", other), other},
		"tampered":     {signed(time.Now(), secret, other), strings.Replace(other, "1250", "125000", 1)},
		"stale":        {signed(time.Now().Add(-3*time.Minute), secret, other), other},
		"future":       {signed(time.Now().Add(3*time.Minute), secret, other), other},
		"unsigned":     {http.Header{"Content-Type": {"application/json"}}, other},
	} {
		status, reply := post(t, url, c.h, c.body)
		assert.Equal(t, http.StatusUnauthorized, status, name)
		assert.NotEqual(t, "received", reply, name)
	}
	assert.Empty(t, a.take(), "nothing refused is forwarded")

	// The unsigned query may not stand for a field of the body (Rails
	// merges it over the body with forward original); the merchant's own
	// parameters pass.
	for query, want := range map[string]int{"?data[order]=ORD-OTHER": 400, "?type=payment.succeeded": 400, "?token=abc": 200} {
		status, _ := post(t, url+query, signed(time.Now(), secret, other), other)
		assert.Equal(t, want, status, query)
	}
	assert.Len(t, a.take(), 1, "only the notification with the merchant's own parameter")

	// caddy paynotify sign builds it with the module's own signer.
	stdout, stderr, err := paynotify(t, "sign", "acmepay", "--secret", secret, "--order", "ORD-SIGNED", "--url", url)
	require.NoError(t, err, stdout+stderr)
	assert.Contains(t, stderr, "acknowledged: this is acmepay's ACK")
	got = a.take()
	require.Len(t, got, 1)
	assert.Contains(t, got[0], `"order_id":"ORD-SIGNED"`)

	// caddy paynotify providers lists it beside the built-in ones.
	stdout, _, err = paynotify(t, "providers")
	require.NoError(t, err)
	assert.Contains(t, stdout, "acmepay")
	assert.Contains(t, stdout, "http.handlers.paynotify.providers.acmepay")
	assert.Contains(t, stdout, "Acme-Signature header")
	assert.Contains(t, stdout, "tolerance <duration>")
	assert.Contains(t, stdout, "octo3")
}

// TestItsOptionsAreCheckedWhileParsing: the provider's own options are read
// from the paynotify block, and mistakes are reported with file and line.
func TestItsOptionsAreCheckedWhileParsing(t *testing.T) {
	for input, want := range map[string]string{
		"paynotify acmepay {\n\tsecret s\n\ttolerance soon\n}":      `tolerance: "soon" is not a positive duration such as 5m, at Caddyfile:4`,
		"paynotify acmepay {\n\ttolerance 1m\n}":                    `paynotify acmepay: secret: required for provider "acmepay" (the webhook signing secret), at Caddyfile:2`,
		"paynotify acmepay {\n\tsecret s\n\talgorithm hmac-sha1\n}": `paynotify acmepay: algorithm: does not apply to provider "acmepay" (its options: secret, tolerance), at Caddyfile:4`,
	} {
		caddyfile := ":8080 {\n" + input + "\n}\n"
		_, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(caddyfile), map[string]any{"filename": "Caddyfile"})
		if assert.Error(t, err, input) {
			assert.Contains(t, err.Error(), want)
		}
	}
}

// Two careless provider modules, as someone else might write them: one with
// an option named like a handler option, one whose option reads no value
// and returns errors without a position.
type shadowing struct{ acmepay.AcmePay }

func (shadowing) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: verifiers.Namespace + ".test_shadowing", New: func() caddy.Module { return new(shadowing) }}
}

func (p *shadowing) Options() []verifiers.Option {
	return append(p.AcmePay.Options(), verifiers.Option{Name: "ack", Doc: "d", Parse: func(*caddyfile.Dispenser) error { return nil }})
}

type careless struct{ acmepay.AcmePay }

func (careless) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: verifiers.Namespace + ".test_careless", New: func() caddy.Module { return new(careless) }}
}

func (p *careless) Options() []verifiers.Option {
	return append(p.AcmePay.Options(), verifiers.Option{Name: "region", Doc: "d", Parse: func(d *caddyfile.Dispenser) error {
		if d.CountRemainingArgs() == 2 {
			return errors.New("region: two values")
		}
		return nil
	}})
}

func init() {
	caddy.RegisterModule(shadowing{})
	caddy.RegisterModule(careless{})
}

func TestCarelessProviderOptionsFailWithALine(t *testing.T) {
	for input, want := range map[string]string{
		"paynotify test_shadowing {\n\tsecret s\n}":                    `paynotify test_shadowing: provider: the module's option "ack" has the name of a paynotify option, at Caddyfile:2`,
		"paynotify test_careless {\n\tsecret s\n\tregion eu-s3cr3t\n}": `region: too many arguments, at Caddyfile:4`,
		"paynotify test_careless {\n\tsecret s\n\tregion a b\n}":       `region: two values, at Caddyfile:4`,
	} {
		caddyfile := ":8080 {\n" + input + "\n}\n"
		_, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(caddyfile), map[string]any{"filename": "Caddyfile"})
		if assert.Error(t, err, input) {
			assert.Contains(t, err.Error(), want)
			assert.NotContains(t, err.Error(), "s3cr3t", "no value in the message")
		}
	}
}
