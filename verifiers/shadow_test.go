package verifiers

// With forward original the app parses the request with its own framework,
// which renames and merges parameters. These tests check that no unsigned
// parameter can be read in place of a signed one: paramKeys against models of
// each framework's rules, and every provider's Verify against the names that
// those rules read as a signed field.

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestParamKeysFrameworkRules: each framework rule, by example.
func TestParamKeysFrameworkRules(t *testing.T) {
	cases := []struct {
		name string
		want []string // among the keys
		rule string
	}{
		{"reply_code", []string{"reply_code"}, "a plain name is itself"},
		{"reply.code", []string{"reply_code", "reply.code", "reply"}, "PHP: . becomes _; qs allowDots: reply.code nests under reply"},
		{"reply code", []string{"reply_code"}, "PHP: space becomes _"},
		{" reply_code", []string{"reply_code"}, "PHP drops leading spaces"},
		{"  reply.code", []string{"reply_code"}, "PHP drops leading spaces, then renames"},
		{"reply_code\x00", []string{"reply_code"}, "PHP cuts a name at NUL"},
		{"reply_code\x00ignored", []string{"reply_code"}, "PHP cuts a name at NUL"},
		{"reply[code", []string{"reply_code"}, "PHP: an unclosed [ becomes _"},
		{"reply[co.de", []string{"reply_co_de", "reply_co.de"}, "PHP 8 renames after an unclosed [, PHP 7 does not"},
		{"reply_code[]", []string{"reply_code"}, "PHP, Rails, qs: an array under reply_code"},
		{"reply_code[x]", []string{"reply_code"}, "PHP, Rails, qs: a hash under reply_code"},
		{"reply_code[x", []string{"reply_code_x"}, "PHP: unclosed"},
		{"[reply_code]", []string{"reply_code"}, "qs reads [a] as a"},
		{"]reply_code]", []string{"reply_code"}, "Rack 2 drops leading brackets and trailing ]"},
		{"reply_code]x", []string{"reply_code"}, "Rack 2: reply_code]x nests under reply_code"},
		{".reply_code", []string{"reply_code"}, "qs allowDots: .a is a"},
		{"reply_code.x", []string{"reply_code"}, "qs allowDots: a hash under reply_code"},
		{"a.b[c]", []string{"a.b", "a_b", "a"}, "Rack 3 and qs: a.b; PHP a_b; qs allowDots a"},
		{"a[b[c]", []string{"a[b", "a"}, "qs: the parent is before the first [...] without a bracket inside"},
		{"?reply_code", []string{"reply_code"}, "qs ignoreQueryPrefix"},
		{"Reply_Code", []string{"reply_code"}, "ASP.NET ignores case"},
		{"REPLY_CODE", []string{"reply_code"}, "ASP.NET ignores case"},
		{"tranſ_amount", []string{"trans_amount"}, "ASP.NET upper-cases ſ (long s) to S"},
		{"ıd", []string{"id"}, "ASP.NET upper-cases ı (dotless i) to I"},
		{"\u212Aey", []string{"key"}, "the Kelvin sign folds to k"},
		{"TXN.STATUS", []string{"txn_status"}, "PHP then ASP.NET"},
	}
	for _, c := range cases {
		keys := paramKeys(c.name)
		for _, want := range c.want {
			assert.Contains(t, keys, want, "%q: %s", c.name, c.rule)
		}
	}
	// Names that no rule reads as reply_code.
	for _, name := range []string{"reply_codes", "xreply_code", "reply__code", "reply-code", "replycode", "reply_cod", "reply_code_", "token", "src"} {
		assert.NotContains(t, paramKeys(name), "reply_code", name)
	}
}

// TestDocumentedFieldsArePlain: refuseShadowingQuery looks documented fields
// up by key, which holds because each is its own only key.
func TestDocumentedFieldsArePlain(t *testing.T) {
	for provider, fields := range map[string]map[string]bool{
		"octo3": octo3Fields, "oobit": oobitFields, "checkout": checkoutFields, "octopus": octopusFields,
	} {
		require.NotEmpty(t, fields)
		for name := range fields {
			assert.Equal(t, []string{name}, paramKeys(name), "%s: %q", provider, name)
		}
	}
}

// shadowingNames are names, query-escaped, that a framework reads as field
// (or, for the nested ones, that make it read a whole model from the query).
func shadowingNames(field string) []string {
	names := []string{
		field,
		strings.ToUpper(field),
		strings.ToUpper(field[:1]) + field[1:],
		strings.Replace(field, "_", ".", 1),
		strings.Replace(field, "_", " ", 1),
		strings.Replace(field, "_", "[", 1),
		" " + field,
		"  " + strings.Replace(field, "_", ".", 1),
		field + "\x00",
		field + "\x00x",
		field + "[]",
		field + "[x]",
		"[" + field + "]",
		field + "]",
		"]" + field,
		field + ".x",
		"." + field,
		"?" + field,
		"n." + field,
		"n[" + field + "]",
		"webhook[" + field + "]",
	}
	for _, r := range []struct{ ascii, other string }{{"s", "ſ"}, {"i", "ı"}, {"k", "\u212A"}} {
		if strings.Contains(field, r.ascii) {
			names = append(names, strings.Replace(field, r.ascii, r.other, 1))
		}
	}
	for i, name := range names {
		names[i] = url.QueryEscape(name)
	}
	return names
}

