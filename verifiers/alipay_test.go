package verifiers

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The apps and keys of testdata/gen_golden_alipay.py: the notifications are
// signed with testdata/alipay/keys/test.pem (old.pem for old_key), test
// keys generated for these tests only.
const (
	alipayAppID       = "2021004100000001"
	alipaySecondAppID = "2021004100000002"
)

// alipayConfig trusts test.pub (through {file.*}) and old.pub (as base64
// DER on one line, as Alipay's console shows a key).
var alipayConfig = options{Extra: map[string]any{
	"public_keys": []string{"{file.../testdata/alipay/keys/test.pub}", alipayDER("old.pub")},
	"app_ids":     []string{alipaySecondAppID, alipayAppID},
}}

// alipayDER is the test public key file as one line of base64 DER.
func alipayDER(file string) string {
	text, err := os.ReadFile(filepath.Join("..", "testdata", "alipay", "keys", file))
	if err != nil {
		panic(err)
	}
	block, _ := pem.Decode(text)
	return base64.StdEncoding.EncodeToString(block.Bytes)
}

func alipayTestKey(t testing.TB, file string) *rsa.PrivateKey {
	text, err := os.ReadFile(filepath.Join("..", "testdata", "alipay", "keys", file))
	require.NoError(t, err)
	key, err := ParsePrivateKey(text)
	require.NoError(t, err)
	return key
}

func init() {
	completeOptions["alipay"] = "public_key {file.../testdata/alipay/keys/test.pub}\napp_id " + alipayAppID
	text, err := os.ReadFile(filepath.Join("..", "testdata", "alipay", "keys", "test.pem"))
	if err != nil {
		panic(err)
	}
	if completeKeys["alipay"], err = ParsePrivateKey(text); err != nil {
		panic(err)
	}
	pub, err := ParsePublicKey("public_key", alipayDER("test.pub"))
	if err != nil {
		panic(err)
	}
	benchCases = append(benchCases, benchCase{provider: "alipay", file: "alipay/success", config: alipayConfig,
		rsaKey: pub.Key, signed: alipayBenchSigned})
}

// alipayBenchSigned rebuilds the signed bytes without the verifier's code:
// the decoded parameters but sign, sign_type and the empty ones, sorted,
// k=v joined by &.
func alipayBenchSigned(b *testing.B, req *Request) (signed, want []byte) {
	form, err := url.ParseQuery(string(req.Body))
	require.NoError(b, err)
	var parts []string
	for k, v := range form {
		if k != "sign" && k != "sign_type" && v[0] != "" {
			parts = append(parts, k+"="+v[0])
		}
	}
	slices.Sort(parts)
	sig, err := base64.StdEncoding.DecodeString(form.Get("sign"))
	require.NoError(b, err)
	return []byte(strings.Join(parts, "&")), sig
}

func TestAlipay(t *testing.T) {
	testProvider(t, "alipay", alipayConfig, []string{
		"success", "finished", "pending", "closed", "refund_full", "refund_partial", "refund_partial_second",
		"trans_currency", "gbk", "gb18030", "spaces", "empty_signed", "no_sign_type", "old_key",
		"second_app", "unmapped_status", "no_content_type_charset",
	}, []rejectCase{
		{"tampered", nil, ErrSignature, "sign matches none of the 2 configured public keys"},
		{"wrong_key", nil, ErrSignature, "sign matches none"},
		{"rsa1", nil, ErrSignature, "sign_type RSA (SHA1withRSA) is not accepted: switch the app's signing method"},
		{"md5_sign_type", nil, ErrSignature, "sign_type is not RSA2"},
		{"other_app", nil, ErrForbidden, "app_id is none of the configured app ids"},
		{"no_app_id", nil, ErrForbidden, "app_id is none of the configured app ids"},
		{"missing_sign", nil, ErrSignature, "no sign field"},
		{"empty_sign", nil, ErrSignature, "no sign field"},
		{"sign_not_base64", nil, ErrSignature, "sign matches none"},
		{"unsigned_param", nil, ErrSignature, "sign matches none"},
		{"regrouped_merge", nil, ErrSignature, `field "receipt_amount": its name holds a byte other than a letter`},
		{"empty_unsigned", nil, ErrSignature, "an empty parameter that Alipay did not sign was added"},
		{"other_charset", nil, ErrSignature, "sign matches none"},
		{"invalid_utf8", nil, ErrMalformed, `form field "subject" is not valid utf-8`},
		{"invalid_gbk", nil, ErrMalformed, `form field "subject" is not valid gbk`},
		{"unknown_charset", nil, ErrMalformed, "field charset names an encoding Alipay does not send"},
		{"duplicate_name", nil, ErrMalformed, `form field "trade_status" given 2 times`},
		{"meeting_names", nil, ErrMalformed, "are read as one parameter by web frameworks"},
		{"bracket_name", nil, ErrMalformed, "a name with a bracket or a dot"},
		{"no_out_trade_no", nil, ErrMalformed, "mandatory field out_trade_no is missing"},
		{"no_trade_no", nil, ErrMalformed, "mandatory field trade_no is missing"},
		{"no_trade_status", nil, ErrMalformed, "mandatory field trade_status is missing"},
		{"bad_refund_fee", nil, ErrMalformed, "refund_fee is not an unsigned decimal number"},
		{"bad_amount", nil, ErrMalformed, "total_amount is not an unsigned decimal number"},
		{"query_shadow", nil, ErrMalformed, "query parameter"},
		{"get", nil, ErrMethod, "GET"},
		{"json_type", nil, ErrMalformed, "content type"},
	})
}

