package verifiers

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// octo3Notification is a realistic octo3 notification: the golden base
// fields (testdata/gen_golden.py) with change applied, "" removing a field.
func octo3Notification(change map[string]string) map[string]string {
	f := map[string]string{
		"version": "2.0", "action": "PAY", "merch_order_id": "ORD-20240501-0001", "merch_id": "M100200",
		"term_id": "T01", "pay_type": "VISA", "currency": "HKD", "card_num": "4111111111111111",
		"merch_txn_id": "MTX-0001", "locale": "en_US", "bill_to_first_name": "Chan",
		"bill_to_last_name": "Tai Man", "bill_to_email_address": "tm.chan@example.com",
		"customer_ip_address": "198.51.100.7", "txn_time": "2024-05-01 10:20:30", "txn_status": "ACCEPTED",
		"txn_response_code": "00", "dr_count": "1", "txn_message": "Approved", "txn_no": "TXN9876543210",
		"authorized_amount": "12.50", "captured_amount": "12.50", "original_amount": "12.50",
	}
	for k, v := range change {
		if v == "" {
			delete(f, k)
		} else {
			f[k] = v
		}
	}
	return f
}

// octo3Sign adds secure_hash, the hex HMAC-SHA1 keyed with octo3Secret.
func octo3Sign(f map[string]string) map[string]string {
	mac := hmac.New(sha1.New, []byte(octo3Secret))
	mac.Write(octo3StringToSign(f))
	f[octo3Hash] = hex.EncodeToString(mac.Sum(nil))
	return f
}

func octo3FormRequest(f map[string]string) *Request {
	form := url.Values{}
	for k, v := range f {
		form.Set(k, v)
	}
	return &Request{
		Method:     http.MethodPost,
		Header:     http.Header{"Content-Type": {"application/x-www-form-urlencoded"}},
		Body:       []byte(form.Encode()),
		ClientIP:   goldenClientIP,
		ReceivedAt: goldenReceivedAt,
	}
}

// regroup is one way of re-splitting a notification's signed string: chars
// moved between the fields left and right.
type regroup struct {
	desc        string
	left, right string
	fields      map[string]string
}

