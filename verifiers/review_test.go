package verifiers

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The findings of the review of the providers added after the seeds, each
// a request or configuration that was accepted, or crashed, before its fix.

// A signature header longer than a base64 HMAC-SHA512 decoded past the
// verifier's buffer and panicked, before anything was authenticated.
func TestHMACLongBase64SignatureIsRefused(t *testing.T) {
	v := mustNew(t, "hmac", tsConfig)
	for _, n := range []int{87, 88, 89, 200, 4096} {
		req := goldenRequest(t, "hmac/timestamped_succeeded")
		req.Header.Set("X-Webhook-Signature", strings.Repeat("A", n))
		require.NotPanics(t, func() {
			events, err := v.Verify(context.Background(), req)
			assert.ErrorIs(t, err, ErrSignature, "length %d", n)
			assert.Empty(t, events)
		}, "length %d", n)
	}
}

// An unsigned id header was the dedup key: a captured genuine body resent
// under another id was a new event. The replay key follows the signed
// content instead; the event keeps the provider's id.
func TestUnsignedEventIDHeaderDoesNotMakeANewEvent(t *testing.T) {
	for _, tc := range []struct {
		provider, file, header string
		config                 options
	}{
		{"razorpay", "razorpay/payment_captured", "X-Razorpay-Event-Id", razorpayConfig},
		{"hmac", "hmac/github_sponsorship", "X-GitHub-Delivery", ghConfig},
	} {
		t.Run(tc.provider, func(t *testing.T) {
			v := mustNew(t, tc.provider, tc.config)
			genuine, err := v.Verify(context.Background(), goldenRequest(t, tc.file))
			require.NoError(t, err)
			replay := goldenRequest(t, tc.file)
			replay.Header.Set(tc.header, "replayed-under-another-id")
			replayed, err := v.Verify(context.Background(), replay)
			require.NoError(t, err, "the body is genuine")
			assert.Equal(t, "replayed-under-another-id", replayed[0].ID, "the id the app sees is the header's")
			require.NotEmpty(t, genuine[0].ReplayKey)
			assert.Equal(t, genuine[0].ReplayKey, replayed[0].ReplayKey, "one dedup key for one signed body")

			other := goldenRequest(t, tc.file)
			other.Body = []byte(strings.Replace(string(other.Body), "}", ` }`, 1))
			assert.NotEqual(t, genuine[0].ReplayKey, BodyReplayKey(tc.provider, other.Body), "another body, another key")
		})
	}
}

// Adyen's hmacSignature is compared as decoded bytes; base64 whose unused
// bits are set decoded to the same MAC, so four texts passed for one.
func TestAdyenNonCanonicalBase64IsRefused(t *testing.T) {
	v := mustNew(t, "adyen", adyenConfig)
	req := goldenRequest(t, "adyen/authorisation")
	_, err := v.Verify(context.Background(), req)
	require.NoError(t, err)
	const canonical = `"hmacSignature":"`
	i := strings.Index(string(req.Body), canonical)
	require.GreaterOrEqual(t, i, 0)
	sigEnd := i + len(canonical) + 43 // the last data character, before '='
	last := req.Body[sigEnd-1]
	alphabet := "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	pos := strings.IndexByte(alphabet, last)
	require.Zero(t, pos%4, "a canonical 32-byte signature leaves the last two bits clear")
	body := []byte(string(req.Body))
	body[sigEnd-1] = alphabet[pos+1]
	req.Body = body
	_, err = v.Verify(context.Background(), req)
	assert.ErrorIs(t, err, ErrSignature)
}

// {header.Host} could never match: net/http keeps Host out of the header
// map. It is refused at load, and {url} named instead.
func TestHMACTemplateCannotSignHost(t *testing.T) {
	_, err := newVerifier("hmac", options{Secrets: []string{"s"}, Extra: map[string]any{
		"header": "X-Sig", "signed": "{header.Host}{body}"}})
	var oe *OptionError
	require.ErrorAs(t, err, &oe)
	assert.Equal(t, "signed", oe.Option)
	assert.Contains(t, oe.Msg, "{url}")
}
