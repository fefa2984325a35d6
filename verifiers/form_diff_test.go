package verifiers

import (
	"bufio"
	"bytes"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/simplifiedchinese"
)

// The reference reader (formref_test.go) walks url.Values, a map, and
// returns the error of the first faulty name it meets: with several faulty
// names, which one it names depends on the map's order. The new reader
// names the first in byte order. So the differential tests below compare
// the fields exactly, and an error with the set of errors the reference
// can return for the input: refParseErrors enumerates them, and every test
// checks that the reference's own answer is in the set, so that the
// enumeration cannot drift from the reference.

// refParseErrors is the set of errors refParseURLEncoded can return for
// encoded; empty when it accepts it.
func refParseErrors(what, encoded string) []string {
	values, err := url.ParseQuery(encoded)
	if err != nil {
		return []string{ErrMalformed.Error() + ": " + what + ": " + err.Error()}
	}
	if len(values) > maxParams {
		_, err := refParseURLEncoded(what, encoded)
		return []string{err.Error()}
	}
	var errs []string
	for name, vals := range values {
		// The reference's checks for one name, alone.
		one := url.Values{name: vals}
		if _, err := refParseURLEncoded(what, one.Encode()); err != nil && !strings.Contains(err.Error(), " are read as one parameter") {
			errs = append(errs, err.Error())
		}
	}
	if len(errs) > 0 {
		return errs
	}
	if _, err := refParseURLEncoded(what, encoded); err != nil {
		return []string{err.Error()} // the names that meet: sorted, one answer
	}
	return nil
}

// checkSameParse compares parseFormFields with the reference.
func checkSameParse(t *testing.T, what, encoded string) {
	t.Helper()
	want, refErr := refParseURLEncoded(what, encoded)
	possible := refParseErrors(what, encoded)
	got, err := parseFormFields(what, encoded)
	if refErr != nil {
		require.Contains(t, possible, refErr.Error(), "the enumeration misses the reference's own error for %q", encoded)
		require.Error(t, err, "the reference refuses %q (%v), the new reader accepts it", encoded, refErr)
		require.ErrorIs(t, err, ErrMalformed)
		require.Contains(t, possible, err.Error(), "an error the reference cannot return for %q", encoded)
		return
	}
	require.Empty(t, possible, "the enumeration refuses what the reference accepts: %q", encoded)
	require.NoError(t, err, "the reference accepts %q, the new reader refuses it", encoded)
	require.Equal(t, want, got.Map(), "fields of %q", encoded)
	require.True(t, slices.IsSortedFunc(got, func(a, b formField) int { return strings.Compare(a.name, b.name) }))
	m, err := parseURLEncoded(what, encoded)
	require.NoError(t, err)
	require.Equal(t, want, m)
}

// formDecoders are decodeForm's decoders as alipay and paypal_ipn make them.
var formDecoders = map[string]func(string) (string, bool){
	"utf-8": func(s string) (string, bool) { return s, utf8.ValidString(s) },
	"gbk": func(s string) (string, bool) {
		out, err := simplifiedchinese.GBK.NewDecoder().String(s)
		if err != nil || !utf8.ValidString(out) {
			return "", false
		}
		back, err := simplifiedchinese.GBK.NewEncoder().String(out)
		return out, err == nil && back == s
	},
	"windows-1252": func(s string) (string, bool) {
		out, err := charmap.Windows1252.NewDecoder().String(s)
		return out, err == nil && utf8.ValidString(out)
	},
}

// refDecodeErrors is the set of errors refDecodeForm can return for raw.
func refDecodeErrors(raw url.Values, charset string, decode func(string) (string, bool)) []string {
	var errs []string
	decoded := make(url.Values, len(raw))
	for name, values := range raw {
		// The reference's decoding of one name and its values, alone.
		if _, err := refDecodeForm(url.Values{name: values}, charset, decode); err != nil && strings.HasSuffix(err.Error(), " is not valid "+charset) {
			errs = append(errs, err.Error())
			continue
		}
		n, _ := decode(name)
		for _, value := range values {
			s, _ := decode(value)
			decoded[n] = append(decoded[n], s)
		}
	}
	if len(errs) > 0 {
		return errs
	}
	return refParseErrors("form field", decoded.Encode())
}

