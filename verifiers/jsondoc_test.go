package verifiers

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sameDoc checks that readJSONDoc decides on body as checkJSONTokens (the
// jsontext walk CheckJSON made before, kept verbatim to word refusals) does,
// with the same error, and that every value of an accepted body reads as
// encoding/json reads it: at its path, its raw bytes, its text, its string,
// the names of its members; and the compacted body as json.Marshal makes it.
// The reference for paths is JSONPath's own encoding/json fallback
// (lookupDecoded, textDecoded), the old Lookup and Text kept verbatim.
func sameDoc(t *testing.T, body []byte) {
	d, err := readJSONDoc(body)
	want := checkJSONTokens(body)
	if (err == nil) != (want == nil) {
		t.Fatalf("%q: readJSONDoc %v, reference %v", body, err, want)
	}
	// JSONPath reads any bytes as it did, checked or not.
	for _, p := range []JSONPath{{"a"}, {"a", "0"}, {"0"}, {"id"}, {"data", "object", "id"}} {
		got, ok := p.Lookup(body)
		want, wantOK := p.lookupDecoded(body)
		if ok != wantOK || !bytes.Equal(got, want) {
			t.Fatalf("%q at %q: JSONPath.Lookup %q %v, reference %q %v", body, p, got, ok, want, wantOK)
		}
		text, terr := p.Text(body)
		wantText, wantErr := p.textDecoded(body)
		if text != wantText || fmt.Sprint(terr) != fmt.Sprint(wantErr) {
			t.Fatalf("%q at %q: JSONPath.Text %q %v, reference %q %v", body, p, text, terr, wantText, wantErr)
		}
	}
	if err != nil {
		if err.Error() != want.Error() || !errors.Is(err, ErrMalformed) {
			t.Fatalf("%q: readJSONDoc %q, reference %q", body, err, want)
		}
		if cerr := CheckJSON(body); cerr == nil || cerr.Error() != want.Error() {
			t.Fatalf("%q: CheckJSON %v, reference %v", body, cerr, want)
		}
		return
	}
	defer d.release()
	require.NoError(t, CheckJSON(body))
	compact, err := json.Marshal(json.RawMessage(body))
	require.NoError(t, err)
	if got := d.root().appendCompact(nil, true); !bytes.Equal(got, compact) {
		t.Fatalf("%q: compact %q, json.Marshal %q", body, got, compact)
	}
	if got := d.compactRaw(); !bytes.Equal(got, compact) {
		t.Fatalf("%q: compactRaw %q, json.Marshal %q", body, got, compact)
	}
	var plain bytes.Buffer
	require.NoError(t, json.Compact(&plain, body))
	if got := d.root().appendCompact(nil, false); !bytes.Equal(got, plain.Bytes()) {
		t.Fatalf("%q: compact %q, json.Compact %q", body, got, plain.Bytes())
	}
	if got := d.compact(false); !bytes.Equal(got, plain.Bytes()) {
		t.Fatalf("%q: compact %q, json.Compact %q", body, got, plain.Bytes())
	}
	var tree any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	require.NoError(t, dec.Decode(&tree))
	var walk func(v jsonValue, p JSONPath)
	walk = func(v jsonValue, p JSONPath) {
		raw, ok := p.lookupDecoded(body)
		if !ok || !bytes.Equal(raw, v.Raw()) {
			t.Fatalf("%q at %q: raw %q, reference %q (%v)", body, p, v.Raw(), raw, ok)
		}
		if got := d.root().Path(p); got != v {
			t.Fatalf("%q at %q: Path finds node %d, want %d", body, p, got.i, v.i)
		}
		text, err := v.Text(p)
		wantText, wantErr := p.textDecoded(body)
		if text != wantText || fmt.Sprint(err) != fmt.Sprint(wantErr) {
			t.Fatalf("%q at %q: Text %q %v, reference %q %v", body, p, text, err, wantText, wantErr)
		}
		if got, ok := p.Lookup(body); !ok || !bytes.Equal(got, raw) {
			t.Fatalf("%q at %q: JSONPath.Lookup %q %v, reference %q", body, p, got, ok, raw)
		}
		if got, err := p.Text(body); got != wantText || fmt.Sprint(err) != fmt.Sprint(wantErr) {
			t.Fatalf("%q at %q: JSONPath.Text %q %v, reference %q %v", body, p, got, err, wantText, wantErr)
		}
		treeValue, treeErr := treeText(tree, p)
		if text != treeValue || fmt.Sprint(err) != fmt.Sprint(treeErr) {
			t.Fatalf("%q at %q: Text %q %v, the mapping's treeText %q %v", body, p, text, err, treeValue, treeErr)
		}
		var s string
		str, ok := v.String()
		// encoding/json decodes a string into a string, null into nothing.
		if jerr := json.Unmarshal(raw, &s); (jerr == nil && raw[0] == '"') != ok || str != s {
			t.Fatalf("%q at %q: String %q %v, encoding/json %q %v", body, p, str, ok, s, jerr)
		}
		switch v.Kind() {
		case '{':
			var members map[string]json.RawMessage
			require.NoError(t, json.Unmarshal(raw, &members))
			if v.Len() != len(members) {
				t.Fatalf("%q at %q: %d members, encoding/json %d", body, p, v.Len(), len(members))
			}
			for name, m := range v.Members {
				if _, ok := members[name]; !ok {
					t.Fatalf("%q at %q: member %q unknown to encoding/json", body, p, name)
				}
				if v.Get(name) != m {
					t.Fatalf("%q at %q: Get(%q) is not the member", body, p, name)
				}
				walk(m, append(p[:len(p):len(p)], name))
			}
		case '[':
			var items []json.RawMessage
			require.NoError(t, json.Unmarshal(raw, &items))
			if v.Len() != len(items) {
				t.Fatalf("%q at %q: %d elements, encoding/json %d", body, p, v.Len(), len(items))
			}
			i := 0
			for e := range v.Elements {
				if v.Index(i) != e {
					t.Fatalf("%q at %q: Index(%d) is not the element", body, p, i)
				}
				walk(e, append(p[:len(p):len(p)], strconv.Itoa(i)))
				i++
			}
		}
	}
	walk(d.root(), nil)
	// Paths that find nothing find nothing in both.
	for _, p := range []JSONPath{{"missing"}, {"0"}, {"a", "00"}, {"a", "-1"}, {"a", "0", "b"}} {
		_, ok := p.lookupDecoded(body)
		if got := d.root().Path(p); got.Exists() != ok {
			t.Fatalf("%q at %q: found %v, reference %v", body, p, got.Exists(), ok)
		}
	}
}

// jsonDocSeeds are the CheckJSON seeds, hostile bodies, and every JSON body
// of testdata.
func jsonDocSeeds(t testing.TB) [][]byte {
	var seeds [][]byte
	for _, s := range checkJSONSeeds {
		seeds = append(seeds, []byte(s))
	}
	for _, s := range []string{
		`{"a":"<&>\u2028 \u2029"}`, "{\"a\":\"\u2028\u2029<\"}", "{ \"a\" : [ 1 , 2.5e3 , -0 , true , false , null ] ,\n\t\"b\" : { } , \"c\" : [ ] }",
		`{"a":"\ud83d\ude00\"\\\/\b\f\n\r\t\u0000"}`, `{"a\u002eb":{"c":1},"a.b":2}`, `{"a":{"b":1},"c":{"B":1}}`, `{"a":1,"b":{"a":2}}`,
		`{"a":"\udc00"}`, `{"a":"\ud800\u0041"}`, `{"a":"\ud800\\"}`, `{"a":1e}`, `{"a":1.}`, `{"a":-}`, `{"a":.5}`, `{"a":1E+2}`,
		`{"a":tru}`, `{"a":nul}`, `{"a":[1,]}`, `{"a":[,1]}`, `{"a" :1 ,}`, `{"a":"x` + "\x01" + `"}`, `{"a":"\x"}`, `{"a":"\u12"}`,
		"\ufeff{}", "{}\x00", " \r\n\t{} \n", `{"é":1,"É":2}`, `{"ǅ":1,"ǆ":2}`, `{"Ω":1,"Ω":2}`, `{"ß":1,"ẞ":2}`, `{"0":[{"1":[2]}]}`,
		`{"Type":"x"}`, `{"a":"<"}`, `{"<":1}`, `{"a":"x&y","b":">"}`, "{\"a\":\"\u2028\"}", `{"a":"é"}`, `{"a":1 }`, `{"a":[1, 2]}`, `{"type":"x","TYPE":"y"}`, `{"a":[` + strings.Repeat(`{"b":1},`, 40) + `{}]}`,
	} {
		seeds = append(seeds, []byte(s))
	}
	// Names about nameHash's 64-byte buffer and pairwise's bound, the same
	// in another case or not, and a non-ASCII spelling (U+212A KELVIN SIGN)
	// that folds to an ASCII one.
	for _, size := range []int{7, 8, 63, 64, 65, 128, 129, 200} {
		lower, upper := strings.Repeat("k", size), strings.Repeat("K", size)
		kelvin := strings.Repeat("k", size-1) + "K"
		near := strings.Repeat("k", size-1) + "l"
		for _, pair := range [][2]string{{lower, upper}, {lower, kelvin}, {upper, kelvin}, {lower, near}, {lower, lower}} {
			// Two members, compared pairwise; among ten, hashed.
			ten := `"0":0,"1":1,"2":2,"3":3,"4":4,"5":5,"6":6,"7":7,`
			seeds = append(seeds, []byte(`{"`+pair[0]+`":1,"`+pair[1]+`":2}`), []byte(`{"`+pair[0]+`":1,"x":{"`+pair[1]+`":2}}`),
				[]byte(`{`+ten+`"`+pair[0]+`":1,"`+pair[1]+`":2}`), []byte(`{"`+pair[0]+`":1,`+ten+`"`+pair[1]+`":2}`))
		}
	}
	// Objects about pairwiseMembers, with and without a duplicate at either
	// end or inside a nested object of the same size.
	for _, members := range []int{8, 9, 16} {
		var names []string
		for k := range members {
			names = append(names, fmt.Sprintf(`"m%02d":%d`, k, k))
		}
		plain := "{" + strings.Join(names, ",") + "}"
		seeds = append(seeds, []byte(plain),
			[]byte("{"+strings.Join(names, ",")+`,"M00":0}`),
			[]byte("{"+strings.Join(names[1:], ",")+`,"M01":0}`),
			[]byte(`{"a":`+plain+`,"b":{"m00":0,`+strings.Join(names, ",")+`}}`))
	}
	// One hashed object beside many one-member objects of long names, which
	// are not hashed: the table is sized for the hashed members only.
	long := strings.Repeat("n", 65)
	seeds = append(seeds, []byte(`{"a":{"0":0,"1":1,"2":2,"3":3,"4":4,"5":5,"6":6,"7":7,"8":8},"b":[`+
		strings.TrimSuffix(strings.Repeat(`{"`+long+`":1},`, 40), ",")+`]}`))
	files, _ := filepath.Glob(filepath.Join("..", "testdata", "*", "*.http"))
	for _, file := range files {
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		_, body, ok := bytes.Cut(raw, []byte("\r\n\r\n"))
		if !ok {
			_, body, ok = bytes.Cut(raw, []byte("\n\n"))
		}
		if ok && bytes.HasPrefix(bytes.TrimLeft(body, " \t\r\n"), []byte("{")) {
			seeds = append(seeds, body)
		}
	}
	return seeds
}

func TestJSONDocReadsAsBefore(t *testing.T) {
	seeds := jsonDocSeeds(t)
	require.Greater(t, len(seeds), 300, "the testdata bodies are seeds")
	for _, s := range seeds {
		sameDoc(t, s)
	}
}

func FuzzJSONDoc(f *testing.F) {
	for _, s := range jsonDocSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body []byte) { sameDoc(t, body) })
}

