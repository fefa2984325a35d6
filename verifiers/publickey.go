package verifiers

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"
)

// What the public-key providers (alipay, wechatpay) share: reading the
// provider's RSA public key from the configuration, checking a SHA256withRSA
// signature, and, for caddy paynotify sign, reading a private key.

// MinRSABits is the smallest RSA key accepted: both providers issue
// 2048-bit keys, and a shorter one is a key that was never theirs.
const MinRSABits = 2048

// PublicKey is an RSA public key read from an option, with the certificate
// it came in when it came in one.
type PublicKey struct {
	Key *rsa.PublicKey
	// Cert is the certificate the key was given in, or nil for a bare key.
	Cert *x509.Certificate
}

// ParsePublicKey reads the RSA public key an option gives: a PEM public key
// (PUBLIC KEY or RSA PUBLIC KEY), a PEM certificate, or the same in base64
// DER on one line (as Alipay's console shows its public key), after the
// {env.*} and {file.*} placeholders are resolved. A private key given by
// mistake, a key that is not RSA and an RSA key under MinRSABits are
// refused. The errors name option and never quote the value, which could be
// a private key.
//
// An expired certificate is read: a configuration that keeps the previous
// key during a rotation must go on loading once that key's certificate
// expires. The providers warn at load (ExpiredWarning) and do not verify
// with it once it has expired (Expired).
func ParsePublicKey(option, value string) (PublicKey, error) {
	fail := func(format string, args ...any) (PublicKey, error) {
		return PublicKey{}, &OptionError{Option: option, Msg: fmt.Sprintf(format, args...)}
	}
	resolved, err := ResolveSecret(value)
	if err != nil {
		return fail("%v", err)
	}
	der, kind, err := readDER([]byte(resolved))
	if err != nil {
		return fail("%v", err)
	}
	if kind != "" && strings.Contains(kind, "PRIVATE KEY") || kind == "" && isPrivateKeyDER(der) {
		return fail("this is a private key; give the provider's public key (and keep the private key out of the configuration)")
	}
	var pk PublicKey
	var key any
	switch kind {
	case "PUBLIC KEY":
		key, err = x509.ParsePKIXPublicKey(der)
	case "RSA PUBLIC KEY":
		key, err = x509.ParsePKCS1PublicKey(der)
	case "CERTIFICATE":
		pk.Cert, err = x509.ParseCertificate(der)
	case "": // base64 DER: whichever of the three it is
		if key, err = x509.ParsePKIXPublicKey(der); err != nil {
			if key, err = x509.ParsePKCS1PublicKey(der); err != nil {
				pk.Cert, err = x509.ParseCertificate(der)
			}
		}
	default:
		return fail("a PEM block of type %q is not a public key or a certificate", kind)
	}
	if err != nil {
		// x509's own reasons are ASN.1 internals, of no use to an operator.
		return fail("not a readable public key or certificate: the DER inside is not a SubjectPublicKeyInfo, a PKCS #1 public key or an X.509 certificate (a truncated copy?)")
	}
	if pk.Cert != nil {
		key = pk.Cert.PublicKey
	}
	rk, ok := key.(*rsa.PublicKey)
	if !ok {
		return fail("the key is %T, not an RSA key (the provider signs with RSA)", key)
	}
	if rk.N.BitLen() < MinRSABits {
		return fail("an RSA key of %d bits; the provider's keys have at least %d", rk.N.BitLen(), MinRSABits)
	}
	pk.Key = rk
	return pk, nil
}

// Expired reports whether the key came in a certificate that has expired
// at now.
func (pk PublicKey) Expired(now time.Time) bool {
	return pk.Cert != nil && now.After(pk.Cert.NotAfter)
}

// ExpiredWarning is the warning to log at load for a key whose certificate
// has expired at now ("" when it has not): the provider no longer signs
// with it, and notifications it signs are refused.
func (pk PublicKey) ExpiredWarning(now time.Time) string {
	if !pk.Expired(now) {
		return ""
	}
	return fmt.Sprintf("the certificate with serial %X expired on %s: notifications signed under it are refused; remove it once the provider signs with a newer key",
		pk.Cert.SerialNumber.Bytes(), pk.Cert.NotAfter.UTC().Format(time.DateOnly))
}

