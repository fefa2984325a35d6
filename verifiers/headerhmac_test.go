package verifiers

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"hash"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestHeaderHMAC: the signature header razorpay, square and paystack share
// accepts the HMAC of prefix+body under any secret, in its one encoding and
// length, given once.
func TestHeaderHMAC(t *testing.T) {
	body := []byte(`{"a":1}`)
	mac := func(newHash func() hash.Hash, secret, prefix string) []byte {
		h := hmac.New(newHash, []byte(secret))
		h.Write([]byte(prefix))
		h.Write(body)
		return h.Sum(nil)
	}
	keys := NewHMACKeys(sha256.New, [][]byte{[]byte("new"), []byte("old")})

	b64 := newHeaderHMAC("X-Sig", keys)
	b64.base64, b64.prefix = true, []byte("https://x.example/n")
	good := base64.StdEncoding.EncodeToString(mac(sha256.New, "old", "https://x.example/n"))
	// The same bytes with an unused bit of the last character set: a second
	// text of the signature, which Square's SDK (comparing text) refuses.
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	loose := good[:42] + string(alphabet[strings.IndexByte(alphabet, good[42])|1]) + "="
	decoded, err := base64.StdEncoding.DecodeString(loose)
	require.NoError(t, err)
	require.Equal(t, mac(sha256.New, "old", "https://x.example/n"), decoded, "the lax decoder reads the same bytes")
	for value, want := range map[string]string{
		good: "",
		base64.StdEncoding.EncodeToString(mac(sha256.New, "new", "https://x.example/n")):   "",
		base64.StdEncoding.EncodeToString(mac(sha256.New, "new", "")):                      "matches none of the 2 configured secrets",
		base64.StdEncoding.EncodeToString(mac(sha256.New, "other", "https://x.example/n")): "matches none",
		strings.TrimRight(good, "="):                                          "not a base64 HMAC",
		base64.URLEncoding.EncodeToString([]byte(strings.Repeat("\xff", 32))): "not a base64 HMAC",
		loose: "not a base64 HMAC",
		hex.EncodeToString(mac(sha256.New, "new", "https://x.example/n")): "not a base64 HMAC",
		"": "no X-Sig header",
	} {
		err := b64.check(http.Header{"X-Sig": {value}}, body)
		if want == "" {
			assert.NoError(t, err, value)
			continue
		}
		if assert.ErrorIs(t, err, ErrSignature, value) {
			assert.Contains(t, err.Error(), want, value)
			if value != "" {
				assert.NotContains(t, err.Error(), value, "a header value in an error")
			}
		}
	}
	assert.ErrorContains(t, b64.check(http.Header{}, body), "no X-Sig header")
	assert.ErrorContains(t, b64.check(http.Header{"X-Sig": {good, good}}, body), "X-Sig header given 2 times")

	// Hex, SHA-512: either case; no prefix, no other length.
	k512 := NewHMACKeys(sha512.New, [][]byte{[]byte("sk")})
	hx := newHeaderHMAC("x-paystack-signature", k512)
	assert.Equal(t, "X-Paystack-Signature", hx.key)
	sum := hex.EncodeToString(mac(sha512.New, "sk", ""))
	var signed string
	assert.NoError(t, hx.check(http.Header{"X-Paystack-Signature": {sum}}, body))
	assert.NoError(t, hx.check(http.Header{"X-Paystack-Signature": {strings.ToUpper(sum)}}, body))
	assert.ErrorContains(t, hx.check(http.Header{"X-Paystack-Signature": {sum[:64]}}, body), "not a hex HMAC")
	assert.ErrorContains(t, hx.check(http.Header{"X-Paystack-Signature": {" " + sum}}, body), "not a hex HMAC")
	signed, err = hx.sign(body)
	require.NoError(t, err)
	assert.Equal(t, sum, signed)
}

func TestIDText(t *testing.T) {
	for in, want := range map[string]string{`302961`: "302961", `"302961"`: "302961", `"ab\u0063"`: "abc", `null`: ""} {
		var id idText
		require.NoError(t, json.Unmarshal([]byte(in), &id), in)
		assert.Equal(t, want, string(id), in)
	}
	for _, in := range []string{`true`, `{"a":1}`, `[1]`} {
		var id idText
		assert.Error(t, json.Unmarshal([]byte(in), &id), in)
	}
}

// TestDefaultOrderIDsAreThePaths: the providers read the default order_id
// paths from their decoded structs, not by walking the body once per path;
// for every accepted golden request the result is what the paths say.
func TestDefaultOrderIDsAreThePaths(t *testing.T) {
	for _, p := range []struct {
		provider string
		config   options
		paths    []JSONPath
	}{
		{"razorpay", razorpayConfig, razorpayOrderIDs},
		{"square", squareConfig, squareOrderIDs},
		{"paystack", paystackConfig, paystackOrderIDs},
	} {
		v := mustNew(t, p.provider, p.config)
		files, err := filepath.Glob(filepath.Join("..", "testdata", p.provider, "*.event.json"))
		require.NoError(t, err)
		checked := 0
		for _, file := range files {
			name := filepath.Join(p.provider, strings.TrimSuffix(filepath.Base(file), ".event.json"))
			req := goldenRequest(t, name)
			events, err := v.Verify(t.Context(), req)
			if err != nil {
				continue // another config's golden request (a vector)
			}
			want, _, err := FirstText(req.Body, p.paths...)
			require.NoError(t, err)
			assert.Equal(t, want, events[0].OrderID, name)
			checked++
		}
		assert.Greater(t, checked, 8, p.provider)
	}
}