// TestAlipayEvents: what the app reads, beyond the golden files: the
// statuses, refunds, amounts, times and the charset decoding.
func TestAlipayEvents(t *testing.T) {
	v := mustNew(t, "alipay", alipayConfig)
	get := func(name string) Event { return verifyGolden(t, v, "alipay/"+name) }

	success := get("success")
	assert.Equal(t, StatusSucceeded, success.Status)
	assert.Equal(t, "88.88", success.Amount)
	assert.EqualValues(t, 8888, *success.AmountMinor)
	assert.Equal(t, "CNY", success.Currency, "no currency field: CNY")
	assert.Equal(t, "ORD-20240501-0088", success.OrderID)
	assert.Equal(t, "2024050122001468450512505578", success.TransactionID)
	assert.Equal(t, "2024-05-01T10:20:28Z", success.OccurredAt.Format(time.RFC3339Nano), "gmt_payment, China Standard Time")
	assert.Equal(t, "xud***@126.com", success.Customer.Email)
	assert.Contains(t, string(success.Raw), `"subject":"语雀空间 500人规模"`)

	// A partial refund is a TRADE_SUCCESS with refund_fee: a refund, not a
	// second payment; each refund is an event of its own.
	partial := get("refund_partial")
	assert.Equal(t, StatusRefunded, partial.Status)
	assert.Equal(t, "TRADE_SUCCESS", partial.ProviderStatus)
	assert.Equal(t, "20.00", partial.Amount, "the refunded total, not the trade's")
	assert.Equal(t, "2024-05-01T10:20:27.123Z", partial.OccurredAt.Format(time.RFC3339Nano), "gmt_refund, with its milliseconds")
	second := get("refund_partial_second")
	assert.Equal(t, "30.00", second.Amount)
	assert.NotEqual(t, partial.ID, second.ID)
	assert.NotEqual(t, success.ID, partial.ID)

	full := get("refund_full")
	assert.Equal(t, StatusRefunded, full.Status)
	assert.Equal(t, "88.88", full.Amount)
	closed := get("closed")
	assert.Equal(t, StatusCancelled, closed.Status)
	assert.Equal(t, "2024-05-01T10:20:30Z", closed.OccurredAt.Format(time.RFC3339), "gmt_close")
	assert.NotEqual(t, full.ID, closed.ID)
	assert.Equal(t, StatusPending, get("pending").Status)
	assert.Equal(t, "2024-05-01T10:20:29Z", get("pending").OccurredAt.Format(time.RFC3339), "notify_time")
	finished := get("finished")
	assert.Equal(t, StatusSucceeded, finished.Status)
	assert.NotEqual(t, success.ID, finished.ID, "TRADE_FINISHED is an event of its own")

	usd := get("trans_currency")
	assert.Equal(t, "USD", usd.Currency)
	assert.Equal(t, "12.50", usd.Amount)

	gbk := get("gbk")
	assert.Contains(t, string(gbk.Raw), `"subject":"语雀空间 500人规模"`, "decoded from GBK")
	assert.Contains(t, string(gbk.Raw), `"body":"会员年费·续订"`)
	assert.Equal(t, success.ID, gbk.ID, "the same trade, whatever its charset")
	assert.Contains(t, string(get("gb18030").Raw), `"subject":"𠀀 扩展字 €"`)
	spaces := get("spaces")
	assert.Contains(t, string(spaces.Raw), `"subject":"Café Latte x 2"`, "%20 is a space")
	assert.Contains(t, string(spaces.Raw), `"body":"a+b \u0026 c=d"`, "+ is a space, %2B a plus")

	// Signed empty parameters are no part of the event: not in raw, not in
	// the id.
	for _, name := range []string{"empty_signed"} {
		e := get(name)
		assert.Equal(t, success.ID, e.ID, name)
		assert.Equal(t, StatusSucceeded, e.Status, name)
		assert.NotContains(t, string(e.Raw), `""`, name)
	}
	assert.Equal(t, success.ID, get("no_sign_type").ID)
	assert.Equal(t, success.ID, get("old_key").ID, "signed with the second public key")

	unmapped := get("unmapped_status")
	assert.Equal(t, StatusUnknown, unmapped.Status)
	assert.Equal(t, "TRADE_PENDING_REVIEW", unmapped.ProviderStatus)
	assert.Empty(t, unmapped.OrderID)
}

