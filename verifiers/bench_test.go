package verifiers

import (
	"bytes"
	"cmp"
	"context"
	"crypto"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"hash"
	"maps"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The benchmarks below put the cost of verifying and normalizing one
// realistic genuine notification (BenchmarkVerify) next to the cost of the
// bare keyed hash its scheme requires over the same signed bytes
// (BenchmarkCryptoFloor), so that the ratio to the crypto floor is visible:
//
//	go test ./verifiers -run '^$' -bench . -benchmem -count 5
//
// The floor comes in two variants per provider:
//
//	BenchmarkCryptoFloor/<provider>/naive     a fresh hmac.New (or sha256.New) per
//	                                          notification, as a straightforward
//	                                          implementation does
//	BenchmarkCryptoFloor/<provider>/prekeyed  one hash reused via Reset, so the
//	                                          keyed inner/outer pad state is
//	                                          precomputed and Sum writes into a
//	                                          reused buffer: the lowest a
//	                                          verifier could go with pooled state
//
// (A benchmark with sub-benchmarks reports nothing itself, so the naive floor
// cannot be BenchmarkCryptoFloor/<provider> next to .../<provider>/prekeyed.)
//
// The signed bytes are rebuilt here from the request, independently of the
// verifiers' own code, and each floor checks once, before timing, that its
// digest equals the signature the request carries: it hashes exactly what
// Verify has to hash. Each Verify benchmark fails if the notification is
// refused or yields no event, so it cannot measure a rejection path.

// benchCase is one realistic genuine notification of a provider.
type benchCase struct {
	provider string
	// name is the sub-benchmark's name when a provider has several cases
	// (hmac's configurations); default the provider's.
	name   string
	file   string // under testdata/, without .http
	config options
	// newHash is the HMAC's hash; nil for oobit, whose signature is a bare
	// SHA-256 of the signed values followed by the secret.
	newHash func() hash.Hash
	// signed, when set, rebuilds the signed bytes and decodes the signature
	// of the providers added after the seeds (benchSigned has the seeds').
	signed func(b *testing.B, req *Request) (signed, want []byte)
	// key is the HMAC key when it is not the first secret's bytes (Adyen's
	// hex-decoded key, Standard Webhooks' base64-decoded one).
	key []byte
	// rsaKey, for the public-key providers, makes the floor the bare
	// SHA256withRSA verify of signed (want is then the raw signature).
	rsaKey *rsa.PublicKey
}

var benchCases = []benchCase{
	{provider: "octo3", file: "octo3/accepted", config: octo3Config, newHash: sha1.New},
	{provider: "thedao", file: "thedao/thedao", config: octo3Config, newHash: sha1.New},
	{provider: "checkout", file: "checkout/payment_captured", config: checkoutConfig, newHash: sha256.New},
	{provider: "octopus", file: "octopus/completed", config: octopusConfig, newHash: sha256.New},
	{provider: "oobit", file: "oobit/approved_get", config: oobitConfig},
}

func BenchmarkVerify(b *testing.B) {
	for _, bc := range benchCases {
		b.Run(cmp.Or(bc.name, bc.provider), func(b *testing.B) {
			v := mustNew(b, bc.provider, bc.config)
			req := goldenRequest(b, filepath.FromSlash(bc.file))
			// Verify must not consume or alter the request, or every
			// iteration after the first would verify something else.
			body := bytes.Clone(req.Body)
			header := req.Header.Clone()
			rawQuery := req.RawQuery
			ctx := context.Background()
			// Once before timing: fails early on a refusal, and builds the
			// package's lazy tables (the ISO 4217 index) outside the loop.
			if events, err := v.Verify(ctx, req); err != nil || len(events) == 0 {
				b.Fatalf("%s refused: %v (%d events)", bc.file, err, len(events))
			}
			b.ReportAllocs()
			b.SetBytes(int64(len(req.Body) + len(req.RawQuery)))
			for b.Loop() {
				events, err := v.Verify(ctx, req)
				if err != nil {
					b.Fatalf("%s refused: %v", bc.file, err)
				}
				if len(events) == 0 {
					b.Fatalf("%s: no event", bc.file)
				}
			}
			if !bytes.Equal(req.Body, body) || req.RawQuery != rawQuery || !equalHeader(req.Header, header) {
				b.Fatalf("%s: Verify altered the request", bc.file)
			}
		})
	}
}

func BenchmarkCryptoFloor(b *testing.B) {
	for _, bc := range benchCases {
		b.Run(cmp.Or(bc.name, bc.provider), func(b *testing.B) {
			req := goldenRequest(b, filepath.FromSlash(bc.file))
			var signed, want []byte
			if bc.signed != nil {
				signed, want = bc.signed(b, req)
			} else {
				signed, want = benchSigned(b, bc.provider, req)
			}
			if bc.rsaKey != nil {
				benchRSA(b, bc.rsaKey, signed, want)
				return
			}
			// The request is signed with the first secret; rotation secrets
			// after it are never tried for a genuine notification.
			key := []byte(bc.config.Secrets[0])
			if bc.key != nil {
				key = bc.key
			}
			if bc.newHash == nil {
				benchSHA256Suffix(b, signed, key, want)
			} else {
				benchHMAC(b, bc.newHash, signed, key, want)
			}
		})
	}
}

// benchRSA measures the bare SHA256withRSA verify of sig over signed: the
// SHA-256 of the signed bytes and the RSA public-key operation. There is no
// key state to precompute, so it has one variant, "naive" (the name keeps
// the sub-benchmarks' shape).
func benchRSA(b *testing.B, key *rsa.PublicKey, signed, sig []byte) {
	b.Run("naive", func(b *testing.B) {
		digest := sha256.Sum256(signed)
		if rsa.VerifyPKCS1v15(key, crypto.SHA256, digest[:], sig) != nil {
			b.Fatal("the floor does not verify what the provider signed")
		}
		b.ReportAllocs()
		b.SetBytes(int64(len(signed)))
		for b.Loop() {
			digest := sha256.Sum256(signed)
			if rsa.VerifyPKCS1v15(key, crypto.SHA256, digest[:], sig) != nil {
				b.Fatal("refused")
			}
		}
	})
}

// benchHMAC measures the HMAC of signed under key.
func benchHMAC(b *testing.B, newHash func() hash.Hash, signed, key, want []byte) {
	b.Run("naive", func(b *testing.B) {
		h := hmac.New(newHash, key)
		h.Write(signed)
		if !hmac.Equal(h.Sum(nil), want) {
			b.Fatal("the floor does not hash what the provider signed")
		}
		b.ReportAllocs()
		b.SetBytes(int64(len(signed)))
		for b.Loop() {
			h := hmac.New(newHash, key)
			h.Write(signed)
			h.Sum(nil)
		}
	})
	b.Run("prekeyed", func(b *testing.B) {
		// The first Reset of a crypto/hmac whose hash can marshal its state
		// saves the keyed ipad/opad states; later Resets restore them
		// instead of hashing the key blocks again.
		h := hmac.New(newHash, key)
		h.Reset()
		sum := make([]byte, 0, h.Size())
		h.Write(signed)
		if !hmac.Equal(h.Sum(sum), want) {
			b.Fatal("the floor does not hash what the provider signed")
		}
		b.ReportAllocs()
		b.SetBytes(int64(len(signed)))
		for b.Loop() {
			h.Reset()
			h.Write(signed)
			sum = h.Sum(sum[:0])
		}
	})
}

// benchSHA256Suffix measures oobit's SHA-256(signed + key). The key comes
// last, so there is no key state to precompute: "prekeyed" is a reused
// digest writing its sum into a reused buffer.
func benchSHA256Suffix(b *testing.B, signed, key, want []byte) {
	b.Run("naive", func(b *testing.B) {
		d := sha256.New()
		d.Write(signed)
		d.Write(key)
		if !hmac.Equal(d.Sum(nil), want) {
			b.Fatal("the floor does not hash what the provider signed")
		}
		b.ReportAllocs()
		b.SetBytes(int64(len(signed) + len(key)))
		for b.Loop() {
			d := sha256.New()
			d.Write(signed)
			d.Write(key)
			d.Sum(nil)
		}
	})
	b.Run("prekeyed", func(b *testing.B) {
		d := sha256.New()
		sum := make([]byte, 0, sha256.Size)
		b.ReportAllocs()
		b.SetBytes(int64(len(signed) + len(key)))
		for b.Loop() {
			d.Reset()
			d.Write(signed)
			d.Write(key)
			sum = d.Sum(sum[:0])
		}
		if !hmac.Equal(sum, want) {
			b.Fatal("the floor does not hash what the provider signed")
		}
	})
}

// benchSigned rebuilds the bytes the provider signed and decodes the
// signature the request carries, without the verifiers' own code.
func benchSigned(b *testing.B, provider string, req *Request) (signed, want []byte) {
	b.Helper()
	var err error
	switch provider {
	case "octo3", "thedao":
		// The values of every non-empty field but secure_hash, in the order
		// of the lower-cased field names.
		var form url.Values
		if form, err = url.ParseQuery(string(req.Body)); err != nil {
			b.Fatal(err)
		}
		names := make([]string, 0, len(form))
		for name, values := range form {
			if name != "secure_hash" && values[0] != "" {
				names = append(names, name)
			}
		}
		slices.SortFunc(names, func(x, y string) int {
			if c := strings.Compare(strings.ToLower(x), strings.ToLower(y)); c != 0 {
				return c
			}
			return strings.Compare(x, y)
		})
		for _, name := range names {
			signed = append(signed, form.Get(name)...)
		}
		want, err = hex.DecodeString(form.Get("secure_hash"))
	case "checkout":
		// The raw body.
		signed = req.Body
		want, err = hex.DecodeString(req.Header.Get("Cko-Signature"))
	case "octopus":
		// The top-level fields sorted by key as k=v joined with &: a string
		// as its content, a number or boolean as sent, an object or array as
		// compact JSON, null left out.
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(req.Body, &fields); err != nil {
			b.Fatal(err)
		}
		for _, k := range slices.Sorted(maps.Keys(fields)) {
			raw := bytes.TrimSpace(fields[k])
			var value []byte
			switch raw[0] {
			case 'n':
				continue
			case '"':
				var s string
				if err := json.Unmarshal(raw, &s); err != nil {
					b.Fatal(err)
				}
				value = []byte(s)
			case '{', '[':
				var buf bytes.Buffer
				if err := json.Compact(&buf, raw); err != nil {
					b.Fatal(err)
				}
				value = buf.Bytes()
			default:
				value = raw
			}
			if len(signed) > 0 {
				signed = append(signed, '&')
			}
			signed = append(append(append(signed, k...), '='), value...)
		}
		want, err = hex.DecodeString(req.Header.Get("OC-Signature"))
	case "oobit":
		// trans_id + trans_order + reply_code + trans_amount + trans_currency.
		var query url.Values
		if query, err = url.ParseQuery(req.RawQuery); err != nil {
			b.Fatal(err)
		}
		for _, name := range []string{"trans_id", "trans_order", "reply_code", "trans_amount", "trans_currency"} {
			signed = append(signed, query.Get(name)...)
		}
		want, err = base64.StdEncoding.DecodeString(strings.ReplaceAll(query.Get("signature"), " ", "+"))
	default:
		b.Fatalf("no signed bytes for provider %q", provider)
	}
	if err != nil {
		b.Fatal(err)
	}
	if len(signed) == 0 || len(want) == 0 {
		b.Fatalf("%s: nothing signed or no signature", provider)
	}
	return signed, want
}

func equalHeader(x, y map[string][]string) bool {
	if len(x) != len(y) {
		return false
	}
	for k, v := range x {
		if !slices.Equal(v, y[k]) {
			return false
		}
	}
	return true
}
