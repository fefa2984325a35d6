package simulator

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"hash"
	"net/http"
	"slices"
	"strings"

	"github.com/paynotify/paynotify/verifiers"
)

// The signers below share only the generic encodings (form, compact JSON)
// with package verifiers, not the schemes.

// Draft is a notification before it is signed: its fields as a JSON object
// (the provider module's Example gives a complete one).
// For the form and query providers (octo3, thedao, oobit) every value must
// be a string or a number; checkout and octopus send the object as JSON.
type Draft struct {
	Provider string
	Fields   map[string]any
	// Method is oobit's: GET (default, a query string) or POST (a form).
	Method string
	// Algorithm is octo3/thedao's: hmac-sha1 (default) or hmac-sha256.
	Algorithm string
	// Authorization (checkout) and Key (octopus OC-Key) are sent as headers
	// when set.
	Authorization, Key string
}

// Sign builds d as provider sends it, signed with secret, aimed at path.
func Sign(d Draft, secret, path string) (Message, error) {
	m := Message{Provider: d.Provider, Method: http.MethodPost, Path: path, Header: http.Header{}, ACKStatus: http.StatusOK}
	switch d.Provider {
	case "octo3", "thedao":
		f, err := verifiers.FlatFields(d.Fields)
		if err != nil {
			return m, err
		}
		h := sha1.New
		switch d.Algorithm {
		case "", "hmac-sha1":
		case "hmac-sha256":
			h = sha256.New
		default:
			return m, fmt.Errorf("algorithm %q is not hmac-sha1 or hmac-sha256", d.Algorithm)
		}
		f["secure_hash"] = octo3Sum(f, h, secret)
		m.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		m.Body, m.ACKBody = []byte(verifiers.EncodeForm(f)), "ACK"
	case "checkout":
		body, err := verifiers.MarshalCompact(d.Fields)
		if err != nil {
			return m, err
		}
		m.Header.Set("Content-Type", "application/json")
		m.Header.Set("Cko-Signature", hexHMAC(sha256.New, secret, string(body)))
		if d.Authorization != "" {
			m.Header.Set("Authorization", d.Authorization)
		}
		m.Body = body
	case "octopus":
		// OC-Signature: HMAC-SHA256 of the top-level fields sorted by name,
		// k=v joined by &: a string as its content, null left out, anything
		// else as its JSON text.
		var signed []string
		var members [][]byte
		for _, k := range sortedKeys(d.Fields) {
			value, err := verifiers.MarshalCompact(d.Fields[k])
			if err != nil {
				return m, err
			}
			name, _ := verifiers.MarshalCompact(k)
			members = append(members, append(append(name, ':'), value...))
			var s string
			switch {
			case string(value) == "null":
				continue
			case json.Unmarshal(value, &s) == nil:
			default:
				s = string(value)
			}
			signed = append(signed, k+"="+s)
		}
		m.Header.Set("Content-Type", "application/json")
		m.Header.Set("Oc-Signature", hexHMAC(sha256.New, secret, strings.Join(signed, "&")))
		if d.Key != "" {
			m.Header.Set("Oc-Key", d.Key)
		}
		m.Body = append(append([]byte("{"), bytes.Join(members, []byte(","))...), '}')
		m.ACKBody = "success"
	case "oobit":
		f, err := verifiers.FlatFields(d.Fields)
		if err != nil {
			return m, err
		}
		// signature: base64 of the SHA-256 of trans_id, trans_order,
		// reply_code, trans_amount, trans_currency and the hash key.
		sum := sha256.Sum256([]byte(f["trans_id"] + f["trans_order"] + f["reply_code"] + f["trans_amount"] +
			f["trans_currency"] + secret))
		f["signature"] = base64.StdEncoding.EncodeToString(sum[:])
		switch d.Method {
		case "", http.MethodGet:
			m.Method, m.Path = http.MethodGet, path+"?"+verifiers.EncodeForm(f)
		case http.MethodPost:
			m.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			m.Body = []byte(verifiers.EncodeForm(f))
		default:
			return m, fmt.Errorf("oobit sends GET or POST, not %s", d.Method)
		}
		m.ACKBody = "OK"
	default:
		return m, fmt.Errorf("unknown provider %q (one of %s)", d.Provider, strings.Join(Providers, ", "))
	}
	return m, nil
}

// octo3Sum: the values of the non-empty fields but secure_hash, in the
// order of their lower-cased names, HMAC, hex.
func octo3Sum(f map[string]string, h func() hash.Hash, secret string) string {
	names := sortedKeys(f)
	slices.SortStableFunc(names, func(a, b string) int { return strings.Compare(strings.ToLower(a), strings.ToLower(b)) })
	var b strings.Builder
	for _, n := range names {
		if n != "secure_hash" {
			b.WriteString(f[n])
		}
	}
	return hexHMAC(h, secret, b.String())
}