// octo3Regroups returns every notification that signs exactly like f and
// differs from it by one moved boundary: for each two fields that are
// adjacent in the signed string (the non-empty fields in name order), 1 to
// all characters moved from the end of the first to the start of the second
// and back (a field that loses everything disappears), and the same
// characters moved into each documented field, absent from f, that sorts
// between the two (or before the first or after the last).
func octo3Regroups(f map[string]string) []regroup {
	var names []string
	for name, value := range f {
		if name != octo3Hash && value != "" {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	var absent []string
	for name := range octo3Fields {
		if name != octo3Hash && f[name] == "" {
			absent = append(absent, name)
		}
	}
	slices.Sort(absent)
	clone := func() map[string]string {
		c := make(map[string]string, len(f)+1)
		for k, v := range f {
			c[k] = v
		}
		return c
	}
	set := func(m map[string]string, k, v string) {
		if v == "" {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	var out []regroup
	// Between two present fields.
	for i := 0; i+1 < len(names); i++ {
		left, right := names[i], names[i+1]
		lv, rv := f[left], f[right]
		for k := 1; k <= len(lv); k++ {
			m := clone()
			set(m, left, lv[:len(lv)-k])
			set(m, right, lv[len(lv)-k:]+rv)
			out = append(out, regroup{fmt.Sprintf("%d chars %s→%s", k, left, right), left, right, m})
		}
		for k := 1; k <= len(rv); k++ {
			m := clone()
			set(m, left, lv+rv[:k])
			set(m, right, rv[k:])
			out = append(out, regroup{fmt.Sprintf("%d chars %s←%s", k, left, right), left, right, m})
		}
	}
	// Into a field that was not sent.
	for _, x := range absent {
		i, _ := slices.BinarySearch(names, x) // names[i-1] < x < names[i]
		if i > 0 {
			left := names[i-1]
			lv := f[left]
			for k := 1; k <= len(lv); k++ {
				m := clone()
				set(m, left, lv[:len(lv)-k])
				m[x] = lv[len(lv)-k:]
				out = append(out, regroup{fmt.Sprintf("%d chars %s→(new)%s", k, left, x), left, x, m})
			}
		}
		if i < len(names) {
			right := names[i]
			rv := f[right]
			for k := 1; k <= len(rv); k++ {
				m := clone()
				m[x] = rv[:k]
				set(m, right, rv[k:])
				out = append(out, regroup{fmt.Sprintf("%d chars (new)%s←%s", k, x, right), x, right, m})
			}
		}
	}
	return out
}

// octo3Meaning is what an app acts on.
type octo3Meaning struct {
	Status                                 Status
	Amount, Currency                       string
	OrderID, TransactionID, MerchantID, ID string
}

func meaningOf(e Event) octo3Meaning {
	return octo3Meaning{e.Status, e.Amount, e.Currency, e.OrderID, e.TransactionID, e.MerchantID, e.ID}
}

// octo3FreeForm are the fields whose values have no format paynotify can
// check: the merchant's and the platform's identifiers, messages, names and
// addresses. A boundary with one of them can move (see the README): those are
// the regroupings that remain.
var octo3FreeForm = map[string]bool{}

func init() {
	for name := range octo3Fields {
		if octo3Formats[name] == nil && name != octo3Hash {
			octo3FreeForm[name] = true
		}
	}
}

// octo3DigitNeighbours can still exchange digits with an amount: card_num
// (12 to 19 digits, often masked) after captured_amount, which matters when
// amounts are whole numbers of minor units, and auth_id, which can be moved
// as a whole onto the front of authorized_amount when it is all digits.
var octo3DigitNeighbours = map[string]bool{"card_num": true, "auth_id": true}

// TestOcto3RegroupingCannotChangeTheOutcome takes realistic signed
// notifications and tries every regrouping of one boundary of their signed
// string. A status other than unknown must always be the genuine one: a
// REFUND, VOID or CANCEL whose action lost its first letters to
// acq_response_code (action=UND, ID, CEL) was a new succeeded event for the
// full amount. The amount, currency, ids and event id must be the genuine
// ones too, or the regrouping refused, except across a boundary with a field
// that has no checkable format (octo3FreeForm), where an id or an amount can
// still change: the README says so, or between an amount and a field of digits
// (octo3DigitNeighbours).
func TestOcto3RegroupingCannotChangeTheOutcome(t *testing.T) {
	v := mustNew(t, "octo3", octo3Config).(*Octo3)
	notifications := map[string]map[string]string{
		"accepted":     octo3Notification(nil),
		"accepted_acq": octo3Notification(map[string]string{"acq_response_code": "00", "auth_id": "123456"}),
		"refund": octo3Notification(map[string]string{"action": "REFUND", "refunded_amount": "5.00",
			"acq_response_code": "00"}),
		"void":   octo3Notification(map[string]string{"action": "VOID", "acq_response_code": "00"}),
		"cancel": octo3Notification(map[string]string{"action": "CANCEL", "acq_response_code": "000"}),
		"refund_first_field": octo3Notification(map[string]string{"action": "REFUND",
			"refunded_amount": "5.00"}),
		"declined": octo3Notification(map[string]string{"txn_status": "DECLINED", "txn_response_code": "51",
			"txn_message": "Insufficient funds", "captured_amount": ""}),
		"voided": octo3Notification(map[string]string{"action": "VOID", "txn_status": "VOIDED"}),
		"minor_units": octo3Notification(map[string]string{"currency": "344", "authorized_amount": "1250",
			"captured_amount": "1250", "original_amount": "1250", "auth_id": "A1B2C3"}),
		"minimal": octo3Notification(map[string]string{"pay_type": "", "card_num": "", "merch_txn_id": "",
			"locale": "", "bill_to_first_name": "", "bill_to_last_name": "", "bill_to_email_address": "",
			"customer_ip_address": "", "txn_message": "", "txn_no": "", "authorized_amount": "",
			"captured_amount": "", "original_amount": ""}),
	}
	for name, f := range notifications {
		t.Run(name, func(t *testing.T) {
			genuine := octo3Sign(f)
			events, err := v.Verify(context.Background(), octo3FormRequest(genuine))
			require.NoError(t, err)
			want := meaningOf(events[0])
			require.NotEqual(t, StatusUnknown, want.Status)
			tried, refused, unknown, open := 0, 0, 0, 0
			for _, r := range octo3Regroups(genuine) {
				require.Equal(t, string(octo3StringToSign(genuine)), string(octo3StringToSign(r.fields)), r.desc)
				tried++
				events, err := v.Verify(context.Background(), octo3FormRequest(r.fields))
				if err != nil {
					assert.ErrorIs(t, err, ErrMalformed, r.desc)
					refused++
					continue
				}
				got := meaningOf(events[0])
				if got.Status == StatusUnknown {
					unknown++
					continue
				}
				if !assert.Equal(t, want.Status, got.Status, "%s: %v", r.desc, changed(r.fields, genuine)) {
					continue
				}
				if got != want && (octo3FreeForm[r.left] || octo3FreeForm[r.right] ||
					octo3DigitNeighbours[r.left] || octo3DigitNeighbours[r.right]) {
					open++ // documented: a boundary with free text or a free-form id
					continue
				}
				assert.Equal(t, want, got, "%s: %v", r.desc, changed(r.fields, genuine))
			}
			t.Logf("%d regroupings: %d refused, %d unknown, %d other ids or amounts across a free-form boundary, the rest the genuine event",
				tried, refused, unknown, open)
		})
	}
}

// changed lists the fields a regrouping changed, for failure messages.
func changed(got, genuine map[string]string) string {
	var b strings.Builder
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		seen := map[string]bool{}
		for k := range got {
			seen[k] = true
		}
		for k := range genuine {
			seen[k] = true
		}
		for k := range seen {
			if !yield(k) {
				return
			}
		}
	}) {
		if got[name] != genuine[name] {
			fmt.Fprintf(&b, "%s=%q(was %q) ", name, got[name], genuine[name])
		}
	}
	return b.String()
}

// TestOcto3CurrencyCannotBeTakenFromTheCardNumber: the outside review moved
// the last digits of a masked card number into currency, and the numeric
// currency on into customer_ip_address or dr_count: 344 (HKD) became 840
// (USD) under the genuine event id, and the genuine HKD notification was
// then acknowledged as its duplicate.
func TestOcto3CurrencyCannotBeTakenFromTheCardNumber(t *testing.T) {
	v := mustNew(t, "octo3", options{Secrets: []string{octo3Secret}})
	genuine := octo3Sign(octo3Notification(map[string]string{"currency": "344", "card_num": "411111******0840",
		"customer_ip_address": "::ffff:7"}))
	events, err := v.Verify(context.Background(), octo3FormRequest(genuine))
	require.NoError(t, err)
	assert.Equal(t, "HKD", events[0].Currency)

	intoIP := maps.Clone(genuine)
	intoIP["card_num"], intoIP["currency"], intoIP["customer_ip_address"] = "411111******0", "840", "344::ffff:7"
	intoCount := octo3Sign(octo3Notification(map[string]string{"currency": "344", "card_num": "411111******0840",
		"customer_ip_address": ""}))
	genuineNoIP := maps.Clone(intoCount)
	intoCount["card_num"], intoCount["currency"], intoCount["dr_count"] = "411111******0", "840", "3441"
	for name, c := range map[string][2]map[string]string{
		"into customer_ip_address": {genuine, intoIP}, "into dr_count": {genuineNoIP, intoCount},
	} {
		require.Equal(t, string(octo3StringToSign(c[0])), string(octo3StringToSign(c[1])), name)
		_, err := v.Verify(context.Background(), octo3FormRequest(c[1]))
		assert.ErrorIs(t, err, ErrMalformed, "%s: card_num shows four last digits", name)
	}

	// Where no card number or amount pins it (both are optional), the currency
	// is in the event id: a copy with another currency is another event and
	// cannot stand in for the genuine one.
	noCard := octo3Sign(octo3Notification(map[string]string{"currency": "344", "card_num": "", "captured_amount": "",
		"customer_ip_address": "", "bill_to_last_name": "Tai Man 840"}))
	copyNoCard := maps.Clone(noCard)
	copyNoCard["bill_to_last_name"], copyNoCard["currency"], copyNoCard["dr_count"] = "Tai Man ", "840", "3441"
	require.Equal(t, string(octo3StringToSign(noCard)), string(octo3StringToSign(copyNoCard)))
	a, err := v.Verify(context.Background(), octo3FormRequest(noCard))
	require.NoError(t, err)
	b, err := v.Verify(context.Background(), octo3FormRequest(copyNoCard))
	require.NoError(t, err)
	assert.Equal(t, []string{"HKD", "USD"}, []string{a[0].Currency, b[0].Currency})
	assert.NotEqual(t, a[0].ID, b[0].ID, "another currency under the genuine id")

	for _, ok := range []string{"4111111111111111", "411111******1111", "************1111", "4111 11** **** 1111", "4111-1111-1111-1111"} {
		assert.True(t, isCardNumber(ok), ok)
	}
	for _, bad := range []string{"4111111111111112", "411111******0", "411111******08401", "41111111111", "4111 1111 1111 111x"} {
		assert.False(t, isCardNumber(bad), bad)
	}
}
