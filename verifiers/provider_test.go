package verifiers

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"maps"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/paynotify/paynotify/internal/standin"
)

// options are the seed providers' options as a test sets them. newVerifier
// loads them the way Caddy loads a provider module: found by name in the
// module registry, its JSON decoded strictly (an option the provider does
// not have is an unknown field), then provisioned.
type options struct {
	Secrets       []string `json:"secrets,omitempty"`
	Algorithm     string   `json:"algorithm,omitempty"`
	AmountUnit    string   `json:"amount_unit,omitempty"`
	SignatureOff  bool     `json:"signature_off,omitempty"`
	Authorization string   `json:"authorization,omitempty"`
	Key           string   `json:"key,omitempty"`
	// Extra are the other options, by their JSON name (tolerance, url, …).
	Extra map[string]any `json:"-"`
}

// MarshalJSON merges Extra into the options' JSON.
func (o options) MarshalJSON() ([]byte, error) {
	type plain options
	raw, err := json.Marshal(plain(o))
	if err != nil || len(o.Extra) == 0 {
		return raw, err
	}
	all := map[string]any{}
	if err := json.Unmarshal(raw, &all); err != nil {
		return nil, err
	}
	maps.Copy(all, o.Extra)
	return json.Marshal(all)
}

// with returns o with the extra option name set to value.
func (o options) with(name string, value any) options {
	extra := maps.Clone(o.Extra)
	if extra == nil {
		extra = map[string]any{}
	}
	extra[name] = value
	o.Extra = extra
	return o
}

// completeOptions are, per provider, the Caddyfile options besides secret
// that TestEveryProviderIsComplete configures (a provider's required ones,
// such as square's url), one per line.
// INQUIRE in them is the base URL of a stand-in provider API
// (internal/standin), and completeStandin tells it, per inquiring provider,
// about the transaction of the signed notification n, made of fields.
var completeOptions = map[string]string{}

var completeStandin = map[string]func(api *standin.API, n Notification, fields map[string]any){}

// completeKeys are, per public-key provider, the private key its example is
// signed with (the private half of its public_key in completeOptions).
var completeKeys = map[string]*rsa.PrivateKey{}

func newVerifier(name string, o options) (Provider, error) {
	p, err := LookupProvider(name)
	if err != nil {
		return nil, err
	}
	raw, err := json.Marshal(o)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(p); err != nil {
		return nil, err
	}
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	return p, p.Provision(ctx)
}

func TestCheckTimestamp(t *testing.T) {
	now := time.Unix(1714558830, 0)
	for value, want := range map[string]string{
		"1714558830":           "",
		"1714558530":           "", // 5m old: at the tolerance
		"1714559130":           "", // 5m ahead
		"1714558529":           "5m1s old, over the tolerance of 5m0s",
		"1714559131":           "5m1s in the future",
		"":                     "no t",
		"+1714558830":          "not a Unix time",
		"1714558830.5":         "not a Unix time",
		" 1714558830":          "not a Unix time",
		"99999999999999999999": "not a Unix time",
		// Centuries away, where time.Time.Sub saturates: still refused.
		"11000000000":  "in the future",
		"999999999999": "in the future",
		"0":            "old",
	} {
		err := CheckTimestamp("t", value, now, 5*time.Minute)
		if want == "" {
			assert.NoError(t, err, value)
			continue
		}
		if assert.ErrorIs(t, err, ErrSignature, value) {
			assert.Contains(t, err.Error(), want, value)
		}
	}
}

// TestEveryProviderIsComplete: every provider module in the registry
// describes itself, documents its options, and, configured with a secret
// through its own Caddyfile option, builds a test notification that it
// accepts as one event.
func TestEveryProviderIsComplete(t *testing.T) {
	api := standin.New()
	apiServer := httptest.NewServer(api)
	defer apiServer.Close()
	names := Providers()
	require.Subset(t, names, []string{"checkout", "octo3", "octopus", "oobit", "thedao"})
	for _, name := range names {
		p, err := LookupProvider(name)
		require.NoError(t, err)
		assert.NotEmpty(t, p.About().Scheme, name)
		assert.NotZero(t, p.ACK().Status, name)
		assert.NotEmpty(t, p.Methods(), name)
		for _, opt := range p.Options() {
			assert.NotEmpty(t, opt.Doc, name+" "+opt.Name)
			assert.NotNil(t, opt.Parse, name+" "+opt.Name)
		}
		signer, signs := p.(Signer)
		require.True(t, signs, "%s has a test signer", name)

		// A provider whose secret has a format (Adyen's hex key) gives its
		// own secret line in completeOptions.
		// A provider without a secret (PayPal IPN) has no secret line.
		config := strings.ReplaceAll(completeOptions[name], "INQUIRE", apiServer.URL)
		hasSecret := slices.ContainsFunc(p.Options(), func(o Option) bool { return o.Name == "secret" })
		if hasSecret && !strings.HasPrefix(config, "secret ") {
			config = "secret test-secret\n" + config
		}
		d := caddyfile.NewTestDispenser(config)
		for d.Next() {
			i := slices.IndexFunc(p.Options(), func(o Option) bool { return o.Name == d.Val() })
			require.GreaterOrEqual(t, i, 0, "%s has no option %s", name, d.Val())
			require.NoError(t, ParseOption(d, p.Options()[i]), name)
		}
		require.NoError(t, p.CheckConfig(), name)
		ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
		require.NoError(t, p.Provision(ctx), name)
		cancel()
		now := time.Now()
		fields := signer.Example("ORD-1", now)
		n, err := signer.Sign(Draft{Fields: fields, Path: "/n", Now: now, PrivateKey: completeKeys[name]})
		require.NoError(t, err, name)
		if tell := completeStandin[name]; tell != nil {
			tell(api, n, fields)
		}
		_, query, _ := strings.Cut(n.Path, "?")
		events, err := p.Verify(context.Background(), &Request{Method: n.Method, Header: n.Header, RawQuery: query,
			Body: n.Body, ReceivedAt: now})
		require.NoError(t, err, name)
		require.NotEmpty(t, events, name)
		assert.Equal(t, "ORD-1", events[0].OrderID, name)
	}
}

func TestHMACKeysMatchAnySignatureUnderAnySecret(t *testing.T) {
	msg := []byte("1700000000.{}")
	sum := func(secret string) []byte {
		h := hmac.New(sha256.New, []byte(secret))
		h.Write(msg)
		return h.Sum(nil)
	}
	keys := NewHMACKeys(sha256.New, [][]byte{[]byte("new"), []byte("old")})
	assert.Equal(t, 32, keys.Size())
	assert.Equal(t, 2, keys.Secrets())
	assert.True(t, keys.Match(msg, sum("new")))
	assert.True(t, keys.Match(msg, sum("old")), "the second secret (rotation)")
	assert.True(t, keys.Match(msg, []byte("short"), sum("other"), sum("old")), "any one of several signatures")
	assert.False(t, keys.Match(msg, sum("other")))
	assert.False(t, keys.Match(msg, sum("new")[:16]), "a truncated signature")
	assert.False(t, keys.Match(msg))
	assert.False(t, keys.Match([]byte("1700000000.{ }"), sum("new")))
}
