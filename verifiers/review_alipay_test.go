package verifiers

// Adversarial review of the alipay provider (review-ali). Each test here
// reproduces a defect and fails on the code as reviewed.

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"math/big"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// reviewAlipayBase is the golden "success" notification's fields
// (testdata/gen_golden_alipay.py BASE).
func reviewAlipayBase() [][2]string {
	return [][2]string{
		{"gmt_create", "2024-05-01 18:20:10"}, {"charset", "utf-8"}, {"seller_email", "shop@example.cn"},
		{"subject", "语雀空间 500人规模"}, {"buyer_id", "2088102534368455"}, {"invoice_amount", "88.88"},
		{"notify_id", "2024050100222182028068450559358070"},
		{"fund_bill_list", `[{"amount":"88.88","fundChannel":"ALIPAYACCOUNT"}]`},
		{"notify_type", "trade_status_sync"}, {"trade_status", "TRADE_SUCCESS"}, {"receipt_amount", "88.88"},
		{"buyer_pay_amount", "88.88"}, {"app_id", alipayAppID}, {"seller_id", "2088531891668739"},
		{"gmt_payment", "2024-05-01 18:20:28"}, {"notify_time", "2024-05-01 18:20:29"}, {"version", "1.0"},
		{"out_trade_no", "ORD-20240501-0088"}, {"total_amount", "88.88"},
		{"trade_no", "2024050122001468450512505578"}, {"auth_app_id", alipayAppID},
		{"buyer_logon_id", "xud***@126.com"}, {"point_amount", "0.00"},
	}
}

