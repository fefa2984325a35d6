package verifiers

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/paynotify/paynotify/internal/standin"
)

const oobitTestMerchant = "5722306"

// oobitInquiring is oobit with merchant_number and inquire pointed at a
// fresh stand-in that knows the golden decline of order 1000 (trans_id
// 22924, 051, 9.99 USD) and, for order 10, another transaction.
func oobitInquiring(t *testing.T, extra map[string]any) (Verifier, *standin.API) {
	t.Helper()
	api := standin.New()
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	api.SetOobitMerchant(oobitTestMerchant, "oobit-test-hash-key")
	api.AddOobitTransaction(standin.OobitTransaction{Order: "1000", TransID: "22924", ReplyCode: "051",
		ReplyDesc: "Do not honour (API)", Amount: "9.99", Currency: "USD", Date: "11/02/2020 12:40:12",
		Email: "api@example.com"})
	api.AddOobitTransaction(standin.OobitTransaction{Order: "10", TransID: "30001", ReplyCode: "000",
		ReplyDesc: "SUCCESS", Amount: "519.99", Currency: "USD", Date: "11/02/2020 12:41:00"})
	o := oobitConfig.with("merchant_number", oobitTestMerchant).with("inquire", srv.URL+"/oobit/getStatus.asp")
	for k, val := range extra {
		o = o.with(k, val)
	}
	return mustNew(t, "oobit", o), api
}

// oobitGET is a GET notification of fields, signed with the test hash key.
func oobitGET(f map[string]string) *Request {
	q := url.Values{}
	for k, val := range f {
		q.Set(k, val)
	}
	sum := sha256.Sum256([]byte(refOobitSignedString(f) + "oobit-test-hash-key"))
	q.Set("signature", base64.StdEncoding.EncodeToString(sum[:]))
	return &Request{Method: http.MethodGet, Header: http.Header{}, RawQuery: q.Encode(),
		ClientIP: goldenClientIP, ReceivedAt: goldenReceivedAt}
}

func oobitDecline() map[string]string {
	return map[string]string{"trans_id": "22924", "trans_order": "1000", "reply_code": "051",
		"trans_amount": "9.99", "trans_currency": "USD", "reply_desc": "forged desc", "trans_date": "01/01/2030 00:00:00"}
}

func TestOobitInquiryConfirmsTheGenuine(t *testing.T) {
	v, api := oobitInquiring(t, nil)
	stated := verifyGoldenNotice(t, v, "oobit/declined_numeric_order")
	e := verifyGolden(t, v, "oobit/declined_numeric_order")
	assert.Equal(t, 1, api.Calls("oobit"))
	assert.Equal(t, stated.ID, e.ID, "the same id as without inquiry")
	assert.Equal(t, "pn_4f0a959ed51f8a35c89ef0f8290fa206", e.ID, "the golden decline's id (declined_numeric_order.event.json)")
	assert.Equal(t, StatusFailed, e.Status)
	assert.Equal(t, "9.99", e.Amount)
	assert.Equal(t, "USD", e.Currency)
	// The unsigned fields come from the answer.
	assert.Equal(t, "Do not honour (API)", e.Reason)
	assert.Equal(t, "2020-02-11T12:40:12Z", e.OccurredAt.Format(time.RFC3339))
	assert.Equal(t, oobitTestMerchant, e.MerchantID)
	assert.Equal(t, "api@example.com", e.Customer.Email)
	assert.Equal(t, "Chan Tai Man", e.Customer.Name, "kept from the notification")

	// Unsigned fields of the notification cannot change what is delivered.
	events, err := v.Verify(context.Background(), oobitGET(oobitDecline()))
	require.NoError(t, err)
	assert.Equal(t, "Do not honour (API)", events[0].Reason)
	assert.Equal(t, "2020-02-11T12:40:12Z", events[0].OccurredAt.Format(time.RFC3339))
}

