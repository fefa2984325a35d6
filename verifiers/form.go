package verifiers

import (
	"fmt"
	"iter"
	"net/url"
	"os"
	"slices"
	"strings"
	"unicode/utf8"
)

// formField is one parameter of a form body or a query string: its name and
// its value, unescaped.
type formField struct{ name, value string }

// formFields are the parameters of a form or a query that passed
// parseFormFields' checks: sorted by name (byte order, as json.Marshal sorts
// a map's keys), each name once. The names and values are substrings of one
// copy of the encoded text, or their own strings when they were escaped, so
// that they can outlive the request's buffers.
type formFields []formField

// index returns the position of name, and whether it is there.
func (f formFields) index(name string) (int, bool) {
	lo, hi := 0, len(f)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if f[mid].name < name {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo, lo < len(f) && f[lo].name == name
}

// Get returns the value of name, "" when it is absent.
func (f formFields) Get(name string) string {
	if i, ok := f.index(name); ok {
		return f[i].value
	}
	return ""
}

// lookup sets values[i] to the value of names[i] ("" when absent); names
// are sorted, so that one walk over f finds them all.
func (f formFields) lookup(names []string, values []string) {
	i := 0
	for j, name := range names {
		for i < len(f) && f[i].name < name {
			i++
		}
		if i < len(f) && f[i].name == name {
			values[j] = f[i].value
		} else {
			values[j] = ""
		}
	}
}

// Has reports whether name is one of the fields.
func (f formFields) Has(name string) bool {
	_, ok := f.index(name)
	return ok
}

// Names yields the names, in their order.
func (f formFields) Names() iter.Seq[string] {
	return func(yield func(string) bool) {
		for _, p := range f {
			if !yield(p.name) {
				return
			}
		}
	}
}

// Map returns the fields as a map.
func (f formFields) Map() map[string]string {
	m := make(map[string]string, len(f))
	for _, p := range f {
		m[p.name] = p.value
	}
	return m
}

// scanForm splits encoded into its parameters as url.ParseQuery does,
// appending them to pairs in their order (duplicates included) and
// returning the error url.ParseQuery returns: the parameters are split at
// '&'; empty ones are skipped; a parameter holding ';' is an error, which
// wins over any other (url.ParseQuery overwrites its error with it); else
// the first bad escape ('%' not followed by two hex digits), in a name
// before its value, is the error. A name or a value with neither '%' nor
// '+' is a substring of encoded; the others are unescaped as
// url.QueryUnescape does into one buffer, made one string at the end.
func scanForm(encoded string, pairs []formField) ([]formField, error) {
	var err error
	semicolon := false
	// The escaped names and values: unescaped into dec, and where each
	// goes once dec is a string.
	type fixup struct {
		pair, start, end int
		value            bool
	}
	var fixStack [16]fixup
	var decStack [512]byte
	fixups, dec := fixStack[:0], decStack[:0]
	for start := 0; start < len(encoded); {
		// One pass over the parameter: where it ends, where its name
		// ends, and whether it holds ';' or something to unescape.
		end, eq := start, -1
		semi, escName, escValue := false, false, false
		for ; end < len(encoded); end++ {
			c := encoded[end]
			if formByte[c] == 0 {
				continue
			}
			if c == '&' {
				break
			}
			switch c {
			case ';':
				semi = true
			case '=':
				if eq < 0 {
					eq = end
				}
			default: // '%', '+'
				if eq < 0 {
					escName = true
				} else {
					escValue = true
				}
			}
		}
		pair := encoded[start:end]
		nameEnd := end
		if eq >= 0 {
			nameEnd = eq
		}
		name, value := encoded[start:nameEnd], ""
		if eq >= 0 {
			value = encoded[eq+1 : end]
		}
		start = end + 1
		if semi {
			semicolon = true
			continue
		}
		if pair == "" {
			continue
		}
		if escName || escValue {
			mark := len(dec)
			var err1 error
			if escName {
				if dec, err1 = appendUnescaped(dec, name); err1 == nil {
					fixups = append(fixups, fixup{len(pairs), mark, len(dec), false})
				}
			}
			if err1 == nil && escValue {
				from := len(dec)
				if dec, err1 = appendUnescaped(dec, value); err1 == nil {
					fixups = append(fixups, fixup{len(pairs), from, len(dec), true})
				}
			}
			if err1 != nil {
				if err == nil {
					err = err1
				}
				dec = dec[:mark]
				if escName && len(fixups) > 0 && fixups[len(fixups)-1].pair == len(pairs) {
					fixups = fixups[:len(fixups)-1]
				}
				continue
			}
		}
		pairs = append(pairs, formField{name, value})
	}
	if len(fixups) > 0 {
		text := string(dec)
		for _, f := range fixups {
			if f.value {
				pairs[f.pair].value = text[f.start:f.end]
			} else {
				pairs[f.pair].name = text[f.start:f.end]
			}
		}
	}
	if urlMaxQueryParamsSet || strings.Count(encoded, "&")+1 > maxParams {
		// Only a query with more parameters than a form may hold can meet
		// url.ParseQuery's own bound (10000 by default), which refuses it
		// before any other check, unless GODEBUG urlmaxqueryparams sets
		// another bound: url.ParseQuery says which error it is.
		_, err := url.ParseQuery(encoded)
		return pairs, err
	}
	if semicolon {
		return pairs, errSemicolon
	}
	return pairs, err
}

// urlMaxQueryParamsSet: GODEBUG sets urlmaxqueryparams, url.ParseQuery's
// bound on the parameters of a query, which may then be lower than
// maxParams (net/url reads it at every call; a process's environment does
// not change).
var urlMaxQueryParamsSet = strings.Contains(os.Getenv("GODEBUG"), "urlmaxqueryparams")

// formByte marks the bytes scanForm looks at: '&', '=', ';', '%', '+'.
var formByte = [256]byte{'&': 1, '=': 1, ';': 1, '%': 1, '+': 1}

// appendUnescaped appends s unescaped as url.QueryUnescape unescapes it
// ("%41" is A, '+' a space), or returns url.QueryUnescape's error: '%' not
// followed by two hex digits.
func appendUnescaped(dst []byte, s string) ([]byte, error) {
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && (i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2])) {
			bad := s[i:]
			if len(bad) > 3 {
				bad = bad[:3]
			}
			return dst, url.EscapeError(bad)
		}
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '%':
			hi, _ := fromHexChar(s[i+1])
			lo, _ := fromHexChar(s[i+2])
			dst = append(dst, hi<<4|lo)
			i += 2
		case '+':
			dst = append(dst, ' ')
		default:
			dst = append(dst, c)
		}
	}
	return dst, nil
}