// checkSameDecode compares readRawForm and decodeForm with the reference.
func checkSameDecode(t *testing.T, body string) {
	t.Helper()
	refRaw, refErr := refReadRawForm([]byte(body))
	raw, err := readRawForm([]byte(body))
	if refErr != nil {
		require.Error(t, err, "the reference refuses %q (%v)", body, refErr)
		require.Equal(t, refErr.Error(), err.Error(), "body %q", body)
		return
	}
	require.NoError(t, err, "body %q", body)
	require.Equal(t, refRaw, url.Values(rawValues(raw)), "raw parameters of %q", body)
	for _, charset := range slices.Sorted(maps.Keys(formDecoders)) {
		decode := formDecoders[charset]
		want, refErr := refDecodeForm(refRaw, charset, decode)
		possible := refDecodeErrors(refRaw, charset, decode)
		got, err := decodeForm(raw, charset, decode)
		if refErr != nil {
			require.Contains(t, possible, refErr.Error(), "the enumeration misses the reference's own error for %q in %s", body, charset)
			require.Error(t, err, "the reference refuses %q in %s (%v)", body, charset, refErr)
			require.Contains(t, possible, err.Error(), "an error the reference cannot return for %q in %s", body, charset)
			continue
		}
		require.Empty(t, possible, "%q in %s", body, charset)
		require.NoError(t, err, "%q in %s", body, charset)
		require.Equal(t, want, got.Map(), "%q in %s", body, charset)
	}
	// What alipay's signature is computed over: one value per name.
	if fields, err := decodeForm(raw, "utf-8", formDecoders["utf-8"]); err == nil {
		signed := raw.sorted()
		require.Len(t, signed, len(fields))
		for _, p := range signed {
			require.Equal(t, refRaw[p.name][0], p.value)
		}
	}
}

// rawValues is raw as url.Values.
func rawValues(raw rawForm) map[string][]string {
	v := map[string][]string{}
	for _, p := range raw {
		v[p.name] = append(v[p.name], p.value)
	}
	return v
}

// shadowBody is the body the query shadowing checks are compared against:
// plain names, and names frameworks fold, as a JSON body may carry them.
var shadowBodies = []map[string]string{
	{"reply_code": "000", "trans_amount": "7.23"},
	{"reply_code": "000", "Trans Amount": "7.23", "x-y": "1"},
}

var shadowDocumented = map[string]bool{"reply_code": true, "signature": true, "trans_order": true}

// checkSameShadow compares RefuseShadowingQuery and refuseShadowingForm
// with the reference, whose error names the first shadowing parameter it
// meets in a map.
func checkSameShadow(t *testing.T, query string) {
	t.Helper()
	for _, body := range shadowBodies {
		refErr := refRefuseShadowingQuery(query, body, shadowDocumented)
		var possible []string
		if values, err := refParseURLEncoded("query parameter", query); err != nil {
			possible = refParseErrors("query parameter", query)
		} else {
			for name, value := range values {
				one := url.Values{name: {value}}.Encode()
				if err := refRefuseShadowingQuery(one, body, shadowDocumented); err != nil {
					possible = append(possible, err.Error())
				}
			}
		}
		fields, err := parseFormFields("form field", EncodeForm(body))
		require.NoError(t, err)
		for _, err := range []error{
			RefuseShadowingQuery(query, body, shadowDocumented),
			refuseShadowingForm(query, fields, shadowDocumented),
		} {
			if refErr != nil {
				require.Contains(t, possible, refErr.Error(), "the enumeration misses the reference's own error for %q", query)
				require.Error(t, err, "the reference refuses %q (%v)", query, refErr)
				require.ErrorIs(t, err, ErrMalformed)
				require.Contains(t, possible, err.Error(), "query %q", query)
				continue
			}
			require.Empty(t, possible, "query %q", query)
			require.NoError(t, err, "query %q", query)
		}
	}
}