// verifyGoldenNotice is Notice of a golden request: the stated event.
func verifyGoldenNotice(t *testing.T, v Verifier, name string) Event {
	t.Helper()
	events, err := v.(Inquirer).Notice(goldenRequest(t, name))
	require.NoError(t, err)
	require.Len(t, events, 1)
	return events[0]
}

// TestOobitInquiryRefusesTheRegroupedApproval: the README's attack. The
// decline of order 1000 regrouped into an approval of order 10 for 519.99
// carries a valid signature; getStatus.asp has no transaction 22924 for
// order 10, so it is refused, whether order 10 exists or not.
func TestOobitInquiryRefusesTheRegroupedApproval(t *testing.T) {
	v, api := oobitInquiring(t, nil)
	stated := verifyGoldenNotice(t, v, "oobit/regrouped_into_approval")
	require.Equal(t, StatusSucceeded, stated.Status, "the signature alone accepts it")
	_, err := v.Verify(context.Background(), goldenRequest(t, "oobit/regrouped_into_approval"))
	require.ErrorIs(t, err, ErrSignature)
	assert.Contains(t, err.Error(), `oobit does not know transaction "22924" of order "10" (1 transactions listed)`)
	assert.Equal(t, 1, api.Calls("oobit"))

	// Every regrouping of the golden decline that the signature accepts is
	// refused by the inquiry, except the decline itself.
	genuine := oobitDecline()
	names := oobitSigned[:]
	tried, accepted := 0, 0
	for i := 0; i+1 < len(names); i++ {
		left, right := names[i], names[i+1]
		lv, rv := genuine[left], genuine[right]
		for k := 1; k <= len(lv)+len(rv)-1; k++ {
			joined := lv + rv
			if k == len(lv) {
				continue
			}
			m := map[string]string{}
			for key, val := range genuine {
				m[key] = val
			}
			m[left], m[right] = joined[:k], joined[k:]
			if _, err := v.(Inquirer).Notice(oobitGET(m)); err != nil {
				continue // refused by the notification's own checks
			}
			tried++
			if _, err := v.Verify(context.Background(), oobitGET(m)); err == nil {
				accepted++
				t.Errorf("regrouped %s=%q %s=%q accepted", left, m[left], right, m[right])
			} else {
				assert.ErrorIs(t, err, ErrSignature, "%s=%q %s=%q", left, m[left], right, m[right])
			}
		}
	}
	t.Logf("%d regroupings the signature accepts, %d accepted after inquiry", tried, accepted)
	assert.Positive(t, tried)
}

func TestOobitInquiryDisagreementNamesTheField(t *testing.T) {
	v, api := oobitInquiring(t, nil)
	for _, c := range []struct {
		txn  standin.OobitTransaction
		want string
	}{
		{standin.OobitTransaction{ReplyCode: "000", Amount: "9.99", Currency: "USD"}, `the API's replyCode is "000", the notification says reply_code "051"`},
		{standin.OobitTransaction{ReplyCode: "051", Amount: "99.9", Currency: "USD"}, `the API's trans_amount is "99.9", the notification says "9.99"`},
		{standin.OobitTransaction{ReplyCode: "051", Amount: "9.99", Currency: "EUR"}, `the API's trans_currency is "EUR", the notification says "USD"`},
	} {
		order := "77" + c.txn.Currency + c.txn.Amount
		c.txn.Order, c.txn.TransID = order, "5"+c.txn.ReplyCode
		api.AddOobitTransaction(c.txn)
		f := oobitDecline()
		f["trans_order"], f["trans_id"] = order, c.txn.TransID
		_, err := v.Verify(context.Background(), oobitGET(f))
		require.ErrorIs(t, err, ErrSignature, c.want)
		assert.Contains(t, err.Error(), c.want)
	}
	// Amounts are compared as decimals; the currency's case does not matter.
	api.AddOobitTransaction(standin.OobitTransaction{Order: "78", TransID: "601", ReplyCode: "000", Amount: "1500", Currency: "jpy"})
	events, err := v.Verify(context.Background(), oobitGET(map[string]string{"trans_id": "601", "trans_order": "78",
		"reply_code": "000", "trans_amount": "1500.00", "trans_currency": "JPY"}))
	require.NoError(t, err)
	assert.Equal(t, StatusSucceeded, events[0].Status)
}