// harmlessNames are a webhook URL's own query parameters.
var harmlessNames = []string{"token", "shop", "source", "tenant_key", "x-route"}

// TestNoUnsignedParameterShadowsASignedOne: for every provider, a genuine
// notification with a query (or an oobit form field) that any framework
// reads as a signed or documented field is refused, and one with a harmless
// query is accepted.
func TestNoUnsignedParameterShadowsASignedOne(t *testing.T) {
	oobitPost := func(r *Request) *Request { // the GET notification as a POST form
		r.Method, r.Body, r.RawQuery = http.MethodPost, []byte(r.RawQuery), ""
		r.Header.Set("Content-Type", FormType)
		return r
	}
	type place func(r *Request, param string) // puts name=value into r
	inQuery := func(r *Request, param string) {
		if r.RawQuery != "" {
			r.RawQuery += "&"
		}
		r.RawQuery += param
	}
	inBody := func(r *Request, param string) { r.Body = append(r.Body, "&"+param...) }
	providers := []struct {
		provider string
		config   options
		golden   string
		convert  func(*Request) *Request
		where    map[string]place
		fields   []string // signed or documented fields the variants aim at
	}{
		{"octo3", octo3Config, "octo3/declined", nil, map[string]place{"query": inQuery}, []string{"txn_status", "captured_amount", "action"}},
		{"thedao", octo3Config, "thedao/thedao", nil, map[string]place{"query": inQuery}, []string{"captured_amount", "txn_status", "refunded_amount"}},
		{"checkout", checkoutConfig, "checkout/payment_declined", nil, map[string]place{"query": inQuery}, []string{"type", "data", "id", "timestamp"}},
		{"octopus", octopusConfig, "octopus/failed", nil, map[string]place{"query": inQuery}, []string{"payment_status", "final_amount", "ip", "notify_status"}},
		{"oobit GET", oobitConfig, "oobit/declined_numeric_order", nil, map[string]place{"query": inQuery}, []string{"reply_code", "trans_amount", "trans_order", "merchant_id"}},
		{"oobit POST", oobitConfig, "oobit/declined_numeric_order", oobitPost, map[string]place{"query": inQuery, "form": inBody}, []string{"reply_code", "trans_amount", "trans_id", "client_email"}},
	}
	for _, p := range providers {
		v := mustNew(t, strings.Fields(p.provider)[0], p.config)
		request := func() *Request {
			r := goldenRequest(t, p.golden)
			if p.convert != nil {
				r = p.convert(r)
			}
			return r
		}
		for where, put := range p.where {
			for _, field := range p.fields {
				for _, name := range shadowingNames(field) {
					r := request()
					put(r, name+"=1")
					events, err := v.Verify(context.Background(), r)
					if !assert.ErrorIs(t, err, ErrMalformed, "%s: %s %q was not refused", p.provider, where, name) {
						continue
					}
					assert.Empty(t, events)
				}
			}
			for _, name := range harmlessNames {
				r := request()
				put(r, name+"=abc")
				_, err := v.Verify(context.Background(), r)
				assert.NoError(t, err, "%s: %s %q", p.provider, where, name)
			}
		}
	}
}

func TestFormFieldsThatMeetAreRefused(t *testing.T) {
	for _, body := range []string{
		"reply_code=051&reply.code=000",
		"reply.code=000&reply_code=051",
		"reply_code=051&Reply_Code=000",
		"reply_code=051&reply_code%5B%5D=000",
		"reply_code=051&reply+code=000",
		"reply_code=051&+reply_code=000",
		"reply_code=051&reply_code%00=000",
		"trans_amount=1&tran%C5%BF_amount=2",
		"Reply_Code=1&REPLY_CODE=2", // neither is plain
		"x.y=1",                     // nested
		"x%5By%5D=1",                // nested
	} {
		_, err := ParseForm(FormType, []byte(body))
		assert.ErrorIs(t, err, ErrMalformed, body)
	}
	fields, err := ParseForm(FormType, []byte("reply_code=051&reply_desc=x&Client_Name=y&token=z"))
	require.NoError(t, err)
	assert.Len(t, fields, 4)

	_, err = ParseForm(FormType, []byte("reply_code=051&Reply_Code=000"))
	assert.ErrorContains(t, err, `form fields "Reply_Code" and "reply_code" are read as one parameter`)
}