// reviewAlipayWith returns the base fields with change applied (a new name
// is appended).
func reviewAlipayWith(change map[string]string) [][2]string {
	out := reviewAlipayBase()
	seen := map[string]bool{}
	for i, kv := range out {
		if v, ok := change[kv[0]]; ok {
			out[i][1] = v
			seen[kv[0]] = true
		}
	}
	names := make([]string, 0, len(change))
	for k := range change {
		if !seen[k] {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	for _, k := range names {
		out = append(out, [2]string{k, change[k]})
	}
	return out
}

// reviewAlipaySignContent is Alipay's signed text, written here without
// the verifier's code: non-empty parameters but sign and sign_type, sorted
// by name, k=v joined by &.
func reviewAlipaySignContent(pairs [][2]string) string {
	var parts []string
	for _, kv := range pairs {
		if kv[0] != "sign" && kv[0] != "sign_type" && kv[1] != "" {
			parts = append(parts, kv[0]+"="+kv[1])
		}
	}
	// Sorting k=v strings sorts by name for these names (none is a
	// prefix of another followed by a byte below '=').
	sort.Strings(parts)
	return strings.Join(parts, "&")
}

// reviewAlipaySign signs pairs with the test key (as Alipay would).
func reviewAlipaySign(t *testing.T, pairs [][2]string) string {
	t.Helper()
	s, err := SignSHA256RSA(alipayTestKey(t, "test.pem"), []byte(reviewAlipaySignContent(pairs)))
	require.NoError(t, err)
	return s
}

// reviewAlipayBody is the form body of pairs, each name and value
// query-escaped.
func reviewAlipayBody(pairs [][2]string) []byte {
	var b strings.Builder
	for i, kv := range pairs {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(url.QueryEscape(kv[0]) + "=" + url.QueryEscape(kv[1]))
	}
	return []byte(b.String())
}

func reviewAlipayRequest(body []byte) *Request {
	return &Request{Method: http.MethodPost, Header: http.Header{"Content-Type": {FormType + "; charset=utf-8"}},
		Body: body, ClientIP: goldenClientIP, ReceivedAt: goldenReceivedAt}
}

// TestReviewAlipayRegroupThroughName: the fix of 5a1c998 (a value holding
// &<name>= is refused) looks at values only. A field NAME may hold "&" and
// "=" too (percent-encoded: %26, %3D), and k=v&k=v reads the same whichever
// side of the "=" the text sits on. A captured partial refund's
// "gmt_payment=2024-05-01 18:20:28&gmt_refund=2024-05-01 18:20:27.123" is
// sent as ONE field named "gmt_payment=2024-05-01 18:20:28&gmt_refund"
// whose value is "2024-05-01 18:20:27.123" (likewise
// "notify_type=trade_status_sync&out_biz_no" = "RF-…"). The signed text is
// byte for byte Alipay's, so the signature verifies; gmt_refund (or
// out_biz_no) is gone, and with it the event id changes: the same refund
// is forwarded again as a new "refunded" event, up to four times (either,
// both or neither field dropped), and dedup does not stop it. (Merging
// refund_fee itself, to turn the refund into a "succeeded" payment as in
// 5a1c998, is stopped only incidentally: every such name holds an amount's
// dot, which parseURLEncoded refuses in names.)
func TestReviewAlipayRegroupThroughName(t *testing.T) {
	v := mustNew(t, "alipay", alipayConfig)
	genuine := reviewAlipayWith(map[string]string{"refund_fee": "20.00", "gmt_refund": "2024-05-01 18:20:27.123",
		"out_biz_no": "RF-20240501-0002", "notify_time": "2024-05-01 18:20:30"})
	sign := reviewAlipaySign(t, genuine)
	withSign := func(pairs [][2]string) []byte {
		return reviewAlipayBody(append(pairs, [2]string{"sign_type", "RSA2"}, [2]string{"sign", sign}))
	}

	// The genuine partial refund: a refund.
	events, err := v.Verify(t.Context(), reviewAlipayRequest(withSign(genuine)))
	require.NoError(t, err)
	require.Equal(t, StatusRefunded, events[0].Status)
	refundID := events[0].ID

	// merge makes one field of a and b: a's name, "=", a's value, "&", b's
	// name make the new name; b's value is its value.
	merge := func(pairs [][2]string, a, b string) [][2]string {
		var out [][2]string
		var va, vb string
		for _, kv := range pairs {
			switch kv[0] {
			case a:
				va = kv[1]
			case b:
				vb = kv[1]
			default:
				out = append(out, kv)
			}
		}
		return append(out, [2]string{a + "=" + va + "&" + b, vb})
	}
	for name, forged := range map[string][][2]string{
		"gmt_refund merged": merge(genuine, "gmt_payment", "gmt_refund"),
		"out_biz_no merged": merge(genuine, "notify_type", "out_biz_no"),
		"both merged":       merge(merge(genuine, "gmt_payment", "gmt_refund"), "notify_type", "out_biz_no"),
	} {
		require.Equal(t, reviewAlipaySignContent(genuine), reviewAlipaySignContent(forged), "%s: the same signed text", name)
		events, err := v.Verify(t.Context(), reviewAlipayRequest(withSign(forged)))
		if err == nil {
			t.Errorf("%s: a captured refund regrouped through a field name was accepted: status %s, amount %s, id %s (the genuine refund's id is %s)",
				name, events[0].Status, events[0].Amount, events[0].ID, refundID)
		}
	}
}

// TestReviewAlipayRegroupThroughNamePayment: the same on a payment: a
// subject without a dot (Alipay's own vector's "语雀空间 500人规模") lets
// total_amount be merged into a name "subject=语雀空间 500人规模&total_amount";
// the "succeeded" event then has no amount (the id is the payment's, so
// this matters when the forged copy arrives first). buyer_id merges
// buyer_logon_id away, gmt_create gmt_payment (occurred_at moves).
func TestReviewAlipayRegroupThroughNamePayment(t *testing.T) {
	v := mustNew(t, "alipay", alipayConfig)
	genuine := reviewAlipayBase()
	sign := reviewAlipaySign(t, genuine)
	var forged [][2]string
	for _, kv := range genuine {
		if kv[0] != "subject" && kv[0] != "total_amount" {
			forged = append(forged, kv)
		}
	}
	forged = append(forged, [2]string{"subject=语雀空间 500人规模&total_amount", "88.88"})
	require.Equal(t, reviewAlipaySignContent(genuine), reviewAlipaySignContent(forged))
	events, err := v.Verify(t.Context(), reviewAlipayRequest(reviewAlipayBody(append(forged, [2]string{"sign", sign}))))
	if err == nil {
		t.Errorf("total_amount merged into a name was accepted: status %s, amount %q", events[0].Status, events[0].Amount)
	}
}

// TestReviewAlipayRegroupThroughNameEmptyValue: the same through a name
// holding "=" and an empty value, which the fallback over every parameter
// (k= for an empty one) signs as "k=": passback_params=abc= (a base64 value
// ending in "=") becomes a field named "passback_params=abc" with an empty
// value. The event then has no passback_params (the merchant's own data,
// which apps use to find the order or the tenant) although Alipay sent it.
func TestReviewAlipayRegroupThroughNameEmptyValue(t *testing.T) {
	v := mustNew(t, "alipay", alipayConfig)
	genuine := reviewAlipayWith(map[string]string{"passback_params": "dGVuYW50PTQ="})
	sign := reviewAlipaySign(t, genuine)
	events, err := v.Verify(t.Context(), reviewAlipayRequest(reviewAlipayBody(append(genuine, [2]string{"sign", sign}))))
	require.NoError(t, err)
	require.Contains(t, string(events[0].Raw), `"passback_params":"dGVuYW50PTQ="`)

	var moved [][2]string
	for _, kv := range genuine {
		if kv[0] != "passback_params" {
			moved = append(moved, kv)
		}
	}
	moved = append(moved, [2]string{"passback_params=dGVuYW50PTQ", ""})
	events, err = v.Verify(t.Context(), reviewAlipayRequest(reviewAlipayBody(append(moved, [2]string{"sign", sign}))))
	if err == nil {
		t.Errorf("passback_params moved into a field name was accepted; raw: %s", events[0].Raw)
	}
	assert.Error(t, err)
}

// TestReviewAlipayPassbackQueryStringRefused: a GENUINE notification whose
// passback_params (the merchant's own data, which Alipay returns as the
// merchant sent it: apps commonly put "uid=1&shop=2" there) holds
// "&shop=" is refused with 401, so Alipay resends it for 25 hours and the
// payment never reaches the app; README's "Refused" list does not say so.
// No regrouping is possible here: a field "shop" split out of it would
// have to sort between passback_params and point_amount, which it does not
// (the signed text would change). Only a "&<name>=" whose name sorts
// between the holder's name and the next field's can regroup the text.
func TestReviewAlipayPassbackQueryStringRefused(t *testing.T) {
	v := mustNew(t, "alipay", alipayConfig)
	genuine := reviewAlipayWith(map[string]string{"passback_params": "uid=1&shop=2"})
	sign := reviewAlipaySign(t, genuine)
	events, err := v.Verify(t.Context(), reviewAlipayRequest(reviewAlipayBody(append(genuine, [2]string{"sign_type", "RSA2"}, [2]string{"sign", sign}))))
	require.NoError(t, err, "a genuine notification with passback_params uid=1&shop=2")
	assert.Equal(t, StatusSucceeded, events[0].Status)
	assert.Contains(t, string(events[0].Raw), `"passback_params":"uid=1\u0026shop=2"`)
}

// TestReviewAlipayContentTypeCharsetDisagrees: the Content-Type header is
// not signed; the charset field is. A genuine UTF-8 notification resent
// with "Content-Type: …; charset=GBK" (or a GBK one with charset=utf-8) is
// accepted, and with forward original the app's framework decodes the
// body by the header (Java servlets' getParameter, ASP.NET's Request.Form):
// every non-ASCII value (subject, body, passback_params) is read as other
// text than the one verified, and an ASCII byte after an odd number of
// UTF-8 bytes is swallowed into a GBK character. A header that declares a
// GB charset for a form whose signed charset field is utf-8 should be
// refused. (The other direction, a GB form under a utf-8 header, is left
// alone here: the golden gb18030 request is sent that way, and whether
// Alipay does is not established.)
func TestReviewAlipayContentTypeCharsetDisagrees(t *testing.T) {
	v := mustNew(t, "alipay", alipayConfig)
	for name, tc := range map[string]struct{ golden, contentType string }{
		"UTF-8 form declared GBK":     {"success", FormType + "; charset=GBK"},
		"UTF-8 form declared GB18030": {"success", FormType + "; charset=gb18030"},
	} {
		r := goldenRequest(t, "alipay/"+tc.golden)
		r.Header = r.Header.Clone()
		r.Header.Set("Content-Type", tc.contentType)
		_, err := v.Verify(t.Context(), r)
		assert.ErrorIs(t, err, ErrMalformed, name)
	}
}

// TestReviewAlipayPIDAsAppIDLoads: the commonest Alipay mix-up is the PID
// (合作伙伴身份 / seller_id, 16 digits starting 2088) given where the APPID
// belongs. It is digits, so it loads; then every genuine notification is
// refused with 403 (its app_id is the APPID), Alipay resends for 25 hours
// and gives up. App ids never start with 2088 (they start with the year the
// app was created, 2014…, or 9021 in the sandbox); a 2088… app_id should
// fail at load naming the option and saying it looks like the PID.
func TestReviewAlipayPIDAsAppIDLoads(t *testing.T) {
	_, err := newVerifier("alipay", options{Extra: map[string]any{
		"public_keys": []string{alipayDER("test.pub")}, "app_ids": []string{"2088531891668739"},
	}})
	var oe *OptionError
	if assert.ErrorAs(t, err, &oe, "app_id 2088531891668739 (a PID) loaded") {
		assert.Equal(t, "app_id", oe.Option)
	}
}

// TestReviewAlipayLargeKeyPanics: VerifySHA256RSA slices its buffer to
// base64's DecodedLen of the signature, which is the key size plus 1 or 2
// when the size is not a multiple of 3; its buffer holds 1024 bytes, or
// exactly the key size beyond that. With an 8192-bit public key (1024
// bytes, which public_key accepts: only a minimum is checked) any request
// whose sign has the key's base64 length (1368 characters) panics: the
// connection is dropped (net/http's recovery), no 401, and a stack trace is
// logged for every such request. Keys above 8192 bits whose byte size is
// not a multiple of 3 do the same. Either cap the key size at load or size
// the buffer to DecodedLen.
func TestReviewAlipayLargeKeyPanics(t *testing.T) {
	n := new(big.Int).Lsh(big.NewInt(1), 8191) // an 8192-bit modulus; never verified against
	n.Add(n, big.NewInt(1))
	der, err := x509.MarshalPKIXPublicKey(&rsa.PublicKey{N: n, E: 65537})
	require.NoError(t, err)
	v, err := newVerifier("alipay", options{Extra: map[string]any{
		"public_keys": []string{base64.StdEncoding.EncodeToString(der)}, "app_ids": []string{alipayAppID},
	}})
	require.NoError(t, err, "an 8192-bit public_key loads")
	req := goldenRequest(t, "alipay/success")
	body, _, _ := strings.Cut(string(req.Body), "&sign=")
	req.Body = []byte(body + "&sign=" + strings.Repeat("A", base64.StdEncoding.EncodedLen(1024)))
	assert.NotPanics(t, func() {
		_, err = v.Verify(t.Context(), req)
	})
	assert.ErrorIs(t, err, ErrSignature)
}
