package verifiers

import (
	"fmt"
	"strings"
	"sync"
	"time"
)

// TimedHMACHeader is the signature header shape Stripe and Paddle share: one
// header of name=value elements carrying a signed Unix time and one or more
// hex HMACs of "<time><Join><body>":
//
//	Stripe-Signature: t=1714558830,v1=<hex>,v1=<hex>,v0=<hex>
//	Paddle-Signature: ts=1714558830;h1=<hex>;h1=<hex>
//
// Several signatures are sent while the provider rolls a secret; any one
// that matches one of the configured secrets passes. Elements of other
// schemes (Stripe's v0, Paddle's h2) are ignored, as the providers' SDKs
// ignore them. Names are matched exactly, as the SDKs match them: "T=" or
// " v1=" are elements of some other scheme.
type TimedHMACHeader struct {
	Header string // Stripe-Signature
	Sep    string // between elements: "," or ";"
	Time   string // the time's element name: t, ts
	Scheme string // the signatures' element name: v1, h1
	Join   byte   // between the time and the body in the signed bytes: '.' or ':'
}

// maxSignatureElements bounds the elements of one signature header: a
// provider sends a time and a few signatures.
const maxSignatureElements = 16

// Check verifies the header's values (r.Header.Values(h.Header)) over body:
// exactly one header, exactly one time element within tolerance of now in
// either direction, and one of its signatures the HMAC of the signed bytes
// under one of keys. Signatures that are not hex of the HMAC's length are
// skipped, as the SDKs skip them; a header without a usable one is refused.
// Errors wrap ErrSignature and name elements, never values.
func (h TimedHMACHeader) Check(values []string, keys *HMACKeys, body []byte, now time.Time, tolerance time.Duration) error {
	var decoded [maxSignatureElements * 64]byte // up to SHA-512's size each
	var list [maxSignatureElements][]byte
	ts, sigs, err := h.parse(values, keys.Size(), decoded[:], list[:0])
	if err != nil {
		return err
	}
	// The time first: checking it costs nothing, and a stale notification
	// is refused whatever its signature.
	if CheckTimestamp("", ts, now, tolerance) != nil {
		// Again, for a refusal that names the element (the name is only
		// built for a refusal).
		return CheckTimestamp(h.Header+" "+h.Time, ts, now, tolerance)
	}
	buf := signedBuffers.Get().(*[]byte)
	signed := append(append(append((*buf)[:0], ts...), h.Join), body...)
	ok := keys.Match(signed, sigs...)
	if cap(signed) <= 64<<10 { // keep the pool's buffers small
		*buf = signed
		signedBuffers.Put(buf)
	}
	if !ok {
		return fmt.Errorf("%w: no %s signature of %s matches one of the %d configured secrets", ErrSignature, h.Scheme, h.Header, keys.Secrets())
	}
	return nil
}

// signedBuffers hold the signed bytes "<time><join><body>" while they are
// hashed, so that a notification costs no copy of its body on the heap.
var signedBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 4<<10); return &b }}

// parse returns the time element's value and the signatures, decoded into
// decoded and listed in sigs (both the caller's, so that they can stay on
// its stack).
func (h TimedHMACHeader) parse(values []string, size int, decoded []byte, sigs [][]byte) (ts string, _ [][]byte, err error) {
	switch {
	case len(values) == 0 || len(values) == 1 && values[0] == "":
		return "", nil, fmt.Errorf("%w: no %s header", ErrSignature, h.Header)
	case len(values) > 1:
		return "", nil, fmt.Errorf("%w: %d %s headers, want one", ErrSignature, len(values), h.Header)
	}
	header := values[0]
	if n := strings.Count(header, h.Sep) + 1; n > maxSignatureElements {
		return "", nil, fmt.Errorf("%w: %s has %d elements, more than %d", ErrSignature, h.Header, n, maxSignatureElements)
	}
	if size*maxSignatureElements > len(decoded) {
		return "", nil, fmt.Errorf("%w: %s: digest too large", ErrSignature, h.Header)
	}
	seenTime, schemes := false, 0
	for element := range strings.SplitSeq(header, h.Sep) {
		name, value, ok := strings.Cut(element, "=")
		if !ok || name == "" {
			return "", nil, fmt.Errorf("%w: %s is not a list of name=value elements", ErrSignature, h.Header)
		}
		switch name {
		case h.Time:
			if seenTime {
				return "", nil, fmt.Errorf("%w: %s has more than one %s", ErrSignature, h.Header, h.Time)
			}
			seenTime, ts = true, value
		case h.Scheme:
			schemes++
			sig := decoded[len(sigs)*size : (len(sigs)+1)*size]
			if decodeHex(sig, value) {
				sigs = append(sigs, sig)
			}
		}
	}
	switch {
	case !seenTime:
		return "", nil, fmt.Errorf("%w: %s has no %s", ErrSignature, h.Header, h.Time)
	case schemes == 0:
		return "", nil, fmt.Errorf("%w: %s has no %s signature (other schemes are not accepted)", ErrSignature, h.Header, h.Scheme)
	case len(sigs) == 0:
		return "", nil, fmt.Errorf("%w: no %s signature of %s is a hex HMAC-SHA256", ErrSignature, h.Scheme, h.Header)
	}
	return ts, sigs, nil
}

// Sign returns the header value for body signed at the Unix time ts with the
// first of keys, for test notifications.
func (h TimedHMACHeader) Sign(keys *HMACKeys, ts string, body []byte) (string, error) {
	signed := append(append([]byte(ts), h.Join), body...)
	sig, err := signHex(keys, signed)
	if err != nil {
		return "", err
	}
	return h.Time + "=" + ts + h.Sep + h.Scheme + "=" + sig, nil
}

// joinPaths lists paths for an error message: "a, then b".
func joinPaths(paths []JSONPath) string {
	s := make([]string, len(paths))
	for i, p := range paths {
		s[i] = p.String()
	}
	return strings.Join(s, ", then ")
}