// readDER returns the DER bytes of a PEM block (with its type) or of base64
// text (type "").
func readDER(text []byte) (der []byte, kind string, err error) {
	text = bytes.TrimSpace(text)
	if len(text) == 0 {
		return nil, "", errors.New("empty (is the {env.*} or {file.*} placeholder set?)")
	}
	if bytes.HasPrefix(text, []byte("-----BEGIN ")) {
		block, rest := pem.Decode(text)
		if block == nil {
			return nil, "", errors.New("an unreadable PEM block")
		}
		if len(bytes.TrimSpace(rest)) > 0 {
			return nil, "", errors.New("more than one PEM block; give one key or one certificate")
		}
		return block.Bytes, block.Type, nil
	}
	compact := bytes.Map(func(r rune) rune {
		if r == ' ' || r == '\n' || r == '\r' || r == '\t' {
			return -1
		}
		return r
	}, text)
	der = make([]byte, base64.StdEncoding.DecodedLen(len(compact)))
	n, err := base64.StdEncoding.Strict().Decode(der, compact)
	if err != nil {
		return nil, "", errors.New("neither PEM nor base64 DER")
	}
	return der[:n], "", nil
}

func isPrivateKeyDER(der []byte) bool {
	if _, err := x509.ParsePKCS8PrivateKey(der); err == nil {
		return true
	}
	if _, err := x509.ParsePKCS1PrivateKey(der); err == nil {
		return true
	}
	_, err := x509.ParseECPrivateKey(der)
	return err == nil
}

// ParsePrivateKey reads an RSA private key (PKCS #1 or PKCS #8, PEM or
// base64 DER), for caddy paynotify sign.
func ParsePrivateKey(text []byte) (*rsa.PrivateKey, error) {
	der, kind, err := readDER(text)
	if err != nil {
		return nil, err
	}
	var key any
	switch kind {
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(der)
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(der)
	case "":
		if key, err = x509.ParsePKCS8PrivateKey(der); err != nil {
			key, err = x509.ParsePKCS1PrivateKey(der)
		}
	default:
		return nil, fmt.Errorf("a PEM block of type %q is not a private key", kind)
	}
	if err != nil {
		return nil, errors.New("not a readable RSA private key (PKCS #1 or PKCS #8)")
	}
	rk, ok := key.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("the key is %T, not an RSA key", key)
	}
	return rk, nil
}

// VerifySHA256RSA reports whether sig, standard base64, is the
// SHA256withRSA (RSASSA-PKCS1-v1_5) signature of message under key. A
// signature that is not canonical base64 or not exactly the key's size is
// false.
func VerifySHA256RSA(key *rsa.PublicKey, message []byte, sig string) bool {
	size := key.Size()
	if base64.StdEncoding.EncodedLen(size) != len(sig) {
		return false
	}
	// DecodedLen is up to two bytes over size (the padding).
	var buf [1026]byte // up to 8192-bit keys without an allocation
	var raw []byte
	if n := base64.StdEncoding.DecodedLen(len(sig)); n > len(buf) {
		raw = make([]byte, n)
	} else {
		raw = buf[:n]
	}
	n, err := base64.StdEncoding.Strict().Decode(raw, []byte(sig))
	if err != nil || n != size {
		return false
	}
	digest := sha256.Sum256(message)
	return rsa.VerifyPKCS1v15(key, crypto.SHA256, digest[:], raw[:n]) == nil
}

// SignSHA256RSA is the standard base64 SHA256withRSA signature of message,
// for the test signers.
func SignSHA256RSA(key *rsa.PrivateKey, message []byte) (string, error) {
	digest := sha256.Sum256(message)
	sig, err := rsa.SignPKCS1v15(nil, key, crypto.SHA256, digest[:])
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(sig), nil
}

// SamePublicKey reports whether priv is the private half of pub.
func SamePublicKey(priv *rsa.PrivateKey, pub *rsa.PublicKey) bool {
	return priv != nil && pub != nil && priv.PublicKey.Equal(pub)
}
