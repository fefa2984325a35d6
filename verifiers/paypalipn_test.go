package verifiers

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/paynotify/paynotify/internal/standin"
)

// The merchant account of testdata/gen_golden_paypal_ipn.py.
const (
	ipnReceiver   = "Merchant@Shop.Example" // receiver_email is compared ignoring case
	ipnReceiverID = "MERCH4NT1D"
)

// ipnSent are the golden IPNs PayPal sent: their postback is VERIFIED.
// forged and tampered_amount are not among them.
var ipnSent = []string{
	"completed", "completed_utf8", "completed_latin1", "spaces_mixed", "pending", "failed", "denied", "refunded",
	"reversed", "voided", "expired", "receiver_id_only", "subscr_signup", "custom_as_order", "pst",
	// Sent by PayPal but refused before the postback.
	"receiver_mismatch", "no_receiver", "no_txn_id", "no_order", "unknown_charset", "utf7", "invalid_utf8",
	"field_twice", "negative_garbage", "query_shadow", "get", "json_type",
}

// newIPNAPI is a stand-in PayPal that sent every IPN of ipnSent, and the
// config of a paypal_ipn provider whose postback goes to it.
func newIPNAPI(t testing.TB) (*standin.API, options) {
	api := standin.New()
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	registerIPNs(t, api)
	return api, options{Extra: map[string]any{"receivers": []string{"other@shop.example", ipnReceiver, ipnReceiverID},
		"inquire": srv.URL + "/paypal/cgi-bin/webscr"}}
}

func registerIPNs(t testing.TB, api *standin.API) {
	for _, name := range ipnSent {
		api.AddPayPalIPN(goldenRequest(t, filepath.Join("paypal_ipn", name)).Body)
	}
}

func TestPayPalIPN(t *testing.T) {
	api, config := newIPNAPI(t)
	accepted := ipnSent[:15]
	byID := config.with("receivers", []string{ipnReceiverID})
	testProvider(t, "paypal_ipn", config, accepted, []rejectCase{
		{"forged", nil, ErrSignature, "PayPal answered INVALID: not a notification it sent"},
		{"tampered_amount", nil, ErrSignature, "PayPal answered INVALID"},
		{"receiver_mismatch", nil, ErrForbidden, "receiver_email and receiver_id match none of the configured receivers"},
		{"receiver_mismatch", &byID, ErrForbidden, "match none of the configured receivers"},
		{"no_receiver", nil, ErrForbidden, "match none of the configured receivers"},
		{"no_txn_id", nil, ErrMalformed, "mandatory field txn_id (or ipn_track_id) is missing"},
		{"no_order", nil, ErrMalformed, "no order reference in invoice, then custom"},
		{"unknown_charset", nil, ErrMalformed, "field charset names an encoding this verifier does not know"},
		{"utf7", nil, ErrMalformed, "field charset names an encoding"},
		{"invalid_utf8", nil, ErrMalformed, "is not valid UTF-8"},
		{"field_twice", nil, ErrMalformed, `form field "payment_status" given 2 times`},
		{"negative_garbage", nil, ErrMalformed, "mc_gross is not an unsigned decimal number"},
		{"query_shadow", nil, ErrMalformed, `query parameter "payment_status" would shadow`},
		{"get", nil, ErrMethod, "GET"},
		{"json_type", nil, ErrMalformed, "content type"},
	})
	// Only the accepted, the forged and the tampered were posted back:
	// everything else was refused before.
	assert.Equal(t, len(accepted)+2, api.Calls("paypal_ipn"), "a notification refused by its content reached PayPal")
}

