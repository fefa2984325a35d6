package verifiers

import (
	"bytes"
	"crypto/hmac"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"net/http"
	"net/url"
	"strings"
)

// What the signers of the providers share: caddy paynotify sign builds test
// notifications with them. They are tested against the independent signers
// of internal/simulator.

// FlatFields turns the fields of a Draft into the strings a form or query
// carries: every value must be a string or a number.
func FlatFields(fields map[string]any) (map[string]string, error) {
	f := make(map[string]string, len(fields))
	for k, v := range fields {
		switch v := v.(type) {
		case string:
			f[k] = v
		case json.Number:
			f[k] = v.String()
		default:
			return nil, fmt.Errorf("field %s: a form field is a string or a number, not %T", k, v)
		}
	}
	return f, nil
}

// EncodeForm is url.Values.Encode of single values: sorted by name.
func EncodeForm(f map[string]string) string {
	v := make(url.Values, len(f))
	for k, s := range f {
		v.Set(k, s)
	}
	return v.Encode()
}

// MarshalCompact is compact JSON without HTML escaping, as providers send it
// (object members sorted by name).
func MarshalCompact(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// HexHMAC is the lower-case hex HMAC of message.
func HexHMAC(newHash func() hash.Hash, key []byte, message []byte) string {
	m := hmac.New(newHash, key)
	m.Write(message)
	return hex.EncodeToString(m.Sum(nil))
}

// signingKey is the first configured secret, which test notifications are
// signed with.
func signingKey(keys [][]byte) ([]byte, error) {
	if len(keys) == 0 {
		return nil, &OptionError{Option: "secret", Msg: "required to sign"}
	}
	return keys[0], nil
}

// newNotification is a POST of body to path with the given content type.
func newNotification(path, contentType string, body []byte) Notification {
	return Notification{Method: http.MethodPost, Path: path, Header: http.Header{"Content-Type": {contentType}}, Body: body}
}

// alnum keeps the ASCII letters and digits of s, for example references.
func alnum(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' {
			return r
		}
		return -1
	}, s)
}

// digitsOf keeps the ASCII digits of s.
func digitsOf(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, s)
}