// TestQueryAgainstNonPlainBodyNames: a body name that is not plain (a JSON
// member in another case) is compared by its keys too.
func TestQueryAgainstNonPlainBodyNames(t *testing.T) {
	body := map[string]int{"Payment_Status": 1, "amount": 2}
	assert.ErrorIs(t, RefuseShadowingQuery("payment_status=completed", body, nil), ErrMalformed)
	assert.ErrorIs(t, RefuseShadowingQuery("AMOUNT=1", body, nil), ErrMalformed)
	assert.NoError(t, RefuseShadowingQuery("token=abc", body, nil))
	assert.NoError(t, RefuseShadowingQuery("", body, nil))
	err := RefuseShadowingQuery("PAYMENT.status=completed", body, nil)
	assert.ErrorIs(t, err, ErrMalformed)
	assert.ErrorContains(t, RefuseShadowingQuery("payment+status=x", body, nil), `query parameter "payment status" would shadow the field "Payment_Status"`)
}

// TestQueryParametersThatMeetAreRefused: the query among itself, as for the
// JSON providers' query or oobit's GET notification.
func TestQueryParametersThatMeetAreRefused(t *testing.T) {
	for _, q := range []string{"token=a&token=b", "token=a&TOKEN=b", "to.ken=a&to_ken=b", "token=a&token%5B%5D=b", "a;b=c", "%zz=1", "=1", "x=%FF"} {
		assert.ErrorIs(t, RefuseShadowingQuery(q, map[string]string{}, nil), ErrMalformed, q)
	}
}

func TestTooManyParametersAreRefused(t *testing.T) {
	params := make([]string, maxParams+1)
	for i := range params {
		params[i] = fmt.Sprintf("f%d=1", i)
	}
	_, err := ParseForm(FormType, []byte(strings.Join(params[:maxParams], "&")))
	assert.NoError(t, err)
	_, err = ParseForm(FormType, []byte(strings.Join(params, "&")))
	assert.ErrorContains(t, err, "more than 256 form fields")
}

// TestBodyCharsetIsASCIICompatible: ASP.NET decodes a form by its declared
// charset; in UTF-7 the verified name reply%2BAF8-code is reply_code.
func TestBodyCharsetIsASCIICompatible(t *testing.T) {
	for _, want := range []string{FormType, JSONType} {
		for _, ok := range []string{"", "; charset=utf-8", "; charset=UTF-8", `; charset="utf-8"`, "; charset=us-ascii", "; charset=ISO-8859-1", "; charset=windows-1252"} {
			assert.NoError(t, CheckContentType(want+ok, want), ok)
		}
		for _, bad := range []string{"; charset=utf-7", "; charset=UTF-16", "; charset=utf-16le", "; charset=utf-32", "; charset=ibm037", "; charset=iso-2022-jp", "; charset=shift_jis", "; charset="} {
			assert.ErrorIs(t, CheckContentType(want+bad, want), ErrMalformed, bad)
		}
	}
	req := goldenRequest(t, "oobit/approved_post")
	req.Header.Set("Content-Type", FormType+"; charset=utf-7")
	req.Body = append(req.Body, "&reply%2BAF8-code=051"...)
	_, err := mustNew(t, "oobit", oobitConfig).Verify(context.Background(), req)
	assert.ErrorContains(t, err, `charset "utf-7"`)
}

// Models of the frameworks, written apart from paramKeys: each returns the
// top-level parameter a name is read as ("" when it is dropped).
var (
	rack2Pattern = regexp.MustCompile(`\A[\[\]]*([^\[\]]+)\]*`)
	qsBrackets   = regexp.MustCompile(`\[[^\[\]]*\]`)
	qsDotsRE     = regexp.MustCompile(`\.([^.\[]+)`)
)

var frameworkModels = map[string]func(string) string{
	"PHP 8": func(name string) string { return modelPHP(name, true) },
	"PHP 7": func(name string) string { return modelPHP(name, false) },
	"Rack 2": func(name string) string {
		if m := rack2Pattern.FindStringSubmatch(name); m != nil {
			return m[1]
		}
		return ""
	},
	"Rack 2 after '&  '": func(name string) string {
		if m := rack2Pattern.FindStringSubmatch(strings.TrimLeft(name, " ")); m != nil {
			return m[1]
		}
		return ""
	},
	"Rack 3": func(name string) string {
		if len(name) > 1 {
			if i := strings.Index(name[1:], "["); i >= 0 {
				return name[:i+1]
			}
		}
		return name
	},
	"qs":           func(name string) string { return modelQS(name) },
	"qs allowDots": func(name string) string { return modelQS(qsDotsRE.ReplaceAllString(name, "[${1}]")) },
	"qs ignoreQueryPrefix": func(name string) string {
		return modelQS(strings.TrimPrefix(name, "?"))
	},
	"Django, ASP.NET": func(name string) string { return name },
}

