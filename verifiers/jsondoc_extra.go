package verifiers

import "fmt"

// Readers of a jsonDoc's members for the providers converted on this
// branch (adyen, gocardless, octopus, wechatpay, paypal). jsondoc.go is not
// theirs to edit; perf-json adds equivalent readers there (memberString,
// memberObject, memberNumber, members): once both are merged these can
// give way to those.
//
// A member is read as encoding/json read it into the field of the
// provider's former payload struct, with one difference: its name is
// matched exactly, where encoding/json matched a struct field's name
// regardless of case. CheckJSON refuses two names that fold alike, so the
// only body read differently is one that spells a member in another case
// ("EventCode"): it now reads as having no such member, as the app, which
// reads the exact name, reads it.

// docFields reads the members of a payload, keeping the first refusal: a
// provider reads all it needs and checks once, as encoding/json refused a
// body with any member of the wrong type before anything of it was used.
// The refusal names the member by where (a path, "resource.nonce") after
// the item of a batch the reader is at, if any (list and index); the text
// is built only for a refusal.
type docFields struct {
	err   error
	list  string // a batch's name ("events"); "": not in a batch
	index int    // the item of list being read
	in    string // what is read ("decrypted transaction"), when not the body
}

func (f *docFields) refuse(where, what string) {
	if f.err != nil {
		return
	}
	switch {
	case f.list != "":
		f.err = fmt.Errorf("%w: %s[%d]: %s is not %s", ErrMalformed, f.list, f.index, where, what)
		return
	case f.in != "":
		f.err = fmt.Errorf("%w: %s: %s is not %s", ErrMalformed, f.in, where, what)
		return
	}
	f.err = fmt.Errorf("%w: %s is not %s", ErrMalformed, where, what)
}

// str is a string member: "" when absent or null, a string's content,
// refused for anything else.
func (f *docFields) str(v jsonValue, name, where string) string {
	m := v.Get(name)
	switch m.Kind() {
	case 0, 'n':
		return ""
	case '"':
		return m.Str()
	}
	f.refuse(where, "a string")
	return ""
}

// strIn is str of the member name of parent (named where): the refusal's
// "where.name" is built only for a refusal.
func (f *docFields) strIn(v jsonValue, where, name string) string {
	m := v.Get(name)
	switch m.Kind() {
	case 0, 'n':
		return ""
	case '"':
		return m.Str()
	}
	f.refuse(where+"."+name, "a string")
	return ""
}

// obj is a struct member: absent when absent or null, an object, refused
// for anything else.
func (f *docFields) obj(v jsonValue, name, where string) jsonValue {
	m := v.Get(name)
	switch m.Kind() {
	case 0, 'n':
		return absentJSON
	case '{':
		return m
	}
	f.refuse(where, "an object")
	return absentJSON
}

// list is a slice member: absent when absent or null, an array, refused for
// anything else.
func (f *docFields) arr(v jsonValue, name, where string) jsonValue {
	m := v.Get(name)
	switch m.Kind() {
	case 0, 'n':
		return absentJSON
	case '[':
		return m
	}
	f.refuse(where, "an array")
	return absentJSON
}

// num is a json.Number member: "" when absent or null, a number as sent, a
// string whose content is one JSON number (encoding/json took a quoted
// number there), refused for anything else.
func (f *docFields) num(v jsonValue, name, where string) string {
	m := v.Get(name)
	switch m.Kind() {
	case 0, 'n':
		return ""
	case '0':
		return m.Number()
	case '"':
		if s := m.Str(); s != "" {
			if end, ok := scanNumber([]byte(s), 0); ok && end == len(s) {
				return s
			}
		}
	}
	f.refuse(where, "a number")
	return ""
}

// compactValue is v's bytes as json.Marshal(json.RawMessage(v.Raw()))
// made them (compacted, HTML-escaped), in a buffer of their own.
func compactValue(v jsonValue) []byte {
	return v.appendCompact(make([]byte, 0, len(v.Raw())), true)
}

