package verifiers

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"math/rand/v2"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
)

// The optimized hot-path helpers are compared here with the straightforward
// implementations they replaced, kept as references.

// refEventID is eventID as it was first written.
func refEventID(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%d:%s;", len(p), p)
	}
	return "pn_" + hex.EncodeToString(h.Sum(nil)[:16])
}

func TestEventIDMatchesReference(t *testing.T) {
	long := strings.Repeat("0123456789abcdef", 64) // 1024 bytes: past the stack buffer
	cases := [][]string{
		nil,
		{},
		{""},
		{"", ""},
		{"octo3"},
		{"octo3", "M100200", "ORD-20240501-0001", "TXN9876543210", "PAY", "ACCEPTED", "12.50", "12.50", "12.50", ""},
		{"oobit", "22924ABC12365000" + "7.23USD"},
		{"a:b;c", ";", ":", "1:a;"},
		{"1:a;"},
		{"é中文😀", "\x00\xff\xfe", "%d %s %v"},
		{long},
		{long, "", long + "x"},
		{strings.Repeat("x", 499), "y"},
		{strings.Repeat("x", 500), "y"},
		{strings.Repeat("x", 505)},
		{strings.Repeat("z", 1<<16)},
	}
	for i, parts := range cases {
		if got, want := EventID(parts...), refEventID(parts...); got != want {
			t.Errorf("case %d: eventID = %s, reference %s", i, got, want)
		}
	}
	// Every framing boundary around the 512-byte stack buffer.
	for n := 480; n < 540; n++ {
		parts := []string{"provider", strings.Repeat("q", n), ""}
		if got, want := EventID(parts...), refEventID(parts...); got != want {
			t.Fatalf("len %d: eventID = %s, reference %s", n, got, want)
		}
	}
}

func FuzzEventIDMatchesReference(f *testing.F) {
	f.Add("octo3", "", "ORD-1")
	f.Add(strings.Repeat("a", 600), ";", ":")
	f.Fuzz(func(t *testing.T, a, b, c string) {
		if got, want := EventID(a, b, c), refEventID(a, b, c); got != want {
			t.Fatalf("eventID = %s, reference %s", got, want)
		}
	})
}

// refCheckHexHMAC is CheckHexHMAC as it was first written.
func refCheckHexHMAC(name, given string, newHash func() hash.Hash, secrets [][]byte, message []byte) error {
	if given == "" {
		return fmt.Errorf("%w: no %s", ErrSignature, name)
	}
	mac, err := hex.DecodeString(given)
	if err != nil || len(mac) != newHash().Size() {
		return fmt.Errorf("%w: %s is not a hex HMAC of the configured algorithm", ErrSignature, name)
	}
	for _, secret := range secrets {
		h := hmac.New(newHash, secret)
		h.Write(message)
		if hmac.Equal(h.Sum(nil), mac) {
			return nil
		}
	}
	return fmt.Errorf("%w: %s matches none of the %d configured secrets", ErrSignature, name, len(secrets))
}

func errText(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

func TestCheckHexHMACMatchesReference(t *testing.T) {
	secretSets := [][][]byte{
		{[]byte("k")},
		{[]byte("first"), []byte("second"), []byte("third")},
		{bytes.Repeat([]byte("long key "), 30)}, // longer than a block: hashed first
	}
	messages := [][]byte{nil, []byte("m"), bytes.Repeat([]byte("payload"), 100)}
	for _, newHash := range []func() hash.Hash{sha1.New, sha256.New} {
		for _, secrets := range secretSets {
			keys := NewHMACKeys(newHash, secrets)
			for _, msg := range messages {
				var givens []string
				for _, s := range secrets {
					h := hmac.New(newHash, s)
					h.Write(msg)
					sum := hex.EncodeToString(h.Sum(nil))
					givens = append(givens, sum, strings.ToUpper(sum), sum[:len(sum)-1], sum+"0", sum[:len(sum)-2],
						"g"+sum[1:], sum[:len(sum)-1]+"G", " "+sum[1:], strings.Repeat("0", len(sum)), "x")
				}
				givens = append(givens, "", "00", strings.Repeat("ab", 20), strings.Repeat("ab", 32), strings.Repeat("ab", 64))
				for _, given := range givens {
					// Twice: the second call reuses pooled states.
					for range 2 {
						got := errText(CheckHexHMAC("sig", given, keys, msg))
						want := errText(refCheckHexHMAC("sig", given, newHash, secrets, msg))
						if got != want {
							t.Fatalf("given %q: %s, reference %s", given, got, want)
						}
					}
				}
			}
		}
	}
}

func TestCheckHexHMACConcurrent(t *testing.T) {
	secrets := [][]byte{[]byte("old"), []byte("new")}
	keys := NewHMACKeys(sha256.New, secrets)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				msg := []byte(fmt.Sprintf("message %d %d", g, i))
				h := hmac.New(sha256.New, secrets[i%2])
				h.Write(msg)
				good := hex.EncodeToString(h.Sum(nil))
				if err := CheckHexHMAC("sig", good, keys, msg); err != nil {
					t.Errorf("genuine refused: %v", err)
					return
				}
				if err := CheckHexHMAC("sig", good, keys, append(msg, '!')); err == nil {
					t.Error("tampered accepted")
					return
				}
			}
		}()
	}
	wg.Wait()
}