// modelPHP follows php_register_variable_ex for the top-level name.
func modelPHP(name string, php8 bool) string {
	if i := strings.IndexByte(name, 0); i >= 0 {
		name = name[:i]
	}
	for len(name) > 0 && name[0] == ' ' {
		name = name[1:]
	}
	v := []byte(name)
	p := 0
	for ; p < len(v); p++ {
		if v[p] == ' ' || v[p] == '.' {
			v[p] = '_'
		} else if v[p] == '[' {
			break
		}
	}
	if p == len(v) {
		return string(v)
	}
	if strings.IndexByte(string(v[p+1:]), ']') >= 0 {
		return string(v[:p])
	}
	v[p] = '_'
	if php8 {
		for q := p + 1; q < len(v); q++ {
			if v[q] == ' ' || v[q] == '.' || v[q] == '[' {
				v[q] = '_'
			}
		}
	}
	return string(v)
}

// modelQS follows qs' parseKeys and parseObject for the top-level key.
func modelQS(key string) string {
	loc := qsBrackets.FindStringIndex(key)
	if loc == nil {
		return key
	}
	if parent := key[:loc[0]]; parent != "" {
		return parent
	}
	root := key[loc[0]:loc[1]]
	return root[1 : len(root)-1]
}

// upperRunes is how ASP.NET compares names ignoring case.
func upperRunes(s string) string { return strings.Map(unicode.ToUpper, s) }

// checkParamKeysCoverModels: whatever a framework reads name as, folded, is
// one of its keys, so that two names a framework reads as one always meet.
func checkParamKeysCoverModels(t *testing.T, name string) {
	keys := paramKeys(name)
	for model, read := range frameworkModels {
		if key := read(name); key != "" && !slices.Contains(keys, foldParam(key)) {
			t.Fatalf("%s reads %q as %q, not among its keys %q", model, name, key, keys)
		}
	}
	// foldParam is a function of the upper-cased name (ASP.NET) and of
	// Unicode simple folding.
	folded := foldParam(name)
	for _, other := range []string{upperRunes(name), strings.ToLower(name), strings.Map(unicode.SimpleFold, name)} {
		if foldParam(other) != folded {
			t.Fatalf("%q folds to %q, %q to %q", name, folded, other, foldParam(other))
		}
	}
}

var paramKeySeeds = []string{
	"reply_code", "reply.code", " reply_code", "reply_code\x00x", "reply[code", "reply[co.de", "reply_code[]",
	"[reply_code]", "]reply_code]", "reply_code]x", ".reply_code", "a.b[c]", "a[b[c]", "?reply_code", "Reply_Code",
	"tranſ_amount", "ıd", "\u212Aey", "[]", "[", "]", ".", "..a", "a..b", "a.[b]", "[a.b]", " .a", "[[a]]", "a]b[c]",
	"?[a]", "? a", "a[]b", "ǅ", "ß", "ẞ", "ς", "\u0345",
}

func TestParamKeysCoverFrameworkModels(t *testing.T) {
	for _, s := range paramKeySeeds {
		checkParamKeysCoverModels(t, s)
	}
	// Two names that a model reads as one meet.
	for _, pair := range [][2]string{{"reply_code", "reply.code"}, {"reply_code", "Reply_Code"}, {"a[x]", "a.y"}, {"[a]", "a"}} {
		a, b := paramKeys(pair[0]), paramKeys(pair[1])
		assert.True(t, slices.ContainsFunc(a, func(k string) bool { return slices.Contains(b, k) }), "%q %q", pair[0], pair[1])
	}
}

func FuzzParamKeysCoverFrameworkModels(f *testing.F) {
	for _, s := range paramKeySeeds {
		f.Add(s)
	}
	f.Fuzz(checkParamKeysCoverModels)
}

// FuzzParseURLEncoded: whatever parseURLEncoded accepts has no two names
// that any framework model reads as one, and no nested name.
func FuzzParseURLEncoded(f *testing.F) {
	for _, s := range []string{"a=1&b=2", "reply_code=051&reply.code=000", "a=1&A=2", "%00a=1&a=2", "+a=1&a=2", "token=x&src=y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, encoded string) {
		fields, err := parseURLEncoded("query parameter", encoded)
		if err != nil {
			return
		}
		read := map[string]string{}
		for name := range fields {
			for model, m := range frameworkModels {
				key := m(name)
				if key == "" {
					continue
				}
				key = model + ":" + upperRunes(key)
				if other, ok := read[key]; ok && other != name {
					t.Fatalf("%s reads %q and %q as one", model, other, name)
				}
				read[key] = name
			}
		}
	})
}
