package verifiers

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
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

// signHex is the lower-case hex HMAC of message under the first secret.
func signHex(k *HMACKeys, message []byte) (string, error) {
	if k == nil || len(k.pools) == 0 {
		return "", &OptionError{Option: "secret", Msg: "required to sign (is the provider provisioned?)"}
	}
	return hex.EncodeToString(k.Sum(message)), nil
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