// TestOobitInquirySeveralTransactionsPerOrder: an order paid after a
// decline lists both; each notification is confirmed by its own trans_id.
func TestOobitInquirySeveralTransactionsPerOrder(t *testing.T) {
	v, api := oobitInquiring(t, nil)
	api.AddOobitTransaction(standin.OobitTransaction{Order: "ORD-9", TransID: "701", ReplyCode: "051", Amount: "5.00", Currency: "EUR"})
	api.AddOobitTransaction(standin.OobitTransaction{Order: "ORD-9", TransID: "702", ReplyCode: "000", Amount: "5.00", Currency: "EUR"})
	for txn, code := range map[string]string{"701": "051", "702": "000"} {
		events, err := v.Verify(context.Background(), oobitGET(map[string]string{"trans_id": txn, "trans_order": "ORD-9",
			"reply_code": code, "trans_amount": "5.00", "trans_currency": "EUR"}))
		require.NoError(t, err, txn)
		assert.Equal(t, code, events[0].ResponseCode)
	}
	// The decline's values with the approval's reply code: refused.
	_, err := v.Verify(context.Background(), oobitGET(map[string]string{"trans_id": "701", "trans_order": "ORD-9",
		"reply_code": "000", "trans_amount": "5.00", "trans_currency": "EUR"}))
	assert.ErrorIs(t, err, ErrSignature)
}

func TestOobitInquiryFaults(t *testing.T) {
	for fault, want := range map[standin.Fault]string{
		standin.ServerError: "answered 500",
		standin.Garbage:     "unreadable",
		standin.ErrorCode:   `answered error "1" ("General Error")`,
		standin.Huge:        "over 1048576 bytes",
		standin.Redirect:    "redirect to another host",
		standin.Drop:        "calling 127.0.0.1",
		standin.Slow:        "did not answer within inquiry_timeout 200ms",
	} {
		t.Run(fault.String(), func(t *testing.T) {
			v, api := oobitInquiring(t, map[string]any{"inquiry_timeout": "200ms"})
			api.SetSlowFor(2 * time.Second)
			api.SetFault(fault)
			_, err := v.Verify(context.Background(), goldenRequest(t, "oobit/declined_numeric_order"))
			require.ErrorIs(t, err, ErrInquiry)
			assert.False(t, errors.Is(err, ErrSignature))
			assert.Contains(t, err.Error(), want)
			oobitNoSecretIn(t, err)
		})
	}
	// Lie and Unknown are disagreements: 401.
	for fault, want := range map[standin.Fault]string{
		standin.Lie:     `the API's replyCode is "000"`,
		standin.Unknown: `oobit does not know transaction "22924" of order "1000" (0 transactions listed)`,
	} {
		v, api := oobitInquiring(t, nil)
		api.SetFault(fault)
		_, err := v.Verify(context.Background(), goldenRequest(t, "oobit/declined_numeric_order"))
		require.ErrorIs(t, err, ErrSignature, fault.String())
		assert.Contains(t, err.Error(), want)
		oobitNoSecretIn(t, err)
	}
}

func oobitNoSecretIn(t *testing.T, err error) {
	t.Helper()
	for _, secret := range []string{"oobit-test-hash-key", oobitTestMerchant, "signature=", "CompanyNum", "Order="} {
		assert.NotContains(t, err.Error(), secret)
	}
}

