package verifiers

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"hash"
	"io"
	"mime"
	"net/url"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/go-json-experiment/json/jsontext"
)

const (
	formType = "application/x-www-form-urlencoded"
	jsonType = "application/json"
)

// parseForm parses an application/x-www-form-urlencoded body strictly: a
// field given twice, a field without a name, bad escapes or invalid UTF-8 are
// refused, because the provider's signer and the merchant's app could read
// such a body differently from this verifier.
func parseForm(contentType string, body []byte) (map[string]string, error) {
	if err := checkContentType(contentType, formType); err != nil {
		return nil, err
	}
	return parseURLEncoded(string(body))
}

// parseURLEncoded parses a form body or a query string as parseForm does.
func parseURLEncoded(encoded string) (map[string]string, error) {
	values, err := url.ParseQuery(encoded)
	if err != nil {
		return nil, fmt.Errorf("%w: form: %v", ErrMalformed, err)
	}
	fields := make(map[string]string, len(values))
	for name, vals := range values {
		switch {
		case name == "":
			return nil, fmt.Errorf("%w: form field without a name", ErrMalformed)
		case len(vals) > 1:
			return nil, fmt.Errorf("%w: form field %.40q given %d times", ErrMalformed, name, len(vals))
		case !utf8.ValidString(name) || !utf8.ValidString(vals[0]):
			return nil, fmt.Errorf("%w: form field %.40q is not valid UTF-8", ErrMalformed, name)
		}
		fields[name] = vals[0]
	}
	return fields, nil
}

// checkContentType refuses a body that does not declare the media type want.
func checkContentType(contentType, want string) error {
	if contentType == want {
		// What mime.ParseMediaType accepts and returns unchanged for the
		// wanted types, which are lower-case tokens without parameters.
		return nil
	}
	mediaType, _, err := mime.ParseMediaType(contentType)
	if err != nil || mediaType != want {
		return fmt.Errorf("%w: content type %.60q, want %s", ErrMalformed, contentType, want)
	}
	return nil
}

// maxJSONDepth bounds the nesting of a JSON body; notifications are shallow.
const maxJSONDepth = 32

// checkJSON accepts a body that is one JSON object, valid UTF-8, without a
// key given twice in any object and at most maxJSONDepth deep. The signature
// covers the bytes, but encoding/json keeps the last of two equal keys, other
// parsers the first, and invalid UTF-8 is silently replaced: the app could
// read another notification than the one that was verified. Keys that differ
// only in case count as the same key, because encoding/json matches struct
// fields regardless of case ("Type" fills Type as "type" does) while PHP and
// Python keep them apart.
func checkJSON(body []byte) error {
	if !utf8.Valid(body) {
		return fmt.Errorf("%w: body is not valid UTF-8", ErrMalformed)
	}
	if trimmed := bytes.TrimLeft(body, " \t\r\n"); len(trimmed) == 0 || trimmed[0] != '{' {
		return fmt.Errorf("%w: body is not a JSON object", ErrMalformed)
	}
	// jsontext reads tokens without reflection. Duplicate names are checked
	// here, folded, so that its own (exact) check is switched off.
	dec := jsontext.NewDecoder(bytes.NewReader(body), jsontext.AllowDuplicateNames(true))
	var names []*objectNames // per open container: an object's names so far, nil for an array
	for {
		tok, err := dec.ReadToken()
		if err != nil {
			return fmt.Errorf("%w: JSON: %v", ErrMalformed, err)
		}
		depth := dec.StackDepth()
		switch kind := tok.Kind(); kind {
		case '{', '[':
			if depth-1 > maxJSONDepth {
				return fmt.Errorf("%w: JSON nested too deep", ErrMalformed)
			}
			if kind == '[' && depth > maxJSONDepth && dec.PeekKind() != ']' {
				return fmt.Errorf("%w: JSON nested too deep", ErrMalformed) // its elements would be
			}
			var keys *objectNames
			if kind == '{' {
				keys = &objectNames{}
			}
			names = append(names, keys)
		case '}', ']':
			names = names[:len(names)-1]
		default:
			if parent, n := dec.StackIndex(depth); parent == '{' && n%2 == 1 {
				// An object member's name.
				if key := tok.String(); !names[len(names)-1].add(key) {
					return fmt.Errorf("%w: JSON key %.40q given twice", ErrMalformed, key)
				}
				if depth > maxJSONDepth {
					return fmt.Errorf("%w: JSON nested too deep", ErrMalformed) // its value would be
				}
				continue
			}
			if depth > maxJSONDepth {
				return fmt.Errorf("%w: JSON nested too deep", ErrMalformed)
			}
		}
		if depth == 0 {
			break // the object is complete
		}
	}
	if _, err := dec.ReadToken(); err != io.EOF {
		return fmt.Errorf("%w: data after the JSON object", ErrMalformed)
	}
	return nil
}

// objectNames are the names of one JSON object, compared as foldKey folds
// them: in a list while there are few, in a set beyond that.
type objectNames struct {
	list []string
	set  map[string]bool // of foldKey, once the list is full
}

