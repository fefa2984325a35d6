package verifiers

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// checkAppendJSON asserts that e.AppendJSON writes what json.Marshal(e)
// writes, after a prefix it must leave alone, and fails where it fails.
func checkAppendJSON(t testing.TB, e *Event) {
	t.Helper()
	want, wantErr := json.Marshal(e)
	prefix := []byte("prefix")
	got, err := e.AppendJSON(bytes.Clone(prefix))
	if wantErr != nil {
		if err == nil {
			t.Fatalf("json.Marshal fails (%v), AppendJSON wrote %q", wantErr, got)
		}
		if !bytes.Equal(got, prefix) {
			t.Fatalf("AppendJSON failed (%v) but changed dst to %q", err, got)
		}
		return
	}
	if err != nil {
		t.Fatalf("AppendJSON: %v; json.Marshal wrote %q", err, want)
	}
	if !bytes.HasPrefix(got, prefix) || !bytes.Equal(got[len(prefix):], want) {
		t.Fatalf("AppendJSON wrote\n%q\njson.Marshal wrote\n%q", got, want)
	}
}

// TestAppendJSONOnEveryGoldenEvent: every event of testdata/**/*.event.json
// (some hold an array of events) is written as json.Marshal writes it.
// Their raw is indented, so compaction is tested on every file too.
func TestAppendJSONOnEveryGoldenEvent(t *testing.T) {
	var files []string
	err := filepath.WalkDir(filepath.Join("..", "testdata"), func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".event.json") {
			files = append(files, path)
		}
		return err
	})
	require.NoError(t, err)
	require.Greater(t, len(files), 200, "the golden event files were not found")
	events := 0
	for _, path := range files {
		data, err := os.ReadFile(path)
		require.NoError(t, err)
		var list []Event
		if bytes.HasPrefix(bytes.TrimSpace(data), []byte("[")) {
			require.NoError(t, json.Unmarshal(data, &list), path)
		} else {
			var e Event
			require.NoError(t, json.Unmarshal(data, &e), path)
			list = []Event{e}
		}
		for i := range list {
			t.Run(path, func(t *testing.T) { checkAppendJSON(t, &list[i]) })
			events++
		}
	}
	t.Logf("%d events from %d files", events, len(files))
}

