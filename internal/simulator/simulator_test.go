package simulator

import (
	"context"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/paynotify/paynotify/verifiers"
)

var testKeys = Keys{Octo3: "o3", TheDAO: "dao", Checkout: "cko", CheckoutAuthorization: "auth", Octopus: "oct", OctopusKey: "ockey", Oobit: "oob"}

func verify(t *testing.T, m Message) ([]verifiers.Event, error) {
	v, err := verifiers.New(m.Provider, testKeys.VerifierConfig(m.Provider))
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
