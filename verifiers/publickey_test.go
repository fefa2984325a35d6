package verifiers

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testRSAKey is one 2048-bit key for the tests of this file (generating
// one takes a while).
var testRSAKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

func pemText(kind string, der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}))
}

func selfSigned(t *testing.T, key *rsa.PrivateKey, serial uint64, notAfter time.Time) []byte {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: new(big.Int).SetUint64(serial), Subject: pkix.Name{CommonName: "test"},
		NotBefore: notAfter.Add(-365 * 24 * time.Hour), NotAfter: notAfter}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	return der
}

func TestParsePublicKeyForms(t *testing.T) {
	key := testRSAKey()
	spki, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	require.NoError(t, err)
	pkcs1 := x509.MarshalPKCS1PublicKey(&key.PublicKey)
	cert := selfSigned(t, key, 0xD7CE59D1F522D701, time.Now().Add(24*time.Hour))
	file := filepath.Join(t.TempDir(), "alipay.pub")
	require.NoError(t, os.WriteFile(file, []byte(pemText("PUBLIC KEY", spki)), 0o600))
	t.Setenv("PAYNOTIFY_TEST_PUBKEY", base64.StdEncoding.EncodeToString(spki))

	for name, value := range map[string]string{
		"PEM PUBLIC KEY":          pemText("PUBLIC KEY", spki),
		"PEM RSA PUBLIC KEY":      pemText("RSA PUBLIC KEY", pkcs1),
		"PEM CERTIFICATE":         pemText("CERTIFICATE", cert),
		"base64 SPKI":             base64.StdEncoding.EncodeToString(spki),
		"base64 SPKI with breaks": strings.Join(strings.SplitAfter(base64.StdEncoding.EncodeToString(spki), "A"), "\n"),
		"base64 PKCS1":            base64.StdEncoding.EncodeToString(pkcs1),
		"base64 certificate":      base64.StdEncoding.EncodeToString(cert),
		"{file.*}":                "{file." + file + "}",
		"{env.*}":                 "{env.PAYNOTIFY_TEST_PUBKEY}",
	} {
		t.Run(name, func(t *testing.T) {
			pk, err := ParsePublicKey("public_key", value)
			require.NoError(t, err)
			assert.True(t, pk.Key.Equal(&key.PublicKey))
			if strings.Contains(name, "ertificate") || strings.Contains(name, "CERTIFICATE") {
				require.NotNil(t, pk.Cert)
				assert.Equal(t, "D7CE59D1F522D701", strings.ToUpper(pk.Cert.SerialNumber.Text(16)))
			} else {
				assert.Nil(t, pk.Cert)
			}
		})
	}
}

func TestParsePublicKeyRefusals(t *testing.T) {
	key := testRSAKey()
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	require.NoError(t, err)
	pkcs1 := x509.MarshalPKCS1PrivateKey(key)
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	require.NoError(t, err)
	smallDER, err := x509.MarshalPKIXPublicKey(&small.PublicKey)
	require.NoError(t, err)
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	ecDER, err := x509.MarshalPKIXPublicKey(&ec.PublicKey)
	require.NoError(t, err)
	spki, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	require.NoError(t, err)
	cert := selfSigned(t, key, 7, time.Now().Add(time.Hour))

	for name, c := range map[string]struct{ value, want string }{
		"PEM PKCS8 private key":   {pemText("PRIVATE KEY", pkcs8), "private key"},
		"PEM PKCS1 private key":   {pemText("RSA PRIVATE KEY", pkcs1), "private key"},
		"base64 PKCS8 private":    {base64.StdEncoding.EncodeToString(pkcs8), "private key"},
		"base64 PKCS1 private":    {base64.StdEncoding.EncodeToString(pkcs1), "private key"},
		"RSA 1024":                {base64.StdEncoding.EncodeToString(smallDER), "1024 bits"},
		"EC key":                  {pemText("PUBLIC KEY", ecDER), "not an RSA key"},
		"garbage":                 {"not a key at all!", "neither PEM nor base64"},
		"base64 of nothing":       {base64.StdEncoding.EncodeToString([]byte("hello world")), "not a readable public key"},
		"two PEM blocks":          {pemText("PUBLIC KEY", spki) + pemText("PUBLIC KEY", spki), "more than one PEM block"},
		"other PEM type":          {pemText("CERTIFICATE REQUEST", spki), "not a public key"},
		"broken PEM":              {"-----BEGIN PUBLIC KEY-----\nAAAA", "unreadable PEM"},
		"empty":                   {"", "empty"},
		"unset env":               {"{env.PAYNOTIFY_TEST_UNSET_KEY}", "empty"},
		"placeholder typo":        {"{env:X}", "a typo?"},
		"missing file":            {"{file./nonexistent/alipay.pub}", "public_key"},
		"truncated base64 SPKI":   {base64.StdEncoding.EncodeToString(spki[:100]), "not a readable public key"},
		"public key after a cert": {pemText("CERTIFICATE", cert) + pemText("PUBLIC KEY", spki), "more than one PEM block"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ParsePublicKey("public_key", c.value)
			require.Error(t, err)
			var oe *OptionError
			require.ErrorAs(t, err, &oe)
			assert.Equal(t, "public_key", oe.Option)
			assert.Contains(t, err.Error(), c.want)
			if len(c.value) > 40 {
				// Never the value: it could be a private key.
				assert.NotContains(t, err.Error(), c.value[len(c.value)/2:len(c.value)/2+16])
			}
		})
	}
}