func TestAppendJSONEdgeCases(t *testing.T) {
	minor := int64(-9223372036854775808)
	zero := int64(0)
	base := func() Event {
		return Event{Schema: Schema, ID: "pn_1", Provider: "octo3", Status: StatusSucceeded,
			ReceivedAt: time.Date(2024, 5, 1, 10, 20, 31, 0, time.UTC), Raw: json.RawMessage(`{}`)}
	}
	cases := map[string]func(e *Event){
		"nothing optional":      func(*Event) {},
		"zero event":            func(e *Event) { *e = Event{} },
		"negative amount_minor": func(e *Event) { e.AmountMinor = &minor },
		"zero amount_minor":     func(e *Event) { e.AmountMinor = &zero },
		"html and separators": func(e *Event) {
			e.OrderID, e.Reason = "<a href='x'>&amp;</a>", "line\u2028sep\u2029para"
		},
		"control characters": func(e *Event) { e.Reason = "\x00\x01\b\f\n\r\t\x1f\x7f\"\\/" },
		"invalid UTF-8":      func(e *Event) { e.Currency, e.MerchantID = "\xff\xfe", "ok\xe2\x80" },
		"empty customer":     func(e *Event) { e.Customer = &Customer{} },
		"customer phone only": func(e *Event) {
			e.Customer = &Customer{Phone: "+852 1234"}
		},
		"full customer": func(e *Event) {
			e.Customer = &Customer{Name: "Zoë <Z>", Email: "z@x", Phone: "1", IP: "::1"}
		},
		"nanoseconds and a zone": func(e *Event) {
			e.OccurredAt = time.Date(2024, 5, 1, 10, 20, 30, 123456789, time.FixedZone("HKT", 8*3600))
			e.ReceivedAt = time.Date(1999, 12, 31, 23, 59, 59, 100, time.FixedZone("", -(3*3600+30*60)))
		},
		"zone with seconds": func(e *Event) {
			e.OccurredAt = time.Date(1900, 1, 1, 0, 0, 0, 0, time.FixedZone("LMT", 7*3600+36*60+42))
		},
		"zone hour 24":     func(e *Event) { e.OccurredAt = time.Date(2024, 1, 1, 0, 0, 0, 0, time.FixedZone("", 24*3600)) },
		"year 10000":       func(e *Event) { e.ReceivedAt = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) },
		"year -1 occurred": func(e *Event) { e.OccurredAt = time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC) },
		"zero received_at": func(e *Event) { e.ReceivedAt = time.Time{} },
		"nil raw":          func(e *Event) { e.Raw = nil },
		"empty raw":        func(e *Event) { e.Raw = json.RawMessage{} },
		"space only raw":   func(e *Event) { e.Raw = json.RawMessage(" \n") },
		"raw with whitespace": func(e *Event) {
			e.Raw = json.RawMessage(" {\n \"a\" :\t[1, 2.5e-3 , -0, true,false , null],\r\n\"b\": \"x y\" } ")
		},
		"raw with html":      func(e *Event) { e.Raw = json.RawMessage(`{"<k>":"a&b \u003c","s":"` + "\u2028\u2029" + `"}`) },
		"raw invalid UTF-8":  func(e *Event) { e.Raw = json.RawMessage("\"\xff\xe2\x80\xa8\xe2\x80\"") },
		"raw escapes":        func(e *Event) { e.Raw = json.RawMessage(`"\"\\\/\b\f\n\r\t\u00e9\uD83D\uDE00"`) },
		"raw scalar":         func(e *Event) { e.Raw = json.RawMessage(`12`) },
		"raw two values":     func(e *Event) { e.Raw = json.RawMessage(`1 2`) },
		"raw trailing comma": func(e *Event) { e.Raw = json.RawMessage(`[1,]`) },
		"raw bad escape":     func(e *Event) { e.Raw = json.RawMessage(`"\x"`) },
		"raw short unicode":  func(e *Event) { e.Raw = json.RawMessage(`"\u12"`) },
		"raw control in string": func(e *Event) {
			e.Raw = json.RawMessage("\"a\tb\"")
		},
		"raw unterminated":   func(e *Event) { e.Raw = json.RawMessage(`{"a":"b`) },
		"raw leading zero":   func(e *Event) { e.Raw = json.RawMessage(`01`) },
		"raw bare dot":       func(e *Event) { e.Raw = json.RawMessage(`1.`) },
		"raw bare exponent":  func(e *Event) { e.Raw = json.RawMessage(`1e+`) },
		"raw minus":          func(e *Event) { e.Raw = json.RawMessage(`-`) },
		"raw truncated true": func(e *Event) { e.Raw = json.RawMessage(`tru`) },
		"raw key not string": func(e *Event) { e.Raw = json.RawMessage(`{1:2}`) },
		"raw html outside":   func(e *Event) { e.Raw = json.RawMessage(`[1,<]`) },
		"raw vertical tab":   func(e *Event) { e.Raw = json.RawMessage("[1,\v2]") },
		"raw depth 10000":    func(e *Event) { e.Raw = nestedRaw(10000) },
		"raw depth 10001":    func(e *Event) { e.Raw = nestedRaw(10001) },
	}
	for name, edit := range cases {
		t.Run(name, func(t *testing.T) {
			e := base()
			edit(&e)
			checkAppendJSON(t, &e)
		})
	}
}

// nestedRaw is depth arrays and objects inside each other.
func nestedRaw(depth int) json.RawMessage {
	var b []byte
	for i := range depth {
		if i%2 == 0 {
			b = append(b, '[')
		} else {
			b = append(b, `{"k":`...)
		}
	}
	for i := depth - 1; i >= 0; i-- {
		if i%2 == 0 {
			b = append(b, ']')
		} else {
			b = append(b, '}')
		}
	}
	return b
}

// TestAppendJSONFailureIsNamed: an event that cannot be written says which
// member, as json.Marshal refuses it too, and writes nothing of the raw.
func TestAppendJSONFailureIsNamed(t *testing.T) {
	e := Event{Raw: json.RawMessage(`{"card":"4111111111111111"`)}
	_, err := e.AppendJSON(nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "raw")
	assert.NotContains(t, err.Error(), "4111")
	e = Event{Raw: json.RawMessage(`{}`), OccurredAt: time.Date(12345, 1, 1, 0, 0, 0, 0, time.UTC)}
	_, err = e.AppendJSON(nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "occurred_at")
}

