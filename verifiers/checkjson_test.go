package verifiers

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"unicode/utf8"
)

// refCheckJSON is CheckJSON as it was with encoding/json's token reader,
// kept to check that the jsontext version decides the same.
func refCheckJSON(body []byte) error {
	if !utf8.Valid(body) {
		return fmt.Errorf("%w: body is not valid UTF-8", ErrMalformed)
	}
	if trimmed := bytes.TrimLeft(body, " \t\r\n"); len(trimmed) == 0 || trimmed[0] != '{' {
		return fmt.Errorf("%w: body is not a JSON object", ErrMalformed)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := refWalkJSON(dec, 0); err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("%w: data after the JSON object", ErrMalformed)
	}
	return nil
}

func refWalkJSON(dec *json.Decoder, depth int) error {
	if depth > maxJSONDepth {
		return errors.New("JSON nested too deep")
	}
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("JSON: %v", err)
	}
	delim, ok := tok.(json.Delim)
	if !ok {
		return nil
	}
	seen := map[string]bool{}
	for dec.More() {
		if delim == '{' {
			keyTok, err := dec.Token()
			if err != nil {
				return fmt.Errorf("JSON: %v", err)
			}
			key := keyTok.(string)
			folded := foldKey(key)
			if seen[folded] {
				return fmt.Errorf("JSON key %.40q given twice", key)
			}
			seen[folded] = true
		}
		if err := refWalkJSON(dec, depth+1); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil {
		return fmt.Errorf("JSON: %v", err)
	}
	return nil
}

var checkJSONSeeds = []string{
	`{}`, `{"a":1}`, `{"a":1,"A":2}`, `{"a":{"b":[1,2,{"c":null}]}}`, `{"a":1}{}`, `{"a":1} `, `{"a":1}x`,
	`{"a":[}`, `{"a":01}`, `{"a":"\u00e9"}`, `{"\u0041":1,"a":2}`, `{"K":1,"\u212a":2}`, `{"ſ":1,"S":2}`,
	`[1]`, ` {"a":true,"b":false}`, `{"a":1,}`, `{"a" 1}`, `{"a":"x\ud800"}`, `{"a":"\ud83d\ude00"}`,
	strings.Repeat(`{"a":`, 32) + `1` + strings.Repeat(`}`, 32),
	strings.Repeat(`{"a":`, 33) + `1` + strings.Repeat(`}`, 33),
	strings.Repeat(`{"a":`, 34) + `1` + strings.Repeat(`}`, 34),
	`{"a":` + strings.Repeat(`[`, 32) + strings.Repeat(`]`, 32) + `}`,
	`{"a":` + strings.Repeat(`[`, 33) + strings.Repeat(`]`, 33) + `}`,
	manyKeys(40, false), manyKeys(40, true),
}

func manyKeys(n int, dup bool) string {
	var b strings.Builder
	b.WriteString("{")
	for i := range n {
		fmt.Fprintf(&b, `"key%d":%d,`, i, i)
	}
	if dup {
		b.WriteString(`"KEY7":0,`)
	}
	b.WriteString(`"last":1}`)
	return b.String()
}

func sameDecision(t *testing.T, body []byte) {
	got, want := CheckJSON(body), refCheckJSON(body)
	if got != nil && want == nil && strings.Contains(got.Error(), "surrogate") {
		return // refused on purpose: encoding/json read a lone surrogate as U+FFFD
	}
	if (got == nil) != (want == nil) {
		t.Fatalf("%q: CheckJSON %v, reference %v", body, got, want)
	}
	if want != nil {
		for _, msg := range []string{"given twice", "nested too deep", "data after", "not valid UTF-8", "not a JSON object"} {
			if strings.Contains(want.Error(), msg) && got.Error() != want.Error() {
				t.Fatalf("%q: CheckJSON %q, reference %q", body, got, want)
			}
		}
	}
}

func TestCheckJSONDecidesAsBefore(t *testing.T) {
	for _, s := range checkJSONSeeds {
		sameDecision(t, []byte(s))
	}
}

func FuzzCheckJSON(f *testing.F) {
	for _, s := range checkJSONSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) { sameDecision(t, body) })
}