// TestPayPalIPNEvents: the fields read by hand, including the charset
// decoding (é arrives as %E9 in windows-1252, %C3%A9 in UTF-8).
func TestPayPalIPNEvents(t *testing.T) {
	_, config := newIPNAPI(t)
	v := mustNew(t, "paypal_ipn", config)
	for _, file := range []string{"completed", "completed_utf8", "completed_latin1", "spaces_mixed"} {
		e := verifyGolden(t, v, "paypal_ipn/"+file)
		assert.Equal(t, StatusSucceeded, e.Status, file)
		assert.Equal(t, "Completed", e.ProviderStatus, file)
		assert.Equal(t, "ORD-20240501-0042", e.OrderID, file)
		assert.Equal(t, "61E67681CH3238416", e.TransactionID, file)
		assert.Equal(t, "25.90", e.Amount, file)
		assert.Equal(t, "EUR", e.Currency, file)
		assert.Equal(t, "2024-05-01T10:20:28Z", e.OccurredAt.Format(time.RFC3339), file+": 03:20:28 PDT")
		require.NotNil(t, e.Customer, file)
		assert.Equal(t, "Zoë Dupré", e.Customer.Name, file)
		assert.Equal(t, "zoe.buyer@example.com", e.Customer.Email, file)
		assert.Contains(t, string(e.Raw), `"item_name":"Café crème`, file)
	}
	completed := verifyGolden(t, v, "paypal_ipn/completed")
	assert.Equal(t, completed.ID, verifyGolden(t, v, "paypal_ipn/completed_utf8").ID, "the same txn_id and payment_status")
	assert.Contains(t, string(completed.Raw), `"item_name":"Café crème × 2"`, "× is 0xD7 in windows-1252")

	for file, want := range map[string]struct {
		status Status
		amount string
		order  string
	}{
		"pending":         {StatusPending, "25.90", "ORD-20240501-0042"},
		"failed":          {StatusFailed, "25.90", "ORD-20240501-0042"},
		"denied":          {StatusFailed, "25.90", "ORD-20240501-0042"},
		"refunded":        {StatusRefunded, "25.90", "ORD-20240501-0042"}, // mc_gross -25.90
		"reversed":        {StatusDisputed, "25.90", "ORD-20240501-0042"},
		"voided":          {StatusCancelled, "25.90", "ORD-20240501-0042"},
		"expired":         {StatusExpired, "25.90", "ORD-20240501-0042"},
		"custom_as_order": {StatusSucceeded, "25.90", "cart-77"},
		"subscr_signup":   {StatusUnknown, "", ""},
	} {
		e := verifyGolden(t, v, "paypal_ipn/"+file)
		assert.Equal(t, want.status, e.Status, file)
		assert.Equal(t, want.amount, e.Amount, file)
		assert.Equal(t, want.order, e.OrderID, file)
		assert.NotEqual(t, completed.ID, e.ID, file)
	}
	signup := verifyGolden(t, v, "paypal_ipn/subscr_signup")
	assert.Equal(t, "subscr_signup", signup.ProviderStatus, "txn_type when there is no payment_status")
	assert.Equal(t, EventID("paypal_ipn", "ipn_track_id", "a1b2c3d4e5f6"), signup.ID)
	assert.Equal(t, EventID("paypal_ipn", "61E67681CH3238416", "Completed"), completed.ID)
	assert.Equal(t, "2024-01-10T07:59:59Z", verifyGolden(t, v, "paypal_ipn/pst").OccurredAt.Format(time.RFC3339))
	assert.Equal(t, "echeck", verifyGolden(t, v, "paypal_ipn/pending").Reason)
}

// TestPayPalIPNPostbackIsByteExact: the postback is cmd=_notify-validate&
// and the body exactly as received (field order, charset, + and %20), as
// an application/x-www-form-urlencoded POST.
func TestPayPalIPNPostbackIsByteExact(t *testing.T) {
	var mu sync.Mutex
	var got [][]byte
	var types []string
	api := standin.New()
	registerIPNs(t, api)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, body)
		types = append(types, r.Header.Get("Content-Type"))
		mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(body))
		api.ServeHTTP(w, r)
	}))
	defer srv.Close()
	v := mustNew(t, "paypal_ipn", options{Extra: map[string]any{"receivers": []string{ipnReceiver}, "inquire": srv.URL + "/paypal/cgi-bin/webscr"}})
	for _, file := range []string{"spaces_mixed", "completed", "completed_utf8"} {
		req := goldenRequest(t, "paypal_ipn/"+file)
		verifyGolden(t, v, "paypal_ipn/"+file)
		mu.Lock()
		last := got[len(got)-1]
		assert.Equal(t, "cmd=_notify-validate&"+string(req.Body), string(last), file)
		assert.Equal(t, "application/x-www-form-urlencoded", types[len(types)-1])
		mu.Unlock()
	}
	req := goldenRequest(t, "paypal_ipn/spaces_mixed")
	assert.Contains(t, string(req.Body), "item_name=Caf%E9%20cr%E8me%20%D7%202", "the case has %20")
	assert.Contains(t, string(req.Body), "payment_date=03%3A20%3A28+May", "and +")
}