func isHex(c byte) bool { _, ok := fromHexChar(c); return ok }

// errSemicolon is url.ParseQuery's error for a parameter holding ';'.
var errSemicolon = fmt.Errorf("invalid semicolon separator in query")

// sortPairs sorts pairs by name. The order of equal names does not
// matter: a name given twice is refused whatever its values.
func sortPairs(pairs []formField) {
	slices.SortFunc(pairs, func(a, b formField) int { return strings.Compare(a.name, b.name) })
}

// distinctNames is the number of names among sorted pairs.
func distinctNames(pairs []formField) int {
	n := 0
	for i := range pairs {
		if i == 0 || pairs[i].name != pairs[i-1].name {
			n++
		}
	}
	return n
}

// parseFormFields parses a form body or a query string strictly, as
// parseURLEncoded documents; what names its parameters in errors. Of
// several faulty names, the first in byte order is named.
func parseFormFields(what, encoded string) (formFields, error) {
	return parseFormFieldsInto(what, encoded, nil)
}

// parseFormFieldsInto is parseFormFields writing the fields into dst when
// it has room for them (a caller that keeps them no longer than itself can
// give a stack array).
func parseFormFieldsInto(what, encoded string, dst formFields) (formFields, error) {
	// The parameters are read into a stack array when they fit and sorted
	// by their positions, so that sorting writes no pointer (each such
	// write costs a write barrier while the GC runs); they are then
	// copied once, in order.
	var stack [64]formField
	pairs, err := scanForm(encoded, stack[:0])
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrMalformed, what, err)
	}
	var fields formFields
	if len(pairs) <= len(stack) {
		var order [64]uint8
		for i := range pairs {
			order[i] = uint8(i)
			// Insertion sort: forms are small, and often nearly sorted.
			for j := i; j > 0 && pairs[order[j]].name < pairs[order[j-1]].name; j-- {
				order[j], order[j-1] = order[j-1], order[j]
			}
		}
		fields = dst[:0]
		if cap(fields) < len(pairs) {
			fields = make(formFields, 0, len(pairs))
		}
		fields = fields[:len(pairs)]
		for i := range fields {
			fields[i] = pairs[order[i]]
		}
	} else {
		fields = slices.Clone(formFields(pairs))
		sortPairs(fields)
	}
	if distinctNames(fields) > maxParams {
		return nil, fmt.Errorf("%w: more than %d %ss", ErrMalformed, maxParams, what)
	}
	if err := checkPairs(what, fields); err != nil {
		return nil, err
	}
	return fields, nil
}

// checkPairs makes the checks of parseURLEncoded after the parse on pairs,
// sorted by sortPairs.
func checkPairs(what string, pairs []formField) error {
	plain := true // every name is its own only key
	for i := 0; i < len(pairs); {
		name := pairs[i].name
		j := i + 1
		for j < len(pairs) && pairs[j].name == name {
			j++
		}
		isPlain := isPlainParam(name)
		switch {
		case name == "":
			return fmt.Errorf("%w: %s without a name", ErrMalformed, what)
		case j-i > 1:
			return fmt.Errorf("%w: %s %.40q given %d times", ErrMalformed, what, name, j-i)
		case !utf8.ValidString(name) || !utf8.ValidString(pairs[i].value):
			return fmt.Errorf("%w: %s %.40q is not valid UTF-8", ErrMalformed, what, name)
		case !isPlain && strings.ContainsAny(name, "[]."):
			return fmt.Errorf("%w: %s %.40q: a name with a bracket or a dot is read as another or a nested parameter by web frameworks", ErrMalformed, what, name)
		}
		plain = plain && isPlain
		i = j
	}
	if !plain {
		return refuseMeetingNames(what, formFields(pairs))
	}
	return nil
}

// rawForm is a form's parameters as readRawForm reads them: percent-decoded
// bytes, in their order, a name possibly more than once.
type rawForm []formField

// Value returns the value of name when it is given exactly once.
func (r rawForm) Value(name string) (string, bool) {
	value, n := "", 0
	for _, p := range r {
		if p.name == name {
			value = p.value
			n++
		}
	}
	return value, n == 1
}

// sorted returns the parameters as fields, sorted by name; each name must
// be there once (decodeForm has checked that).
func (r rawForm) sorted() formFields {
	f := slices.Clone(r)
	sortPairs(f)
	return formFields(f)
}

// fieldsOf returns the fields of m, sorted.
func fieldsOf(m map[string]string) formFields {
	f := make(formFields, 0, len(m))
	for name, value := range m {
		f = append(f, formField{name, value})
	}
	sortPairs(f)
	return f
}