// A pooled doc's strings survive its release and the next body read into
// the same doc.
func TestJSONDocStringsOutliveRelease(t *testing.T) {
	body := []byte(`{"id":"evt_1","n":12,"e":"a\u00e9"}`)
	d, err := readJSONDoc(body)
	require.NoError(t, err)
	id, n, e := d.root().Get("id").Str(), d.root().Get("n").Number(), d.root().Get("e").Str()
	raw := d.root().Get("n").Raw()
	d.release()
	for range 10 {
		d, err := readJSONDoc([]byte(`{"id":"xxxxx","n":99,"e":"zzzzzzz"}`))
		require.NoError(t, err)
		d.release()
	}
	require.Equal(t, "evt_1", id)
	require.Equal(t, "12", n)
	require.Equal(t, "aé", e)
	require.Equal(t, "12", string(raw))
}

// The member readers accept and read what encoding/json accepted and read
// into a field of the type they stand for.
func TestMemberReadersAsEncodingJSON(t *testing.T) {
	values := []string{`null`, `"x"`, `"a\u00e9"`, `""`, `12`, `-1.5e3`, `"12"`, `"-0.5"`, `"1e"`, `" 1"`, `"0x1"`, `"01"`,
		`true`, `false`, `{}`, `{"a":1}`, `[]`, `[1]`}
	for _, raw := range append(values, "") {
		body := []byte(`{"m":` + raw + `}`)
		if raw == "" {
			body = []byte(`{}`)
		}
		d, err := readJSONDoc(body)
		require.NoError(t, err, raw)
		root := d.root()

		var s struct{ M string }
		jerr := json.Unmarshal(body, &s)
		got, err := root.memberString("m", "m")
		assert.Equal(t, jerr == nil, err == nil, "string %s: %v %v", raw, err, jerr)
		assert.Equal(t, s.M, got, "string %s", raw)

		var n struct{ M json.Number }
		jerr = json.Unmarshal(body, &n)
		got, err = root.memberNumber("m", "m")
		assert.Equal(t, jerr == nil, err == nil, "number %s: %v %v", raw, err, jerr)
		assert.Equal(t, string(n.M), got, "number %s", raw)

		var id struct{ M idText }
		jerr = json.Unmarshal(body, &id)
		got, err = root.memberID("m", "m")
		assert.Equal(t, jerr == nil, err == nil, "id %s: %v %v", raw, err, jerr)
		assert.Equal(t, string(id.M), got, "id %s", raw)

		var o struct{ M struct{} }
		jerr = json.Unmarshal(body, &o)
		obj, err := root.memberObject("m", "m")
		assert.Equal(t, jerr == nil, err == nil, "object %s: %v %v", raw, err, jerr)
		assert.Equal(t, raw != "" && raw[0] == '{', obj.Exists(), "object %s", raw)
		d.release()
	}
}

