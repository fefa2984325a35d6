package verifiers

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// What razorpay, square and paystack share: a JSON POST of one event whose
// signature is one request header carrying the HMAC, in hex or in base64,
// of the raw body, after a fixed prefix for Square (its notification URL).
// The providers differ only in the header, the hash, the encoding and the
// prefix, and in how they read the event.

// headerHMAC is a signature header: its value is the HMAC of prefix
// followed by the raw body, under one of the configured secrets.
type headerHMAC struct {
	header string // as the provider's documentation writes it
	key    string // header as http.CanonicalHeaderKey writes it
	base64 bool   // standard base64 with padding; else hex, in either case
	prefix []byte // signed before the body; nil for most providers
	keys   *HMACKeys
	// hint is added to the reason of a signature that matches no secret
	// (Square: the url option may not be the URL Square posts to).
	hint string
}

// newHeaderHMAC is the signature header named header.
func newHeaderHMAC(header string, keys *HMACKeys) headerHMAC {
	return headerHMAC{header: header, key: http.CanonicalHeaderKey(header), keys: keys}
}

// check authenticates body by the signature header of h. The header must
// be given once: a proxy that appends a second value, or a sender that
// sends two, leaves which one counts to chance.
func (s *headerHMAC) check(h http.Header, body []byte) error {
	value, err := oneValue(h[s.key], s.header, ErrSignature)
	if err != nil {
		return err
	}
	var buf [72]byte // the largest digest of crypto's hashes, and room for base64's last group
	sig, ok := decodeMAC(buf[:], value, s.keys.Size(), s.base64)
	if !ok {
		return fmt.Errorf("%w: %s header is not a %s HMAC of the provider's algorithm", ErrSignature, s.header, s.encodingName())
	}
	if !s.keys.match(s.prefix, body, [][]byte{sig}) {
		reason := fmt.Sprintf("%s header matches none of the %d configured secrets", s.header, s.keys.Secrets())
		if s.hint != "" {
			reason += "; " + s.hint
		}
		return fmt.Errorf("%w: %s", ErrSignature, reason)
	}
	return nil
}

func (s *headerHMAC) encodingName() string {
	if s.base64 {
		return "base64"
	}
	return "hex"
}

// sign returns the signature header's value for body under the first secret.
func (s *headerHMAC) sign(body []byte) (string, error) {
	if s.keys == nil || s.keys.Secrets() == 0 {
		return "", &OptionError{Option: "secret", Msg: "required to sign (is the provider provisioned?)"}
	}
	sum := s.keys.Sum(append(append([]byte(nil), s.prefix...), body...))
	if s.base64 {
		return base64.StdEncoding.EncodeToString(sum), nil
	}
	return hex.EncodeToString(sum), nil
}

// orderIDSource is where order_id is read from: the order_id option's
// path when it is set, else the provider's default paths, whose values the
// provider has already decoded (read is given them, in the paths' order),
// so that the body is not walked once more for each path.
type orderIDSource struct {
	custom   JSONPath // the order_id option; nil: the defaults
	defaults []JSONPath
}

// newOrderIDSource parses the order_id option; "" is the defaults.
func newOrderIDSource(option string, defaults []JSONPath) (orderIDSource, error) {
	o := orderIDSource{defaults: defaults}
	if option == "" {
		return o, nil
	}
	p, err := ParseJSONPath(option)
	if err != nil {
		return o, &OptionError{Option: "order_id", Msg: err.Error()}
	}
	o.custom = p
	return o, nil
}

// read returns the order id: the text at the custom path in the body (root), else the
// first non-empty of values, the decoded values of the default paths. An
// event the app acts on (a mapped status) without one is ErrMalformed,
// naming the paths tried; an unmapped event is forwarded without it.
func (o orderIDSource) read(root jsonValue, status Status, values ...string) (string, error) {
	paths := o.defaults
	if o.custom != nil {
		id, err := root.Path(o.custom).Text(o.custom)
		if err != nil || id != "" {
			return id, err
		}
		paths = []JSONPath{o.custom}
	} else {
		for _, id := range values {
			if id != "" {
				return id, nil
			}
		}
	}
	if status == StatusUnknown {
		return "", nil
	}
	names := make([]string, len(paths))
	for i, p := range paths {
		names[i] = p.String()
	}
	return "", fmt.Errorf("%w: no order id at %s (set order_id to where your orders' reference is)", ErrMalformed, strings.Join(names, " or "))
}

// unixTime reads a Unix time in seconds as a provider sends it (a JSON
// number); the zero time (occurred_at omitted) when it is not one.
func unixTime(s string) time.Time {
	if len(s) > 12 || !isDigits(s) {
		return time.Time{}
	}
	secs, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}
	}
	return time.Unix(secs, 0).UTC()
}
