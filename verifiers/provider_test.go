package verifiers

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
}

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

		d := caddyfile.NewTestDispenser("secret test-secret")
		d.Next()
		for _, opt := range p.Options() {
			if opt.Name == "secret" {
				require.NoError(t, opt.Parse(d))
			}
		}
		require.NoError(t, p.CheckConfig(), name)
		ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
		require.NoError(t, p.Provision(ctx), name)
		cancel()
		now := time.Now()
		n, err := signer.Sign(Draft{Fields: signer.Example("ORD-1", now), Path: "/n", Now: now})
		require.NoError(t, err, name)
		_, query, _ := strings.Cut(n.Path, "?")
		events, err := p.Verify(context.Background(), &Request{Method: n.Method, Header: n.Header, RawQuery: query,
			Body: n.Body, ReceivedAt: now})
		require.NoError(t, err, name)
		require.Len(t, events, 1, name)
		assert.Equal(t, "ORD-1", events[0].OrderID, name)
	}
}
