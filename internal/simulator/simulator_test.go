package simulator

import (
	"context"
	"encoding/json"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/paynotify/paynotify/verifiers"
)

var testKeys = Keys{Octo3: "o3", TheDAO: "dao", Checkout: "cko", CheckoutAuthorization: "auth", Octopus: "oct", OctopusKey: "ockey", Oobit: "oob"}

func verify(t *testing.T, m Message) ([]verifiers.Event, error) {
	v, err := testKeys.Verifier(m.Provider)
	require.NoError(t, err)
	return v.Verify(context.Background(), m.VerifierRequest(netip.MustParseAddr("127.0.0.1"), time.Now()))
}

// TestSignersAgreeWithTheVerifiers: a genuine message of every provider
// verifies, and each hostile one that a verifier can judge on its own is
// refused (the source, size and method are checked by the Caddy handler).
func TestSignersAgreeWithTheVerifiers(t *testing.T) {
	for _, provider := range Providers {
		t.Run(provider, func(t *testing.T) {
			m := Genuine(provider, "G-000042", testKeys)
			events, err := verify(t, m)
			require.NoError(t, err)
			require.Len(t, events, 1)
			assert.Equal(t, "G-000042", events[0].OrderID)
			assert.Equal(t, verifiers.StatusSucceeded, events[0].Status)

			for _, attack := range []string{"tampered", "wrong_secret", "unsigned", "malformed", "wrong_method"} {
				h := Hostile(provider, "H-000042", attack, testKeys)
				_, err := verify(t, h)
				assert.Error(t, err, attack)
			}
			oversized := Hostile(provider, "H-000043", "oversized", testKeys)
			assert.Greater(t, len(oversized.Body), 64<<10, "oversized is over the default max_body")
			assert.Equal(t, "192.0.2.66", Hostile(provider, "H-000044", "forbidden_source", testKeys).Header.Get("X-Forwarded-For"))
		})
	}
}

func TestOobitMessageIsAQuery(t *testing.T) {
	m := Genuine("oobit", "G-1", testKeys)
	_, query, ok := strings.Cut(m.Path, "?")
	require.True(t, ok)
	v, err := url.ParseQuery(query)
	require.NoError(t, err)
	assert.Equal(t, "G-1", v.Get("trans_order"))
}

// TestProviderSignersAgreeWithTheIndependentSigners: caddy paynotify sign
// uses each provider module's own signer; for the same fields and options it
// builds the same request, byte for byte, as the signers written here apart
// from the verifiers, and that request verifies.
func TestProviderSignersAgreeWithTheIndependentSigners(t *testing.T) {
	now := time.Date(2024, 5, 1, 10, 20, 30, 0, time.UTC)
	cases := []struct {
		provider string
		config   string
		draft    Draft
		method   string
	}{
		{"octo3", `{"secrets":["o3"]}`, Draft{}, ""},
		{"octo3", `{"secrets":["o3"],"algorithm":"hmac-sha256"}`, Draft{Algorithm: "hmac-sha256"}, ""},
		{"thedao", `{"secrets":["o3"]}`, Draft{}, ""},
		{"checkout", `{"secrets":["o3"],"authorization":"Bearer a"}`, Draft{Authorization: "Bearer a"}, ""},
		{"checkout", `{"secrets":["o3"]}`, Draft{}, ""},
		{"octopus", `{"secrets":["o3"],"key":"ockey"}`, Draft{Key: "ockey"}, ""},
		{"oobit", `{"secrets":["o3"]}`, Draft{}, ""},
		{"oobit", `{"secrets":["o3"]}`, Draft{Method: http.MethodPost}, http.MethodPost},
	}
	for _, tc := range cases {
		t.Run(tc.provider+tc.config+tc.method, func(t *testing.T) {
			p, err := verifiers.LookupProvider(tc.provider)
			require.NoError(t, err)
			require.NoError(t, json.Unmarshal([]byte(tc.config), p))
			ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
			defer cancel()
			require.NoError(t, p.Provision(ctx))
			signer := p.(verifiers.Signer)

			fields := signer.Example("ORD-2024/05-0001", now)
			n, err := signer.Sign(verifiers.Draft{Fields: fields, Path: "/n", Method: tc.method, Now: now})
			require.NoError(t, err)
			d := tc.draft
			d.Provider, d.Fields = tc.provider, fields
			m, err := Sign(d, "o3", "/n")
			require.NoError(t, err)
			assert.Equal(t, m.Method, n.Method)
			assert.Equal(t, m.Path, n.Path)
			assert.Equal(t, m.Header, n.Header)
			assert.Equal(t, string(m.Body), string(n.Body))

			events, err := p.Verify(context.Background(), m.VerifierRequest(netip.MustParseAddr("127.0.0.1"), now))
			require.NoError(t, err)
			require.Len(t, events, 1)
			assert.Equal(t, "ORD-2024/05-0001", events[0].OrderID)
			assert.Equal(t, verifiers.StatusSucceeded, events[0].Status)
			assert.Equal(t, p.ACK().Body, m.ACKBody)
		})
	}
}