// TestOobitInquiryCredentials: getStatus.asp refuses a wrong merchant number
// or hash key (error 103): a failed inquiry, the notification is retried.
func TestOobitInquiryCredentials(t *testing.T) {
	v, api := oobitInquiring(t, nil)
	api.SetOobitMerchant(oobitTestMerchant, "another-hash-key")
	_, err := v.Verify(context.Background(), goldenRequest(t, "oobit/declined_numeric_order"))
	require.ErrorIs(t, err, ErrInquiry)
	assert.Contains(t, err.Error(), `answered error "103" ("Failed On Authentication")`)
	oobitNoSecretIn(t, err)

	api.SetOobitMerchant("1111111", "oobit-test-hash-key")
	_, err = v.Verify(context.Background(), goldenRequest(t, "oobit/declined_numeric_order"))
	require.ErrorIs(t, err, ErrInquiry)

	// merchant_number from the environment.
	t.Setenv("OOBIT_TEST_MERCHANT", "1111111")
	v, api = oobitInquiring(t, map[string]any{"merchant_number": "{env.OOBIT_TEST_MERCHANT}"})
	api.SetOobitMerchant("1111111", "oobit-test-hash-key")
	_, err = v.Verify(context.Background(), goldenRequest(t, "oobit/declined_numeric_order"))
	require.NoError(t, err)
}

func TestOobitInquiryOptions(t *testing.T) {
	// Without merchant_number: no inquiry, allow_ip required, as before.
	plain := mustNew(t, "oobit", oobitConfig).(*Oobit)
	assert.False(t, plain.Inquires())
	required, _ := plain.SourceCheck()
	assert.True(t, required)

	// merchant_number alone: getStatus.asp by default, allow_ip not required.
	p, err := newVerifier("oobit", oobitConfig.with("merchant_number", oobitTestMerchant))
	require.NoError(t, err)
	v := p.(*Oobit)
	assert.True(t, v.Inquires())
	assert.Equal(t, OobitStatusURL, v.Inquiry.Base())
	required, why := v.SourceCheck()
	assert.False(t, required)
	assert.Empty(t, why)

	_, err = newVerifier("oobit", oobitConfig.with("inquire", "https://process.oobit.com/member/getStatus.asp"))
	var oe *OptionError
	require.ErrorAs(t, err, &oe)
	assert.Equal(t, "merchant_number", oe.Option)

	_, err = newVerifier("oobit", oobitConfig.with("inquiry_timeout", "5s"))
	require.ErrorAs(t, err, &oe)
	assert.Equal(t, "inquiry_timeout", oe.Option)

	_, err = newVerifier("oobit", oobitConfig.with("merchant_number", "{env.PAYNOTIFY_UNSET_MERCHANT}"))
	require.ErrorAs(t, err, &oe)
	assert.Equal(t, "merchant_number", oe.Option)

	_, err = newVerifier("oobit", oobitConfig.with("merchant_number", "1").with("inquire", "http://oobit.example/getStatus.asp"))
	require.ErrorAs(t, err, &oe)
	assert.Equal(t, "inquire", oe.Option)
}

// TestOobitExampleWithoutInquiry: TestEveryProviderIsComplete configures
// the inquiring oobit; the test notification verifies without inquiry too.
func TestOobitExampleWithoutInquiry(t *testing.T) {
	v := mustNew(t, "oobit", options{Secrets: []string{"test-secret"}})
	now := time.Now()
	n, err := v.(Signer).Sign(Draft{Fields: v.(Signer).Example("ORD-1", now), Path: "/n", Now: now})
	require.NoError(t, err)
	_, query, _ := strings.Cut(n.Path, "?")
	events, err := v.Verify(context.Background(), &Request{Method: n.Method, Header: n.Header, RawQuery: query, ReceivedAt: now})
	require.NoError(t, err)
	assert.Equal(t, "ORD-1", events[0].OrderID)
}

func init() {
	completeOptions["oobit"] = "merchant_number " + oobitTestMerchant + "\ninquire INQUIRE/oobit/getStatus.asp"
	completeStandin["oobit"] = func(api *standin.API, n Notification, fields map[string]any) {
		api.SetOobitMerchant(oobitTestMerchant, "test-secret")
		str := func(k string) string { s, _ := fields[k].(string); return s }
		api.AddOobitTransaction(standin.OobitTransaction{Order: str("trans_order"), TransID: str("trans_id"),
			ReplyCode: str("reply_code"), Amount: str("trans_amount"), Currency: str("trans_currency")})
	}
}