// TestAlipayOfficialVector: Alipay's own signed notification (the Node
// SDK's test, NOTES.md 10.9), posted as the form Alipay sends, verifies with
// Alipay's key of that test; one byte changed in any signed value does not.
func TestAlipayOfficialVector(t *testing.T) {
	body, err := os.ReadFile(filepath.Join("..", "testdata", "vectors", "alipay_notify_body.txt"))
	require.NoError(t, err)
	key, err := os.ReadFile(filepath.Join("..", "testdata", "vectors", "alipay_public_key.b64"))
	require.NoError(t, err)
	v := mustNew(t, "alipay", options{Extra: map[string]any{
		"public_keys": []string{strings.TrimSpace(string(key))}, "app_ids": []string{"2019073166072302"},
	}})
	request := func(body string) *Request {
		return &Request{Method: http.MethodPost, Header: http.Header{"Content-Type": {FormType + "; charset=utf-8"}},
			Body: []byte(body), ClientIP: goldenClientIP, ReceivedAt: goldenReceivedAt}
	}
	events, err := v.Verify(t.Context(), request(string(body)))
	require.NoError(t, err)
	require.Len(t, events, 1)
	e := events[0]
	assert.Equal(t, StatusSucceeded, e.Status)
	assert.Equal(t, "20190815155618536-564-57", e.OrderID)
	assert.Equal(t, "0.10", e.Amount)
	assert.Equal(t, "CNY", e.Currency)
	assert.Equal(t, "2019-08-15T07:56:24Z", e.OccurredAt.Format(time.RFC3339))
	assert.Contains(t, string(e.Raw), `"subject":"语雀空间 500人规模"`)

	form, err := url.ParseQuery(string(body))
	require.NoError(t, err)
	require.Len(t, form, 25)
	for name, values := range form {
		if name == "sign" || name == "sign_type" {
			continue
		}
		// One byte: the first ASCII letter changes case, or the first
		// digit changes (charset Utf-8 still names UTF-8).
		changed := []byte(values[0])
		i := slices.IndexFunc(changed, func(c byte) bool { return c < 0x80 && (c|0x20 >= 'a' && c|0x20 <= 'z' || c >= '0' && c <= '9') })
		require.GreaterOrEqual(t, i, 0, name)
		if c := changed[i]; c >= '0' && c <= '9' {
			changed[i] = '0' + (c-'0'+1)%10
		} else {
			changed[i] = c ^ 0x20
		}
		tampered := url.Values{}
		for k, vs := range form {
			tampered[k] = vs
		}
		tampered[name] = []string{string(changed)}
		_, err := v.Verify(t.Context(), request(tampered.Encode()))
		assert.ErrorIs(t, err, ErrSignature, "%s changed in one byte", name)
	}
}

// TestAlipayOptionsRefused: what is wrong with public_key or app_id is
// refused at provision, naming the option and never quoting a key.
func TestAlipayOptionsRefused(t *testing.T) {
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	require.NoError(t, err)
	smallDER, err := x509.MarshalPKIXPublicKey(&small.PublicKey)
	require.NoError(t, err)
	private, err := os.ReadFile(filepath.Join("..", "testdata", "alipay", "keys", "test.pem"))
	require.NoError(t, err)
	good := alipayDER("test.pub")
	for name, tc := range map[string]struct {
		keys, apps []string
		option     string
		reason     string
	}{
		"no public_key":     {nil, []string{alipayAppID}, "public_key", "required"},
		"no app_id":         {[]string{good}, nil, "app_id", "required"},
		"empty public_key":  {[]string{""}, []string{alipayAppID}, "public_key", "empty"},
		"empty app_id":      {[]string{good}, []string{""}, "app_id", "empty"},
		"private key":       {[]string{string(private)}, []string{alipayAppID}, "public_key", "this is a private key"},
		"1024-bit key":      {[]string{base64.StdEncoding.EncodeToString(smallDER)}, []string{alipayAppID}, "public_key", "1024 bits"},
		"not a key":         {[]string{"not a key!"}, []string{alipayAppID}, "public_key", "neither PEM nor base64 DER"},
		"unset placeholder": {[]string{good}, []string{"{env.PAYNOTIFY_ALIPAY_UNSET_APP}"}, "app_id", "empty"},
		"app_id not digits": {[]string{good}, []string{"my-app"}, "app_id", "an Alipay app id is a number"},
		"second key bad":    {[]string{good, "AAAA"}, []string{alipayAppID}, "public_key", "not a readable public key"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := newVerifier("alipay", options{Extra: map[string]any{"public_keys": tc.keys, "app_ids": tc.apps}})
			var oe *OptionError
			require.ErrorAs(t, err, &oe)
			assert.Equal(t, tc.option, oe.Option)
			assert.Contains(t, oe.Msg, tc.reason)
			for _, k := range tc.keys {
				if len(k) > 8 {
					assert.NotContains(t, err.Error(), k[:len(k)/2], "a key in an error message")
				}
			}
		})
	}
}