// idText is how paystack, razorpay and square read an id before the
// jsonDoc: a JSON string or number read as its text, an id that a provider
// sends as either ("id": 302961 or "id": "302961"). null is "".
type idText string

// UnmarshalJSON implements json.Unmarshaler.
func (t *idText) UnmarshalJSON(b []byte) error {
	switch {
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*t = idText(s)
	case string(b) == "null":
		*t = ""
	default:
		var n json.Number
		if err := json.Unmarshal(b, &n); err != nil {
			return fmt.Errorf("an id is a string or a number")
		}
		*t = idText(n)
	}
	return nil
}

// treeText is how the mapping of hmac and standardwebhooks read a path
// before the jsonDoc: JSONPath.Text over a decoded body (json.Number for numbers):
// a string's content, a number or boolean as sent, "" when absent or null;
// an object or an array is ErrMalformed.
func treeText(doc any, p JSONPath) (string, error) {
	v := doc
	for _, seg := range p {
		switch node := v.(type) {
		case map[string]any:
			next, ok := node[seg]
			if !ok {
				return "", nil
			}
			v = next
		case []any:
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 || seg != strconv.Itoa(i) || i >= len(node) {
				return "", nil
			}
			v = node[i]
		default:
			return "", nil
		}
	}
	switch v := v.(type) {
	case nil:
		return "", nil
	case string:
		return v, nil
	case json.Number:
		return v.String(), nil
	case bool:
		return strconv.FormatBool(v), nil
	}
	return "", fmt.Errorf("%w: %s is an object or an array, not a value", ErrMalformed, p)
}

// BenchmarkReadJSONDoc reads a realistic body into a doc and compacts it,
// next to the jsontext walk CheckJSON made before.
func BenchmarkReadJSONDoc(b *testing.B) {
	for _, name := range []string{"stripe/payment_intent_succeeded", "paddle/transaction_completed"} {
		body := goldenRequest(b, name).Body
		b.Run(name+"/doc", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				d, err := readJSONDoc(body)
				if err != nil {
					b.Fatal(err)
				}
				d.release()
			}
		})
		b.Run(name+"/tokens", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if err := checkJSONTokens(body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