// An expired certificate loads (a configuration that keeps the previous
// key during a rotation goes on loading), with a warning, and says it has
// expired so that the providers do not verify with it.
func TestParsePublicKeyExpiredCertificate(t *testing.T) {
	key := testRSAKey()
	notAfter := time.Now().Add(-time.Hour)
	pk, err := ParsePublicKey("public_key", pemText("CERTIFICATE", selfSigned(t, key, 0x0A1B, notAfter)))
	require.NoError(t, err)
	assert.True(t, pk.Expired(time.Now()))
	assert.False(t, pk.Expired(notAfter.Add(-time.Minute)), "before it expired")
	assert.Contains(t, pk.ExpiredWarning(time.Now()), "the certificate with serial 0A1B expired on "+notAfter.UTC().Format(time.DateOnly))
	fresh, err := ParsePublicKey("public_key", pemText("CERTIFICATE", selfSigned(t, key, 7, time.Now().Add(time.Hour))))
	require.NoError(t, err)
	assert.False(t, fresh.Expired(time.Now()))
	assert.Empty(t, fresh.ExpiredWarning(time.Now()))
	bare, err := ParsePublicKey("public_key", base64.StdEncoding.EncodeToString(x509.MarshalPKCS1PublicKey(&key.PublicKey)))
	require.NoError(t, err)
	assert.False(t, bare.Expired(time.Now().Add(100*365*24*time.Hour)), "a bare key never expires")
}

func TestParsePrivateKeyAndSign(t *testing.T) {
	key := testRSAKey()
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	require.NoError(t, err)
	for name, text := range map[string]string{
		"PEM PKCS8":    pemText("PRIVATE KEY", pkcs8),
		"PEM PKCS1":    pemText("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(key)),
		"base64 PKCS8": base64.StdEncoding.EncodeToString(pkcs8),
		"base64 PKCS1": base64.StdEncoding.EncodeToString(x509.MarshalPKCS1PrivateKey(key)),
	} {
		t.Run(name, func(t *testing.T) {
			priv, err := ParsePrivateKey([]byte(text))
			require.NoError(t, err)
			assert.True(t, SamePublicKey(priv, &key.PublicKey))
		})
	}
	spki, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	_, err = ParsePrivateKey([]byte(pemText("PUBLIC KEY", spki)))
	assert.ErrorContains(t, err, "not a private key")

	msg := []byte("1624523846\nnonce\n{}\n")
	sig, err := SignSHA256RSA(key, msg)
	require.NoError(t, err)
	assert.True(t, VerifySHA256RSA(&key.PublicKey, msg, sig))
	assert.False(t, VerifySHA256RSA(&key.PublicKey, append(msg, 'x'), sig), "another message")
	raw, _ := base64.StdEncoding.DecodeString(sig)
	assert.False(t, VerifySHA256RSA(&key.PublicKey, msg, base64.RawStdEncoding.EncodeToString(raw)), "unpadded")
	assert.False(t, VerifySHA256RSA(&key.PublicKey, msg, base64.URLEncoding.EncodeToString(raw)), "URL alphabet")
	assert.False(t, VerifySHA256RSA(&key.PublicKey, msg, base64.StdEncoding.EncodeToString(raw[1:])), "short")
	assert.False(t, VerifySHA256RSA(&key.PublicKey, msg, ""), "empty")
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	assert.False(t, VerifySHA256RSA(&other.PublicKey, msg, sig), "another key")
}

// The demo key pairs of examples/keys are pairs, and their public halves
// are accepted as public_key (Caddyfile.example and the smoke test use them).
func TestDemoKeyPairs(t *testing.T) {
	for _, name := range []string{"alipay", "wechatpay"} {
		priv, err := os.ReadFile(filepath.Join("..", "examples", "keys", name+"-demo.pem"))
		require.NoError(t, err)
		pub, err := os.ReadFile(filepath.Join("..", "examples", "keys", name+"-demo.pub"))
		require.NoError(t, err)
		key, err := ParsePrivateKey(priv)
		require.NoError(t, err)
		pk, err := ParsePublicKey("public_key", string(pub))
		require.NoError(t, err)
		assert.True(t, SamePublicKey(key, pk.Key), name)
	}
}