// TestAlipaySign: caddy paynotify sign's signer needs the private half of a
// configured public_key, and what it signs is accepted, also in GBK.
func TestAlipaySign(t *testing.T) {
	p, err := newVerifier("alipay", alipayConfig)
	require.NoError(t, err)
	signer := p.(Signer)
	now := goldenReceivedAt
	fields := signer.Example("ORD-9", now)
	_, err = signer.Sign(Draft{Fields: fields, Path: "/n", Now: now})
	assert.EqualError(t, err, "--private-key is required to sign alipay notifications")
	_, err = signer.Sign(Draft{Fields: fields, Path: "/n", Now: now, PrivateKey: alipayTestKey(t, "other.pem")})
	assert.EqualError(t, err, "--private-key is not the private half of a configured public_key")

	for _, charset := range []string{"utf-8", "gbk"} {
		fields := signer.Example("ORD-9", now)
		fields["charset"] = charset
		fields["subject"] = "会员年费 ORD-9"
		n, err := signer.Sign(Draft{Fields: fields, Path: "/n", Now: now, PrivateKey: alipayTestKey(t, "old.pem")})
		require.NoError(t, err, charset)
		assert.Contains(t, string(n.Body), "sign_type=RSA2")
		events, err := p.Verify(t.Context(), &Request{Method: n.Method, Header: n.Header, Body: n.Body, ReceivedAt: now})
		require.NoError(t, err, charset)
		assert.Equal(t, StatusSucceeded, events[0].Status)
		assert.Equal(t, "ORD-9", events[0].OrderID)
		assert.Equal(t, alipaySecondAppID, fields["app_id"], "the first configured app")
		assert.Equal(t, "2024-05-01T10:20:30Z", events[0].OccurredAt.Format(time.RFC3339))
		assert.Contains(t, string(events[0].Raw), `"subject":"会员年费 ORD-9"`, charset)
	}
}

// TestAlipayEmptyValueIsAbsent: an empty parameter added to a genuine
// notification changes nothing the app reads; a non-empty one is refused.
func TestAlipayUnsignedEmptyParameterRefused(t *testing.T) {
	v := mustNew(t, "alipay", alipayConfig)
	req := goldenRequest(t, "alipay/success")
	_, err := v.Verify(t.Context(), req)
	require.NoError(t, err)
	// Outside the text PRODUCT.md signs, but not signed as k= either, as
	// Alipay's SDKs verify: added by someone else. An app given the
	// original would read isset($_POST['refund_fee']) as a refund.
	for _, extra := range []string{"refund_fee=", "gmt_refund=", "out_biz_no=", "trans_currency=", "out_trade_no2="} {
		r := *req
		r.Body = append(slices.Clone(req.Body), "&"+extra...)
		_, err := v.Verify(t.Context(), &r)
		require.ErrorIs(t, err, ErrSignature, extra)
		assert.ErrorContains(t, err, "an empty parameter that Alipay did not sign was added", extra)
	}
	r := *req
	r.Body = append(slices.Clone(req.Body), "&refund_fee=1.00"...)
	_, err = v.Verify(t.Context(), &r)
	assert.ErrorIs(t, err, ErrSignature)
}

// FuzzAlipay: what is accepted must carry the signed content of a
// notification Alipay (the test key) signed.
func FuzzAlipay(f *testing.F) {
	fuzzVerifier(f, "alipay", alipayConfig, func(r *Request) string {
		form, err := parseAlipayForm(r.Body)
		if err != nil {
			return ""
		}
		return string(alipaySignContent(form.raw, false))
	})
}
