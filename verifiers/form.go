package verifiers

import (
	"fmt"
	"iter"
	"net/url"
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
	return slices.BinarySearchFunc(f, name, func(p formField, name string) int { return strings.Compare(p.name, name) })
}

// Get returns the value of name, "" when it is absent.
func (f formFields) Get(name string) string {
	if i, ok := f.index(name); ok {
		return f[i].value
	}
	return ""
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
// '+' is a substring of encoded; the others are unescaped by
// url.QueryUnescape itself.
func scanForm(encoded string, pairs []formField) ([]formField, error) {
	var err error
	semicolon := false
	for rest := encoded; rest != ""; {
		var pair string
		pair, rest, _ = strings.Cut(rest, "&")
		if strings.IndexByte(pair, ';') >= 0 {
			semicolon = true
			continue
		}
		if pair == "" {
			continue
		}
		name, value, _ := strings.Cut(pair, "=")
		name, err1 := unescapeComponent(name)
		if err1 != nil {
			if err == nil {
				err = err1
			}
			continue
		}
		value, err1 = unescapeComponent(value)
		if err1 != nil {
			if err == nil {
				err = err1
			}
			continue
		}
		pairs = append(pairs, formField{name, value})
	}
	if strings.Count(encoded, "&")+1 > maxParams {
		// Only a query with more parameters than a form may hold can meet
		// url.ParseQuery's own bound (10000 by default, GODEBUG
		// urlmaxqueryparams), which refuses it before any other check:
		// url.ParseQuery says which error it is.
		_, err := url.ParseQuery(encoded)
		return pairs, err
	}
	if semicolon {
		return pairs, errSemicolon
	}
	return pairs, err
}

// errSemicolon is url.ParseQuery's error for a parameter holding ';'.
var errSemicolon = fmt.Errorf("invalid semicolon separator in query")

// unescapeComponent is url.QueryUnescape, without a copy when s has
// nothing to unescape.
func unescapeComponent(s string) (string, error) {
	if strings.IndexByte(s, '%') < 0 && strings.IndexByte(s, '+') < 0 {
		return s, nil
	}
	return url.QueryUnescape(s)
}

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
	// The parameters are read and sorted in a stack array when they fit
	// (swapping them there costs no write barrier), then copied once.
	var stack [64]formField
	pairs, err := scanForm(encoded, stack[:0])
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrMalformed, what, err)
	}
	sortPairs(pairs)
	if distinctNames(pairs) > maxParams {
		return nil, fmt.Errorf("%w: more than %d %ss", ErrMalformed, maxParams, what)
	}
	if err := checkPairs(what, pairs); err != nil {
		return nil, err
	}
	return slices.Clone(formFields(pairs)), nil
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
		switch {
		case name == "":
			return fmt.Errorf("%w: %s without a name", ErrMalformed, what)
		case j-i > 1:
			return fmt.Errorf("%w: %s %.40q given %d times", ErrMalformed, what, name, j-i)
		case !utf8.ValidString(name) || !utf8.ValidString(pairs[i].value):
			return fmt.Errorf("%w: %s %.40q is not valid UTF-8", ErrMalformed, what, name)
		case strings.ContainsAny(name, "[]."):
			return fmt.Errorf("%w: %s %.40q: a name with a bracket or a dot is read as another or a nested parameter by web frameworks", ErrMalformed, what, name)
		}
		plain = plain && isPlainParam(name)
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