// FuzzAppendJSON compares AppendJSON with json.Marshal on events with
// arbitrary members: control characters, invalid UTF-8, HTML characters,
// U+2028, times in any zone with nanoseconds, raw of any bytes.
func FuzzAppendJSON(f *testing.F) {
	f.Add("pn_1", "octo3", "succeeded", "ACCEPTED", "ORD-<1>&", "\u2028\xff\x00", "M1", "12.50", int64(1250), true, "HKD",
		int64(1714558830), int64(123456789), 8*3600, true, "Zoë", "z@x", "", "::1", true, []byte(` {"a" : "<b>\u2029"} `))
	f.Add("", "", "", "", "", "", "", "", int64(0), false, "", int64(0), int64(0), 0, false, "", "", "", "", false, []byte(nil))
	f.Add("a\"b\\c", "\t", "\x7f", "\xe2\x80\xa8", "\xe2\x80", "é", "\U0001F600", "1", int64(-1), true, "\xc0\xaf",
		int64(253402300800), int64(999999999), -(24*3600 - 60), true, "", "", "\n", "", true, []byte("[1, 2 ,\n3]"))
	f.Add("x", "y", "z", "", "", "", "", "", int64(0), false, "", int64(-62135596801), int64(1), 86399, true, "", "", "", "", false, []byte(`[1,]`))
	f.Fuzz(func(t *testing.T, id, provider, status, providerStatus, orderID, reason, merchantID, amount string,
		amountMinor int64, hasMinor bool, currency string, sec, nsec int64, zoneOffset int, hasOccurred bool,
		name, email, phone, ip string, hasCustomer bool, raw []byte) {
		zone := time.FixedZone("Z", zoneOffset%(100*3600))
		e := Event{
			Schema: Schema, ID: id, Provider: provider, Status: Status(status), ProviderStatus: providerStatus,
			OrderID: orderID, TransactionID: reason + orderID, MerchantID: merchantID, Amount: amount,
			Currency: currency, ReceivedAt: time.Unix(sec, nsec).In(zone), Reason: reason,
			ResponseCode: status, PaymentMethod: providerStatus, SourceIP: ip, Raw: raw,
		}
		if hasMinor {
			e.AmountMinor = &amountMinor
		}
		if hasOccurred {
			e.OccurredAt = time.Unix(sec/2, nsec).In(zone)
		}
		if hasCustomer {
			e.Customer = &Customer{Name: name, Email: email, Phone: phone, IP: ip}
		}
		checkAppendJSON(t, &e)
	})
}

// FuzzAppendJSONRaw is FuzzAppendJSON with only raw varying, so that the
// fuzzer spends its time on the JSON grammar: raw is validated and
// compacted by hand, and must be accepted, refused and written exactly as
// encoding/json does.
func FuzzAppendJSONRaw(f *testing.F) {
	for _, seed := range []string{`{}`, ` [ 1 , -0.5e+10, "a\u00e9<>&` + "\u2028" + `", true, false, null, {"k" : []} ] `,
		`"\ud800"`, "\"\xff\xe2\x80\xa9\"", `{"a":1,}`, `[01]`, `1e`, `-`, `"\q"`, "\t\n\r 7 ", `{"a" 1}`, `nul`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		e := Event{Schema: Schema, ID: "pn_1", Provider: "octo3", Status: StatusSucceeded,
			ReceivedAt: time.Date(2024, 5, 1, 10, 20, 31, 0, time.UTC), Raw: raw}
		checkAppendJSON(t, &e)
	})
}

func BenchmarkEventJSON(b *testing.B) {
	data, err := os.ReadFile(filepath.Join("..", "testdata", "octo3", "accepted.event.json"))
	require.NoError(b, err)
	var e Event
	require.NoError(b, json.Unmarshal(data, &e))
	compact, err := json.Marshal(e.Raw)
	require.NoError(b, err)
	e.Raw = compact // as octo3 makes it
	b.Run("json.Marshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(&e); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("AppendJSON", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, 0, 2048)
		for b.Loop() {
			var err error
			if buf, err = e.AppendJSON(buf[:0]); err != nil {
				b.Fatal(err)
			}
		}
	})
}