// formSeeds are hostile inputs, and the form bodies and query strings of
// the golden requests.
func formSeeds(t testing.TB) []string {
	seeds := []string{
		"", "a=1", "a", "a=", "=1", "=", "&", "&&", "a=1&&b=2", "a=1&", "&a=1", "a=1&a=2", "a=1&a=1", "a&a",
		"%zz=1", "a=%zz", "a=%", "%", "a=%4", "a=%4g", "%41=1", "a=%41%42", "a=1;b=2", "a=1&b=2;", ";", "a=%zz&b=1;c",
		"a=%zz&b=%yy", "a.b=1", "a[b]=1", "a]=1", "[a]=1", "reply.code=1&reply_code=2", "Reply_Code=1&reply_code=2",
		"a+b=1&a_b=2", "a+b=1", "a=b+c", "a=b%2Bc", "%00=1", "a%00b=1&a=2", "\xff=1", "a=\xff", "%ff=1", "a=%ff",
		"a=%e4%b8%ad", "a=%e4%b8", "ſ=1&s=2", "K=1&k=2", "?a=1&a=2", " a=1&a=2", "a==b", "a=b=c", "a=1&b[=2",
		"%3Ba=1", "a=%3B", "reply_code=000&trans_amount=7.23", "reply_code=1", "Reply_Code=1", "trans+amount=1",
		"Trans_Amount=1", "trans.amount=x", "signature=s&trans_order=o", "x_y=1", "X-Y=1",
	}
	many := make([]string, maxParams+1)
	for i := range many {
		many[i] = "p" + strconv.Itoa(i) + "=v"
	}
	seeds = append(seeds, strings.Join(many, "&"), strings.Join(many[:maxParams], "&"),
		strings.Join(many[:maxParams], "&")+"&"+strings.Repeat("&", 300),
		strings.Join(many, "&")+"&a=%zz", strings.Repeat("a=1&", 300), strings.Repeat("&", 10001)+"a=1")
	files, err := filepath.Glob(filepath.Join("..", "testdata", "*", "*.http"))
	require.NoError(t, err)
	for _, file := range files {
		raw, err := os.ReadFile(file)
		require.NoError(t, err)
		hr, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw)))
		if err != nil {
			continue
		}
		body, _ := io.ReadAll(hr.Body)
		if hr.URL.RawQuery != "" {
			seeds = append(seeds, hr.URL.RawQuery)
		}
		if strings.HasPrefix(hr.Header.Get("Content-Type"), FormType) {
			seeds = append(seeds, string(body))
		}
	}
	return seeds
}

func checkSameForm(t *testing.T, encoded string) {
	t.Helper()
	checkSameParse(t, "form field", encoded)
	checkSameParse(t, "query parameter", encoded)
	checkSameDecode(t, encoded)
	checkSameShadow(t, encoded)
}

func TestFormReaderSameAsReference(t *testing.T) {
	seeds := formSeeds(t)
	require.Greater(t, len(seeds), 100, "the golden requests' forms are among the seeds")
	for _, s := range seeds {
		checkSameForm(t, s)
	}
}

// The hostile seeds are refused, by the new reader, as the reference does:
// the differential test above would also pass if both accepted them.
func TestFormReaderRefusals(t *testing.T) {
	for encoded, reason := range map[string]string{
		"a=%zz":                     `form field: invalid URL escape "%zz"`,
		"a=%":                       `form field: invalid URL escape "%"`,
		"a=%zz&b=1;c":               "form field: invalid semicolon separator in query",
		"a=1&a=2":                   `form field "a" given 2 times`,
		"=1":                        "form field without a name",
		"a.b=1":                     "a name with a bracket or a dot",
		"a[b]=1":                    "a name with a bracket or a dot",
		"a=\xff":                    `form field "a" is not valid UTF-8`,
		"%ff=1":                     "is not valid UTF-8",
		"Reply_Code=1&reply_code=2": `form fields "Reply_Code" and "reply_code" are read as one parameter`,
		"a+b=1&a_b=2":               `form fields "a b" and "a_b" are read as one parameter`,
	} {
		_, err := parseFormFields("form field", encoded)
		require.ErrorIs(t, err, ErrMalformed, encoded)
		require.ErrorContains(t, err, reason, encoded)
	}
	many := make([]string, maxParams+1)
	for i := range many {
		many[i] = "p" + strconv.Itoa(i) + "=v"
	}
	_, err := parseFormFields("form field", strings.Join(many, "&"))
	require.ErrorContains(t, err, "more than 256 form fields")
	_, err = parseFormFields("form field", strings.Join(many[:maxParams], "&")+strings.Repeat("&", 300))
	require.NoError(t, err, "empty parameters are skipped, as url.ParseQuery skips them")
	_, err = parseFormFields("form field", strings.Repeat("&", 10001)+"a=1")
	require.ErrorContains(t, err, "number of URL query parameters exceeded limit")
	// Escaped and plain values.
	f, err := parseFormFields("form field", "b=x+y&a=%41%2B&c=plain")
	require.NoError(t, err)
	require.Equal(t, formFields{{"a", "A+"}, {"b", "x y"}, {"c", "plain"}}, f)
	require.Equal(t, "x y", f.Get("b"))
	require.Equal(t, "", f.Get("d"))
	require.False(t, f.Has("d"))
}

// FuzzFormReader: the new reader accepts what the reference accepts, with
// the same fields, and refuses the rest with an error the reference can
// give (as a form, as a query, decoded from a charset, and as a query that
// may shadow a body).
func FuzzFormReader(f *testing.F) {
	for _, s := range formSeeds(f) {
		// The forms of more than maxParams parameters are left to
		// TestFormReaderSameAsReference: minimizing an input of thousands
		// of bytes takes the fuzzer's whole time.
		if len(s) <= 4096 {
			f.Add(s)
		}
	}
	f.Fuzz(func(t *testing.T, encoded string) {
		checkSameForm(t, encoded)
	})
}
