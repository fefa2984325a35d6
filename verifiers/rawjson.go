package verifiers

import (
	"slices"
	"unicode/utf8"
)

// marshalStringMap returns json.Marshal(m) byte for byte, with each value
// first passed through edit when edit is not nil: the keys in byte order,
// each key and value escaped as encoding/json escapes strings by default
// (with HTML escaping). It spares the reflection and the sort of reflect
// values that make up most of json.Marshal's cost for the flat maps of
// form fields that octo3 and oobit keep as raw; hotpath_test.go compares it
// with json.Marshal.
func marshalStringMap(m map[string]string, edit func(key, value string) string) []byte {
	if m == nil {
		return []byte("null")
	}
	keys := make([]string, 0, len(m))
	size := 2 // {}
	for k, v := range m {
		keys = append(keys, k)
		size += len(k) + len(v) + 6 // "k":"v",
	}
	slices.Sort(keys) // encoding/json sorts map keys with strings.Compare
	out := make([]byte, 0, size)
	out = append(out, '{')
	for i, k := range keys {
		if i > 0 {
			out = append(out, ',')
		}
		v := m[k]
		if edit != nil {
			v = edit(k, v)
		}
		out = appendJSONString(out, k)
		out = append(out, ':')
		out = appendJSONString(out, v)
	}
	return append(out, '}')
}

// marshalFields returns json.Marshal of the fields for which keep (when not
// nil) is true, as a map of names to values, with each value first passed
// through edit when edit is not nil: marshalStringMap of fields that are
// already sorted, written into one buffer of the right size.
func marshalFields(fields formFields, keep func(name, value string) bool, edit func(name, value string) string) []byte {
	size := 2 // {}
	for _, p := range fields {
		size += len(p.name) + len(p.value) + 6 // "k":"v",
	}
	out := make([]byte, 0, size)
	out = append(out, '{')
	for _, p := range fields {
		if keep != nil && !keep(p.name, p.value) {
			continue
		}
		if len(out) > 1 {
			out = append(out, ',')
		}
		v := p.value
		if edit != nil {
			v = edit(p.name, v)
		}
		out = appendJSONString(out, p.name)
		out = append(out, ':')
		out = appendJSONString(out, v)
	}
	return append(out, '}')
}

// appendJSONString is encoding/json's appendString with escapeHTML set
// (Go's encode.go): the ASCII control characters, '"', '\\', '<', '>' and
// '&' are escaped (\b \f \n \r \t \\ \" short, the others as \u00XX in
// lower-case hex), each byte of invalid UTF-8 becomes \ufffd, and U+2028
// and U+2029 are escaped; every other byte is copied.
func appendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if jsonSafe[b] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[b>>4], hex[b&0xF])
			}
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		if c == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if c == '\u2028' || c == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[c&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// jsonSafe is jsonHTMLSafe as a table.
var jsonSafe = func() (t [utf8.RuneSelf]bool) {
	for b := range t {
		t[b] = jsonHTMLSafe(byte(b))
	}
	return t
}()

// jsonHTMLSafe is encoding/json's htmlSafeSet: an ASCII byte copied as it
// is, all but the control characters (0-31), '"', '\\', '<', '>' and '&'.
func jsonHTMLSafe(b byte) bool {
	return b >= 0x20 && b < utf8.RuneSelf && b != '"' && b != '\\' && b != '<' && b != '>' && b != '&'
}