// add adds key and reports whether no name equal to it was there.
func (o *objectNames) add(key string) bool {
	const listMax = 16
	if o.set == nil {
		for _, k := range o.list {
			if strings.EqualFold(k, key) { // foldKey's equivalence: simple folding
				return false
			}
		}
		if len(o.list) < listMax {
			o.list = append(o.list, key)
			return true
		}
		o.set = make(map[string]bool, 2*listMax)
		for _, k := range o.list {
			o.set[foldKey(k)] = true
		}
	}
	folded := foldKey(key)
	if o.set[folded] {
		return false
	}
	o.set[folded] = true
	return true
}

// hmacKeys holds the keyed HMAC states of a verifier's secrets: one pool per
// secret, in the secrets' order, of hmac.New states whose keyed inner and
// outer pads were saved by a first Reset, so that a notification costs no
// key schedule and no allocation.
type hmacKeys struct {
	size  int         // the digest size in bytes
	pools []sync.Pool // of *pooledMAC
}

// pooledMAC is one keyed HMAC state and a buffer its Sum writes into.
type pooledMAC struct {
	h   hash.Hash
	sum []byte
}

func newHMACKeys(newHash func() hash.Hash, secrets [][]byte) *hmacKeys {
	k := &hmacKeys{size: newHash().Size(), pools: make([]sync.Pool, len(secrets))}
	for i, secret := range secrets {
		secret := bytes.Clone(secret)
		k.pools[i].New = func() any {
			h := hmac.New(newHash, secret)
			h.Reset() // saves the keyed pads; later Resets restore them
			return &pooledMAC{h: h, sum: make([]byte, 0, h.Size())}
		}
	}
	return k
}

// checkHexHMAC checks that given, the value of the signature field or header
// named name, is the hex HMAC of message under one of the secrets (either
// hex case). Every secret is tried, so that a secret can be rotated.
func checkHexHMAC(name, given string, keys *hmacKeys, message []byte) error {
	if given == "" {
		return fmt.Errorf("%w: no %s", ErrSignature, name)
	}
	var buf [64]byte // the largest digest of crypto's hashes
	if keys.size > len(buf) || len(given) != 2*keys.size || !decodeHex(buf[:keys.size], given) {
		return fmt.Errorf("%w: %s is not a hex HMAC of the configured algorithm", ErrSignature, name)
	}
	mac := buf[:keys.size]
	for i := range keys.pools {
		pool := &keys.pools[i]
		m := pool.Get().(*pooledMAC)
		m.h.Reset()
		m.h.Write(message)
		m.sum = m.h.Sum(m.sum[:0])
		ok := hmac.Equal(m.sum, mac)
		pool.Put(m)
		if ok {
			return nil
		}
	}
	return fmt.Errorf("%w: %s matches none of the %d configured secrets", ErrSignature, name, len(keys.pools))
}

// decodeHex decodes s, of exactly 2*len(dst) hex digits in either case, into
// dst; it accepts what hex.DecodeString accepts.
func decodeHex(dst []byte, s string) bool {
	if len(s) != 2*len(dst) {
		return false
	}
	for i := range dst {
		hi, ok1 := fromHexChar(s[2*i])
		lo, ok2 := fromHexChar(s[2*i+1])
		if !ok1 || !ok2 {
			return false
		}
		dst[i] = hi<<4 | lo
	}
	return true
}

func fromHexChar(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// refuseShadowingQuery refuses a query string that names a form field, one
// that was posted or one of the provider's documented fields. The query is
// not signed, and an app that merges query and form parameters (Servlet
// getParameter, Flask request.values) could read its value instead of the
// signed one when the original request is forwarded.
func refuseShadowingQuery(rawQuery string, posted map[string]string, documented map[string]bool) error {
	query, err := url.ParseQuery(rawQuery)
	if err != nil {
		return fmt.Errorf("%w: query string: %v", ErrMalformed, err)
	}
	for name := range query {
		if _, ok := posted[name]; ok || documented[name] {
			return fmt.Errorf("%w: query parameter %.40q would shadow a signed form field", ErrMalformed, name)
		}
	}
	return nil
}

// foldKey maps each rune to the smallest rune of its case-folding orbit, as
// encoding/json does when it matches a key to a struct field: "Type",
// "TYPE" and "type" fold alike, and so do "ſource" (long s) and "source".
func foldKey(key string) string {
	var b strings.Builder
	for _, r := range key {
		min := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			if f < min {
				min = f
			}
		}
		b.WriteRune(min)
	}
	return b.String()
}

// equalCredential compares a credential header with its configured value in
// constant time, without leaking the length of either: both are hashed
// first. want is the SHA-256 of the configured value, hashed once by
// newCredential.
func equalCredential(given string, want *[sha256.Size]byte) bool {
	g := sha256.Sum256([]byte(given))
	return hmac.Equal(g[:], want[:])
}

// newCredential hashes a configured credential for equalCredential.
func newCredential(value string) *[sha256.Size]byte {
	sum := sha256.Sum256([]byte(value))
	return &sum
}