// TestPayPalIPNReceiverBeforeAnyCall: an IPN for another account is
// refused with 403 without asking PayPal (which would say VERIFIED: it
// did send it, to someone else).
func TestPayPalIPNReceiverBeforeAnyCall(t *testing.T) {
	api, config := newIPNAPI(t)
	v := mustNew(t, "paypal_ipn", config)
	_, err := v.Verify(t.Context(), goldenRequest(t, "paypal_ipn/receiver_mismatch"))
	require.ErrorIs(t, err, ErrForbidden)
	assert.NotContains(t, err.Error(), "attacker@evil.example")
	assert.NotContains(t, err.Error(), ipnReceiver)
	assert.Zero(t, api.Calls("paypal_ipn"))
	// receiver_email ignoring case, receiver_id exactly.
	assert.Equal(t, StatusSucceeded, verifyGolden(t, v, "paypal_ipn/completed").Status)
	byID := mustNew(t, "paypal_ipn", config.with("receivers", []string{ipnReceiverID}))
	assert.Equal(t, StatusSucceeded, verifyGolden(t, byID, "paypal_ipn/receiver_id_only").Status)
	lower := mustNew(t, "paypal_ipn", config.with("receivers", []string{strings.ToLower(ipnReceiverID)}))
	_, err = lower.Verify(t.Context(), goldenRequest(t, "paypal_ipn/receiver_id_only"))
	assert.ErrorIs(t, err, ErrForbidden, "receiver_id is compared exactly")
}

// TestPayPalIPNNoticeStatesTheID: the event id is known before the call,
// so that the handler acknowledges a duplicate without one.
func TestPayPalIPNNoticeStatesTheID(t *testing.T) {
	api, config := newIPNAPI(t)
	v := mustNew(t, "paypal_ipn", config).(Inquirer)
	stated, err := v.Notice(goldenRequest(t, "paypal_ipn/completed"))
	require.NoError(t, err)
	require.Len(t, stated, 1)
	assert.Zero(t, api.Calls("paypal_ipn"))
	confirmed, err := v.Inquire(t.Context(), goldenRequest(t, "paypal_ipn/completed"), stated)
	require.NoError(t, err)
	assert.Equal(t, stated, confirmed)
	assert.Equal(t, EventID("paypal_ipn", "61E67681CH3238416", "Completed"), stated[0].ID)
}

// TestPayPalIPNInquiryFaults: a PayPal that cannot be asked or answers
// neither VERIFIED nor INVALID is ErrInquiry (503, PayPal re-posts);
// INVALID, for a lie or an IPN it does not know, is 401.
func TestPayPalIPNInquiryFaults(t *testing.T) {
	for fault, reason := range map[standin.Fault]string{
		standin.ServerError: "PayPal's IPN postback answered 500",
		standin.Garbage:     "answered 200 with neither VERIFIED nor INVALID",
		standin.ErrorCode:   "answered 200 with neither VERIFIED nor INVALID",
		standin.Huge:        "over 1048576 bytes",
		standin.Redirect:    "redirect to another host (127.0.0.2) refused",
		standin.Drop:        "calling 127.0.0.1",
		standin.Slow:        "did not answer within inquiry_timeout 200ms",
	} {
		t.Run(fault.String(), func(t *testing.T) {
			api, config := newIPNAPI(t)
			api.SetSlowFor(2 * time.Second)
			api.SetFault(fault)
			v := mustNew(t, "paypal_ipn", config.with("inquiry_timeout", "200ms"))
			for range 2 { // ErrorCode: an HTML page, then an empty body
				events, err := v.Verify(t.Context(), goldenRequest(t, "paypal_ipn/completed"))
				require.ErrorIs(t, err, ErrInquiry)
				assert.Empty(t, events)
				assert.Contains(t, err.Error(), reason)
				assert.NotContains(t, err.Error(), ipnReceiver)
			}
			api.SetFault(standin.None)
			assert.Equal(t, StatusSucceeded, verifyGolden(t, v, "paypal_ipn/completed").Status, "the re-post once PayPal recovered")
		})
	}
	for _, fault := range []standin.Fault{standin.Lie, standin.Unknown} {
		api, config := newIPNAPI(t)
		api.SetFault(fault)
		_, err := mustNew(t, "paypal_ipn", config).Verify(t.Context(), goldenRequest(t, "paypal_ipn/completed"))
		require.ErrorIs(t, err, ErrSignature, fault.String())
		assert.Contains(t, err.Error(), "PayPal answered INVALID")
	}
	for body, want := range map[string]error{" VERIFIED\r\n": nil, "INVALID\n": ErrSignature, "verified": ErrInquiry, "": ErrInquiry} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, body) }))
		v := mustNew(t, "paypal_ipn", options{Extra: map[string]any{"receivers": []string{ipnReceiver}, "inquire": srv.URL}})
		_, err := v.Verify(t.Context(), goldenRequest(t, "paypal_ipn/completed"))
		srv.Close()
		if want == nil {
			assert.NoError(t, err, body)
		} else {
			assert.ErrorIs(t, err, want, body)
		}
	}
}

