package verifiers

// The form and query reader that form.go replaced, kept verbatim (renamed
// ref*) as the reference that form_diff_test.go compares the new one with.

import (
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"
)

// parseURLEncoded parses a form body or a query string strictly; what names
// its parameters in errors ("form field", "query parameter"). A parameter
// given twice, one without a name, bad escapes or invalid UTF-8 are refused,
// because the provider's signer and the merchant's app could read such a
// body differently from this verifier. So are names that the app's web
// framework reads as another parameter (see paramKeys): two names that it
// can read as one (reply.code and reply_code in PHP, Reply_Code and
// reply_code in ASP.NET), and names with brackets or dots, which it reads as
// nested parameters (a[b], a.b: ASP.NET Core binds a whole model from
// whatever prefix a is, and so does Rails from a query named after its
// controller's JSON wrapper).
func refParseURLEncoded(what, encoded string) (map[string]string, error) {
	values, err := url.ParseQuery(encoded)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrMalformed, what, err)
	}
	if len(values) > maxParams {
		return nil, fmt.Errorf("%w: more than %d %ss", ErrMalformed, maxParams, what)
	}
	fields := make(map[string]string, len(values))
	plain := true // every name is its own only key
	for name, vals := range values {
		switch {
		case name == "":
			return nil, fmt.Errorf("%w: %s without a name", ErrMalformed, what)
		case len(vals) > 1:
			return nil, fmt.Errorf("%w: %s %.40q given %d times", ErrMalformed, what, name, len(vals))
		case !utf8.ValidString(name) || !utf8.ValidString(vals[0]):
			return nil, fmt.Errorf("%w: %s %.40q is not valid UTF-8", ErrMalformed, what, name)
		case strings.ContainsAny(name, "[]."):
			return nil, fmt.Errorf("%w: %s %.40q: a name with a bracket or a dot is read as another or a nested parameter by web frameworks", ErrMalformed, what, name)
		}
		plain = plain && isPlainParam(name)
		fields[name] = vals[0]
	}
	if !plain {
		if err := refRefuseMeetingNames(what, fields); err != nil {
			return nil, err
		}
	}
	return fields, nil
}

// readRawForm reads the percent-encoding of a form whose text is in the
// charset one of its fields names: names and values as bytes, not yet
// checked (decodeForm checks them once they are text).
func refReadRawForm(body []byte) (url.Values, error) {
	raw, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, fmt.Errorf("%w: form field: %v", ErrMalformed, err)
	}
	if len(raw) > maxParams {
		return nil, fmt.Errorf("%w: more than %d form fields", ErrMalformed, maxParams)
	}
	return raw, nil
}

// decodeForm turns the names and values of raw into UTF-8 with decode
// (false: not text in charset) and checks the result as every form is
// (parseURLEncoded): a field given twice, also after decoding, names the
// app's framework reads as another.
func refDecodeForm(raw url.Values, charset string, decode func(string) (string, bool)) (map[string]string, error) {
	decoded := make(url.Values, len(raw))
	for name, values := range raw {
		n, ok := decode(name)
		if !ok {
			return nil, fmt.Errorf("%w: a form field name is not valid %s", ErrMalformed, charset)
		}
		for _, value := range values {
			s, ok := decode(value)
			if !ok {
				return nil, fmt.Errorf("%w: form field %.40q is not valid %s", ErrMalformed, n, charset)
			}
			decoded[n] = append(decoded[n], s)
		}
	}
	return refParseURLEncoded("form field", decoded.Encode())
}

// refuseMeetingNames refuses two names among fields' that an app's framework
// can read as one parameter.
func refRefuseMeetingNames(what string, fields map[string]string) error {
	names := slices.Sorted(maps.Keys(fields)) // the same reason on every attempt
	seen := make(map[string]string, len(names))
	for _, name := range names {
		for _, key := range paramKeys(name) {
			if other, ok := seen[key]; ok && other != name {
				return fmt.Errorf("%w: %ss %.40q and %.40q are read as one parameter by web frameworks", ErrMalformed, what, other, name)
			}
			seen[key] = name
		}
	}
	return nil
}

// RefuseShadowingQuery refuses a query string that the app could read in
// place of a field of the body (a form field or a top-level JSON member) or
// of one of the provider's documented fields, which are all plain names.
// The query is not signed, and with forward original the app's framework
// merges it with the body: PHP's $_REQUEST (the body over the query, after
// renaming reply.code to reply_code), Rails' params (the query over the body,
// whole hashes at a time), ASP.NET's Request[] (the query first, ignoring
// case). Its parameters are checked as a form's are (parseURLEncoded).
func refRefuseShadowingQuery[V any](rawQuery string, body map[string]V, documented map[string]bool) error {
	if rawQuery == "" {
		return nil
	}
	query, err := refParseURLEncoded("query parameter", rawQuery)
	if err != nil {
		return err
	}
	var bodyKeys map[string]string // key → body field; nil while each body field is its own only key
	for name := range body {
		if !isPlainParam(name) {
			bodyKeys = make(map[string]string, 2*len(body))
			for name := range body {
				for _, key := range paramKeys(name) {
					bodyKeys[key] = name
				}
			}
			break
		}
	}
	for name := range query {
		for _, key := range paramKeys(name) {
			field, shadows := key, documented[key]
			if bodyKeys != nil {
				if f, ok := bodyKeys[key]; ok {
					field, shadows = f, true
				}
			} else if _, ok := body[key]; ok {
				shadows = true
			}
			if shadows {
				return fmt.Errorf("%w: query parameter %.40q would shadow the field %.40q: web frameworks read them as one", ErrMalformed, name, field)
			}
		}
	}
	return nil
}
