package verifiers

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// JSONPath is a dot-separated path into a JSON body, such as
// data.object.metadata.order_id: the order_id option of the JSON providers
// and the field mapping of hmac and standardwebhooks. A segment of digits
// indexes an array (events.0.id).
type JSONPath []string

// ParseJSONPath parses a dot-separated path; an empty path or segment, or
// one with spaces or quotes, is an error that says so.
func ParseJSONPath(s string) (JSONPath, error) {
	if s == "" {
		return nil, fmt.Errorf("empty path")
	}
	p := JSONPath(strings.Split(s, "."))
	for _, seg := range p {
		if seg == "" {
			return nil, fmt.Errorf("path %q has an empty segment", s)
		}
		if strings.ContainsAny(seg, " \t\r\n\"'[]") {
			return nil, fmt.Errorf("path %q: segments are member names joined by dots, without spaces, quotes or brackets", s)
		}
	}
	return p, nil
}

// MustJSONPath is ParseJSONPath for the paths written in the code.
func MustJSONPath(s string) JSONPath {
	p, err := ParseJSONPath(s)
	if err != nil {
		panic(err)
	}
	return p
}

func (p JSONPath) String() string { return strings.Join(p, ".") }

// Lookup returns the JSON value at p in doc, a JSON text (the body, already
// checked by CheckJSON), and whether there is one: a missing member, an index
// out of range, or a step into something that is neither an object nor an
// array is not found. null is found, as null. An object that passes
// CheckJSON is read once into a jsonDoc; anything else is decoded step by
// step (lookupDecoded).
func (p JSONPath) Lookup(doc []byte) (json.RawMessage, bool) {
	d, ok := readJSONObject(doc)
	if !ok {
		return p.lookupDecoded(doc)
	}
	defer d.release()
	v := d.root().Path(p)
	if !v.Exists() {
		return nil, false
	}
	return bytes.Clone(v.Raw()), true
}

// readJSONObject reads doc into a jsonDoc when it is an object that passes
// CheckJSON; ok is false for anything else, which is left to encoding/json
// (an error there is not a refusal: the callers read values out of bodies
// already checked).
func readJSONObject(doc []byte) (*jsonDoc, bool) {
	if t := bytes.TrimLeft(doc, " \t\r\n"); len(t) == 0 || t[0] != '{' {
		return nil, false
	}
	d, err := readJSONDoc(doc)
	return d, err == nil
}

// lookupDecoded is Lookup with encoding/json decoding each step into a map
// or a slice.
func (p JSONPath) lookupDecoded(doc []byte) (json.RawMessage, bool) {
	value := json.RawMessage(bytes.TrimSpace(doc))
	for _, seg := range p {
		if len(value) == 0 {
			return nil, false
		}
		switch value[0] {
		case '{':
			var members map[string]json.RawMessage
			if json.Unmarshal(value, &members) != nil {
				return nil, false
			}
			next, ok := members[seg]
			if !ok {
				return nil, false
			}
			value = bytes.TrimSpace(next)
		case '[':
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 || seg != strconv.Itoa(i) {
				return nil, false
			}
			var items []json.RawMessage
			if json.Unmarshal(value, &items) != nil || i >= len(items) {
				return nil, false
			}
			value = bytes.TrimSpace(items[i])
		default:
			return nil, false
		}
	}
	return value, true
}

// Text returns the value at p as text: a string's content, a number or a
// boolean as sent, "" when there is none or it is null. An object or an
// array is ErrMalformed: a reference is never a structure.
func (p JSONPath) Text(doc []byte) (string, error) {
	if d, ok := readJSONObject(doc); ok {
		defer d.release()
		return d.root().Path(p).Text(p)
	}
	return p.textDecoded(doc)
}

// textDecoded is Text with encoding/json decoding each step (lookupDecoded)
// and the value.
func (p JSONPath) textDecoded(doc []byte) (string, error) {
	value, ok := p.lookupDecoded(doc)
	if !ok || len(value) == 0 {
		return "", nil
	}
	switch value[0] {
	case 'n':
		return "", nil
	case '"':
		var s string
		if err := json.Unmarshal(value, &s); err != nil {
			return "", fmt.Errorf("%w: %s: %v", ErrMalformed, p, err)
		}
		return s, nil
	case '{', '[':
		return "", fmt.Errorf("%w: %s is an object or an array, not a value", ErrMalformed, p)
	}
	return string(value), nil
}

// FirstText returns the text of the first of paths that has a non-empty
// value, and that path; "" and nil when none has.
func FirstText(doc []byte, paths ...JSONPath) (string, JSONPath, error) {
	for _, p := range paths {
		s, err := p.Text(doc)
		if err != nil {
			return "", p, err
		}
		if s != "" {
			return s, p, nil
		}
	}
	return "", nil, nil
}

// PathOption is an option whose value is a JSONPath, such as order_id. Its
// value is checked by CheckPath (from CheckConfig).
func PathOption(name, doc string, dst *string) Option {
	return StringOption(name, "<path>", doc+" (a dot-separated path into the JSON body, e.g. metadata.order_id)", dst)
}

// CheckPath checks the value of a PathOption; "" (unset) passes.
func CheckPath(option, value string) error {
	if value == "" {
		return nil
	}
	if _, err := ParseJSONPath(value); err != nil {
		return &OptionError{Option: option, Msg: err.Error()}
	}
	return nil
}
