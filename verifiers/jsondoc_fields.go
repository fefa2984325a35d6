package verifiers

import "fmt"

// A member of a JSON payload is read as encoding/json read it into the field of the
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

func (f *docFields) refuse(where, what string) { f.refuseWith(where + " is not " + what) }

// refuseWith keeps the refusal reason as the first refusal, after the item
// of a batch or what is read, if any.
func (f *docFields) refuseWith(reason string) {
	if f.err != nil {
		return
	}
	switch {
	case f.list != "":
		f.err = fmt.Errorf("%w: %s[%d]: %s", ErrMalformed, f.list, f.index, reason)
		return
	case f.in != "":
		f.err = fmt.Errorf("%w: %s: %s", ErrMalformed, f.in, reason)
		return
	}
	f.err = fmt.Errorf("%w: %s", ErrMalformed, reason)
}

// note keeps err, a member reader's refusal of the member at where (not
// what), as the first refusal.
func (f *docFields) note(err error, where, what string) {
	if err == nil {
		return // before errors.As, whose target would escape on every call
	}
	if spelled, ok := err.(*spellingError); ok {
		spelled.path = where
		f.refuseWith(spelled.reason())
		return
	}
	f.refuse(where, what)
}

// str is a string member: "" when absent or null, a string's content,
// refused for anything else.
func (f *docFields) str(v jsonValue, name, where string) string {
	s, err := v.memberString(name, where)
	f.note(err, where, "a string")
	return s
}

// strIn is str of the member name of parent (named where): the refusal's
// "where.name" is built only for a refusal.
func (f *docFields) strIn(v jsonValue, where, name string) string {
	s, err := v.memberString(name, "")
	f.note(err, where+"."+name, "a string")
	return s
}

// obj is a struct member: absent when absent or null, an object, refused
// for anything else.
func (f *docFields) obj(v jsonValue, name, where string) jsonValue {
	o, err := v.memberObject(name, where)
	f.note(err, where, "an object")
	return o
}

// arr is a slice member: absent when absent or null, an array, refused for
// anything else.
func (f *docFields) arr(v jsonValue, name, where string) jsonValue {
	a, err := v.memberArray(name, where)
	f.note(err, where, "an array")
	return a
}

// num is a json.Number member: "" when absent or null, a number as sent, a
// string whose content is one JSON number (encoding/json took a quoted
// number there), refused for anything else.
func (f *docFields) num(v jsonValue, name, where string) string {
	n, err := v.memberNumber(name, where)
	f.note(err, where, "a number")
	return n
}

// id is an idText member: a string's content or a number as sent, "" when
// absent or null, refused for anything else.
func (f *docFields) id(v jsonValue, name, where string) string {
	s, err := v.memberID(name, where)
	if _, spelled := err.(*spellingError); spelled {
		f.note(err, where, "")
	} else if err != nil {
		f.refuseWith(where + ": an id is a string or a number")
	}
	return s
}

// compactValue is v's bytes as json.Marshal(json.RawMessage(v.Raw()))
// made them (compacted, HTML-escaped), in a buffer of their own.
func compactValue(v jsonValue) []byte {
	return v.appendCompact(make([]byte, 0, len(v.Raw())), true)
}