func FuzzDecodeHexMatchesHex(f *testing.F) {
	f.Add("00ff", 2)
	f.Add("AbCdEf0123456789abcdef0123456789ABCDEF01", 20)
	f.Add("zz", 1)
	f.Fuzz(func(t *testing.T, s string, n int) {
		if n < 0 || n > 64 {
			return
		}
		dst := make([]byte, n)
		ok := decodeHex(dst, s)
		want, err := hex.DecodeString(s)
		wantOK := err == nil && len(want) == n
		if ok != wantOK || (ok && !bytes.Equal(dst, want)) {
			t.Fatalf("decodeHex(%q, %d) = %v %x, hex.DecodeString %x %v", s, n, ok, dst, want, err)
		}
	})
}

// refOcto3StringToSign is octo3StringToSign as it was first written.
func refOcto3StringToSign(fields map[string]string) []byte {
	names := make([]string, 0, len(fields))
	for name, value := range fields {
		if name != octo3Hash && value != "" {
			names = append(names, name)
		}
	}
	slices.SortFunc(names, func(a, b string) int {
		if c := strings.Compare(strings.ToLower(a), strings.ToLower(b)); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	var signed []byte
	for _, name := range names {
		signed = append(signed, fields[name]...)
	}
	return signed
}

func TestOcto3FieldsAreLowerASCII(t *testing.T) {
	// What makes the plain sort of octo3StringToSign the only one Verify
	// uses: it signs documented names only.
	for name := range octo3Fields {
		if !isLowerASCII(name) || strings.ToLower(name) != name {
			t.Errorf("documented field %q is not lower-case ASCII", name)
		}
	}
}

func TestOcto3StringToSignMatchesReference(t *testing.T) {
	pool := []string{"version", "Version", "VERSION", "action", "Action", "a", "B", "b", "_x", "Z_", "ſ", "S", "s",
		"é", "É", "\xff", "card_num", "Card_Num", "secure_hash", "SECURE_HASH", "txn_no", "TXN_NO", "k1", "K1", "İ", "i", "I"}
	for seed := range uint64(2000) {
		rng := rand.New(rand.NewPCG(seed, 7))
		fields := map[string]string{}
		for range rng.IntN(12) {
			name := pool[rng.IntN(len(pool))]
			if rng.IntN(3) == 0 {
				name += pool[rng.IntN(len(pool))]
			}
			value := ""
			if rng.IntN(5) > 0 {
				value = fmt.Sprint(rng.IntN(1000))
			}
			fields[name] = value
		}
		if got, want := octo3StringToSign(fields), refOcto3StringToSign(fields); !bytes.Equal(got, want) {
			t.Fatalf("%v: %q, reference %q", fields, got, want)
		}
		if got, want := octo3AppendStringToSign(nil, fieldsOf(fields)), refOcto3StringToSign(fields); !bytes.Equal(got, want) {
			t.Fatalf("sorted fields %v: %q, reference %q", fields, got, want)
		}
	}
}

var timeSamples = []string{
	"", "2", "2024", "20240", "2024-", "2024/", "2024-05-01 10:20:30", "20240501102030", "2024-05-01T10:20:30",
	"2024/05/01 10:20:30", "2024-05-01T10:20:30Z", "2024-05-01T10:20:30+08:00", "2024-05-01T10:20:30.123Z",
	"2024-05-01 10:20:30.5", "2024-05-01 1:20:30", "2024-05-01  10:20:30", "2024-05-01T10:20:30,5+01:00",
	"20240501102030.25", "2024050110203", "202405011020301", "2024-13-01 10:20:30", "2024-02-30 10:20:30",
	"0000-01-01 00:00:00", "9999-12-31T23:59:59-23:59", "2024-05-01T10:20:30z", "2024-05-01 10:20:30Z",
	"+024-05-01 10:20:30", "-024-05-01 10:20:30", "2024.05.01 10:20:30", "2024 05 01 10:20:30", "11/02/2020 12:40:11",
	"2024-05-01T10:20:30+0800", "2024/05/01T10:20:30", "2024-05-01t10:20:30", "２０２４-05-01 10:20:30",
}

func TestParseOcto3TimeMatchesParseTime(t *testing.T) {
	for _, layout := range octo3TimeLayouts {
		if !strings.HasPrefix(layout, "2006") || len(layout) < 5 {
			t.Fatalf("layout %q does not start with the four-digit year: parseOcto3Time's dispatch is wrong", layout)
		}
	}
	for _, s := range timeSamples {
		if got, want := parseOcto3Time(s), ParseTime(s, octo3TimeLayouts...); !got.Equal(want) || got.Location() != want.Location() {
			t.Errorf("%q: %v, parseTime %v", s, got, want)
		}
	}
}

func FuzzParseOcto3Time(f *testing.F) {
	for _, s := range timeSamples {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, want := parseOcto3Time(s), ParseTime(s, octo3TimeLayouts...)
		gj, _ := got.MarshalJSON()
		wj, _ := want.MarshalJSON()
		if !bytes.Equal(gj, wj) || got.IsZero() != want.IsZero() {
			t.Fatalf("%q: %v, parseTime %v", s, got, want)
		}
	})
}

func TestCheckContentTypeFastPath(t *testing.T) {
	// The fast path returns nil for contentType == want: what the parser
	// says of the wanted types themselves.
	for _, want := range []string{FormType, JSONType} {
		mediaType, params, err := mime.ParseMediaType(want)
		if err != nil || mediaType != want || len(params) != 0 {
			t.Errorf("%q parses as %q %v %v", want, mediaType, params, err)
		}
		if err := CheckContentType(want, want); err != nil {
			t.Errorf("%q refused: %v", want, err)
		}
	}
}

func TestEqualCredential(t *testing.T) {
	for _, want := range []string{"k", "octopus-test-key", strings.Repeat("long", 40)} {
		c, err := NewCredential("key", want)
		if err != nil || !c.Set() {
			t.Fatalf("NewCredential(%q) = %v, %v", want, c.Set(), err)
		}
		for _, given := range []string{"", "k", "K", "k ", "octopus-test-key", strings.Repeat("long", 40), strings.Repeat("long", 39)} {
			if got := c.Equal(given); got != (given == want) {
				t.Errorf("Credential(%q).Equal(%q) = %v", want, given, got)
			}
		}
	}
	if c, err := NewCredential("key", ""); err != nil || c.Set() {
		t.Errorf("an empty credential is not checked: Set() = %v, %v", c.Set(), err)
	}
}

// refOobitSignedString is the signed string of oobit as first written (over
// a map), the reference for oobitSignedFields.
func refOobitSignedString(fields map[string]string) string {
	var signed strings.Builder
	for _, name := range oobitSigned {
		signed.WriteString(fields[name])
	}
	return signed.String()
}

func TestOobitSignedStringMatchesReference(t *testing.T) {
	for _, fields := range []map[string]string{
		nil, {}, {"trans_id": "1"}, {"trans_currency": "USD", "reply_code": "000", "other": "x"},
		{"trans_id": "22924", "trans_order": "ABC12365", "reply_code": "000", "trans_amount": "7.23", "trans_currency": "USD"},
		{"trans_id": strings.Repeat("9", 300), "trans_order": "é中", "trans_amount": ""},
	} {
		if got, want := oobitSignedFields(fieldsOf(fields)), refOobitSignedString(fields); got != want {
			t.Errorf("sorted fields %v: %q, reference %q", fields, got, want)
		}
	}
}

func TestOobitLongSignedValues(t *testing.T) {
	// Signed values longer than checkSignature's stack buffer, under the
	// second of two secrets.
	v := mustNew(t, "oobit", options{Secrets: []string{"first-key", "second-key"}})
	order := strings.Repeat("ORDER", 80)
	signed := "22924" + order + "000" + "7.23" + "USD"
	for _, tc := range []struct {
		secret string
		ok     bool
	}{{"second-key", true}, {"first-key", true}, {"third-key", false}} {
		sum := sha256.Sum256([]byte(signed + tc.secret))
		query := url.Values{"trans_id": {"22924"}, "trans_order": {order}, "reply_code": {"000"}, "trans_amount": {"7.23"},
			"trans_currency": {"USD"}, "signature": {base64.StdEncoding.EncodeToString(sum[:])}}
		req := &Request{Method: "GET", Header: http.Header{}, RawQuery: query.Encode(), ClientIP: goldenClientIP, ReceivedAt: goldenReceivedAt}
		events, err := v.Verify(context.Background(), req)
		if tc.ok {
			if err != nil || len(events) != 1 || events[0].ID != refEventID("oobit", signed, "succeeded", "000", "7.23", "USD", order, "22924") {
				t.Fatalf("%s: %v %v", tc.secret, events, err)
			}
		} else if err == nil || err.Error() != "signature missing or invalid: signature matches none of the 2 configured secrets" {
			t.Fatalf("%s: %v", tc.secret, err)
		}
	}
}

// jsonEdgeStrings are strings whose JSON encoding has special cases.
func jsonEdgeStrings() []string {
	s := []string{"", "plain", "<script>&amp;</script>", "a\u2028b\u2029c", "\u2027\u202a", "\ufffd", "\xef\xbf\xbd",
		"\xff", "\xfe\xff", "\xc0\x80", "\xed\xa0\x80", "\xed\x9f\xbf", "\xf4\x90\x80\x80", "\xf0\x9f\x98", "a\xe2\x80",
		"\xe2\x80\xa8\xe2\x80", "é中文😀", "q\"uote\\back/slash", "\x00\x01\x07\x08\x09\x0a\x0b\x0c\x0d\x1b\x1f\x20\x7f",
		"\u0080\u00ff\u07ff\u0800\uffff\U00010000\U0010ffff", strings.Repeat("<&>", 100), strings.Repeat("é", 300)}
	for b := 0; b < 256; b++ {
		s = append(s, string([]byte{byte(b)}), "x"+string([]byte{byte(b)})+"y")
	}
	return s
}

func TestMarshalStringMapMatchesEncodingJSON(t *testing.T) {
	check := func(m map[string]string) {
		t.Helper()
		want, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		if got := marshalStringMap(m, nil); !bytes.Equal(got, want) {
			t.Fatalf("%q:\n got %s\nwant %s", m, got, want)
		}
		if m != nil {
			if got := marshalFields(fieldsOf(m), nil, nil); !bytes.Equal(got, want) {
				t.Fatalf("fields %q:\n got %s\nwant %s", m, got, want)
			}
		}
	}
	check(nil)
	check(map[string]string{})
	edge := jsonEdgeStrings()
	for i, s := range edge {
		check(map[string]string{s: s})
		check(map[string]string{s: "v", "k" + s: edge[(i*7)%len(edge)], "B": s, "a": ""})
	}
	all := map[string]string{}
	for i, s := range edge {
		all[s] = edge[len(edge)-1-i]
	}
	check(all)
	// edit is applied to the values as the maps given to json.Marshal were.
	m := map[string]string{"card_num": "4111111111111111", "x": "<1>"}
	want, _ := json.Marshal(map[string]string{"card_num": maskPAN("4111111111111111"), "x": "<1>"})
	if got := marshalStringMap(m, octo3RawValue); !bytes.Equal(got, want) {
		t.Fatalf("edit: %s, want %s", got, want)
	}
	if got := marshalFields(fieldsOf(m), nil, octo3RawValue); !bytes.Equal(got, want) {
		t.Fatalf("fields, edit: %s, want %s", got, want)
	}
	// keep leaves fields out as if they were not in the map.
	m = map[string]string{"a": "", "b": "1", "c": "", "d": "<"}
	want, _ = json.Marshal(map[string]string{"b": "1", "d": "<"})
	if got := marshalFields(fieldsOf(m), func(_, v string) bool { return v != "" }, nil); !bytes.Equal(got, want) {
		t.Fatalf("keep: %s, want %s", got, want)
	}
	want, _ = json.Marshal(map[string]string{})
	if got := marshalFields(fieldsOf(map[string]string{"a": ""}), func(_, v string) bool { return v != "" }, nil); !bytes.Equal(got, want) {
		t.Fatalf("keep none: %s, want %s", got, want)
	}
}

func FuzzMarshalStringMapMatchesEncodingJSON(f *testing.F) {
	edge := jsonEdgeStrings()
	for i := 0; i+3 < len(edge); i += 3 {
		f.Add(edge[i], edge[i+1], edge[i+2], edge[i+3])
	}
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 string) {
		m := map[string]string{k1: v1, k2: v2, v1: k2}
		want, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		if got := marshalStringMap(m, nil); !bytes.Equal(got, want) {
			t.Fatalf("%q:\n got %s\nwant %s", m, got, want)
		}
		if m != nil {
			if got := marshalFields(fieldsOf(m), nil, nil); !bytes.Equal(got, want) {
				t.Fatalf("fields %q:\n got %s\nwant %s", m, got, want)
			}
		}
	})
}