func TestPayPalIPNOptions(t *testing.T) {
	for _, c := range []struct {
		config options
		want   string
	}{
		{options{}, "receiver: required"},
		{options{Extra: map[string]any{"receivers": []string{""}}}, "receiver: empty"},
		{options{Extra: map[string]any{"receivers": []string{"{env.PAYNOTIFY_TEST_UNSET_RECEIVER}"}}}, "receiver: evaluated placeholder"},
		{options{Extra: map[string]any{"receivers": []string{"a@b.example"}, "inquire": "http://ipnpb.paypal.com/cgi-bin/webscr"}}, "http is only for a stand-in"},
		{options{Secrets: []string{"s"}, Extra: map[string]any{"receivers": []string{"a@b.example"}}}, "unknown field"},
	} {
		_, err := newVerifier("paypal_ipn", c.config)
		require.Error(t, err, c.want)
		assert.Contains(t, err.Error(), c.want)
	}
	t.Setenv("PAYNOTIFY_TEST_RECEIVER", ipnReceiverID)
	v, err := newVerifier("paypal_ipn", options{Extra: map[string]any{"receivers": []string{"{env.PAYNOTIFY_TEST_RECEIVER}"}}})
	require.NoError(t, err)
	assert.Equal(t, []string{ipnReceiverID}, v.(*PayPalIPN).receivers)
	assert.Equal(t, "https://ipnpb.paypal.com/cgi-bin/webscr", v.(*PayPalIPN).Base(), "the default inquire")
}

func TestParseIPNDate(t *testing.T) {
	for s, want := range map[string]string{
		"03:20:28 May 01, 2024 PDT": "2024-05-01T10:20:28Z",
		"23:59:59 Jan 09, 2024 PST": "2024-01-10T07:59:59Z",
		"23:59:59 Jan 9, 2024 PST":  "2024-01-10T07:59:59Z",
		"03:20:28 May 01, 2024 CET": "0001-01-01T00:00:00Z",
		"2024-05-01T10:20:28Z":      "0001-01-01T00:00:00Z",
		"":                          "0001-01-01T00:00:00Z",
	} {
		assert.Equal(t, want, parseIPNDate(s).Format(time.RFC3339), s)
	}
}

func ipnSharedConfig(t testing.TB) options {
	api, url := sharedStandin()
	registerIPNs(t, api)
	return options{Extra: map[string]any{"receivers": []string{ipnReceiver}, "inquire": url + "/paypal/cgi-bin/webscr"}}
}

// FuzzPayPalIPN: PayPal verifies the bytes, so an accepted body is byte for
// byte one PayPal sent.
func FuzzPayPalIPN(f *testing.F) {
	fuzzVerifier(f, "paypal_ipn", ipnSharedConfig(f), func(r *Request) string { return string(r.Body) })
}

// BenchmarkVerifyByPostback: one IPN, Notice and the postback to a stand-in
// PayPal on loopback (an IPN has no signature, so no crypto floor).
func BenchmarkVerifyByPostback(b *testing.B) {
	b.Run("paypal_ipn", func(b *testing.B) {
		v := mustNew(b, "paypal_ipn", ipnSharedConfig(b))
		req := goldenRequest(b, "paypal_ipn/completed")
		ctx := context.Background()
		b.ReportAllocs()
		b.SetBytes(int64(len(req.Body)))
		for b.Loop() {
			if events, err := v.Verify(ctx, req); err != nil || len(events) != 1 {
				b.Fatal(err)
			}
		}
	})
}

func init() {
	completeOptions["paypal_ipn"] = "receiver merchant@example.com\ninquire INQUIRE/paypal/cgi-bin/webscr"
	completeStandin["paypal_ipn"] = func(api *standin.API, n Notification, _ map[string]any) {
		api.AddPayPalIPN(n.Body) // what PayPal sent
	}
}

// BenchmarkNotice: the local half of an inquiring verifier (what a
// duplicate costs when its id is known before the call: PayPal IPN), apart
// from the round trip to the provider's API that the Verify benchmarks
// include.
func BenchmarkNotice(b *testing.B) {
	for _, c := range []struct {
		provider, file string
		config         options
	}{
		{"mollie", "mollie/paid", mollieSharedConfig()},
		{"paypal_ipn", "paypal_ipn/completed", ipnSharedConfig(b)},
	} {
		b.Run(c.provider, func(b *testing.B) {
			v := mustNew(b, c.provider, c.config).(Inquirer)
			req := goldenRequest(b, c.file)
			b.ReportAllocs()
			b.SetBytes(int64(len(req.Body)))
			for b.Loop() {
				if events, err := v.Notice(req); err != nil || len(events) != 1 {
					b.Fatal(err)
				}
			}
		})
	}
}
