package verifiers

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
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

// The Mollie test account: its API key and webhook secrets, as
// testdata/gen_golden_mollie.py signs with them.
const (
	mollieKey       = "test_dHar4XY7LxsDOtmnkVtjNVWXLSlXsM"
	mollieSecret    = "mollie-test-webhook-secret"
	mollieOldSecret = "mollie-old-webhook-secret"
)

// molliePayments are the payments of the golden requests, by case name
// (PAYMENTS in gen_golden_mollie.py).
var molliePayments = map[string]standin.MolliePayment{
	"paid": {ID: "tr_WDqYK6vllg", Status: "paid", Value: "10.00", Currency: "EUR", Description: "Order ORD-20240501-0007",
		Method: "ideal", Metadata: map[string]any{"order_id": "ORD-20240501-0007"}},
	"authorized": {ID: "tr_Au7hor1zed", Status: "authorized", Value: "25.00", Currency: "EUR", Method: "klarnapaylater",
		Metadata: map[string]any{"order_id": "ORD-A"}},
	"open":    {ID: "tr_0penPaym3nt", Status: "open", Value: "5.00", Currency: "EUR", Metadata: map[string]any{"order_id": "ORD-O"}},
	"pending": {ID: "tr_Pend1ng", Status: "pending", Value: "5.00", Currency: "EUR", Method: "banktransfer", Metadata: map[string]any{"order_id": "ORD-P"}},
	"failed": {ID: "tr_Fa1led", Status: "failed", Value: "99.95", Currency: "GBP", Method: "creditcard",
		Metadata: map[string]any{"order_id": "ORD-F"}, FailureReason: "card_declined"},
	"canceled": {ID: "tr_Cancel3d", Status: "canceled", Value: "1.00", Currency: "EUR", Metadata: map[string]any{"order_id": "ORD-C"}},
	"expired":  {ID: "tr_Exp1red", Status: "expired", Value: "1.00", Currency: "EUR", Metadata: map[string]any{"order_id": "ORD-E"}},
	"refunded": {ID: "tr_Refund3d", Status: "paid", Value: "50.00", Currency: "EUR", Method: "creditcard",
		Metadata: map[string]any{"order_id": "ORD-R"}, Refunded: "20.00"},
	"charged_back": {ID: "tr_Chargedback", Status: "paid", Value: "50.00", Currency: "EUR", Method: "creditcard",
		Metadata: map[string]any{"order_id": "ORD-CB"}, Refunded: "5.00", ChargedBack: "45.00"},
	"unmapped_status": {ID: "tr_Unmapped", Status: "settling", Value: "3.00", Currency: "EUR"},
}

// newMollieAPI is a stand-in Mollie API that knows every golden payment,
// and the config of a mollie provider that asks it.
func newMollieAPI(t testing.TB) (*standin.API, options) {
	api := standin.New()
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	for _, p := range molliePayments {
		api.AddMolliePayment(mollieKey, p)
	}
	return api, options{Secrets: []string{mollieSecret, mollieOldSecret},
		Extra: map[string]any{"api_key": mollieKey, "inquire": srv.URL + "/mollie"}}
}

func TestMollie(t *testing.T) {
	api, config := newMollieAPI(t)
	accepted := []string{"no_prefix", "old_secret", "uppercase_hex", "extra_fields"}
	for name := range molliePayments {
		accepted = append(accepted, name)
	}
	testProvider(t, "mollie", config, accepted, []rejectCase{
		{"unsigned", nil, ErrSignature, "no X-Mollie-Signature header"},
		{"wrong_secret", nil, ErrSignature, "X-Mollie-Signature header matches none of the 2 configured secrets"},
		{"tampered", nil, ErrSignature, "matches none"},
		{"not_hex", nil, ErrSignature, "X-Mollie-Signature header is not a hex HMAC-SHA256"},
		{"empty_signature", nil, ErrSignature, "is not a hex HMAC-SHA256"},
		{"id_missing", nil, ErrMalformed, "mandatory field id is missing"},
		{"id_empty", nil, ErrMalformed, "mandatory field id is missing"},
		{"id_traversal", nil, ErrMalformed, "field id is not a Mollie payment id"},
		{"id_query", nil, ErrMalformed, "field id is not a Mollie payment id"},
		{"id_order", nil, ErrMalformed, "field id is not a Mollie payment id"},
		{"id_too_long", nil, ErrMalformed, "field id is not a Mollie payment id"},
		{"id_twice", nil, ErrMalformed, `form field "id" given 2 times`},
		{"query_shadow", nil, ErrMalformed, `query parameter "id" would shadow the field "id"`},
		{"json", nil, ErrMalformed, "content type"},
		{"get", nil, ErrMethod, "GET"},
		{"invalid_utf8", nil, ErrMalformed, "not valid UTF-8"},
	})
	// The refused ones made no call: only the accepted asked Mollie.
	assert.Equal(t, len(accepted), api.Calls("mollie"), "a refused notification reached Mollie's API")
}

// TestMollieEventComesFromMollie: the event is what Mollie answers about
// the payment, whatever else the notification carries; the status, amount
// and order are checked here by hand, not only against the golden file.
func TestMollieEventComesFromMollie(t *testing.T) {
	_, config := newMollieAPI(t)
	v := mustNew(t, "mollie", config)
	for file, want := range map[string]struct {
		status           Status
		provider, amount string
		minor            int64
		currency, order  string
	}{
		"paid":            {StatusSucceeded, "paid", "10.00", 1000, "EUR", "ORD-20240501-0007"},
		"extra_fields":    {StatusSucceeded, "paid", "10.00", 1000, "EUR", "ORD-20240501-0007"}, // status=failed&amount=0.01 ignored
		"authorized":      {StatusAuthorized, "authorized", "25.00", 2500, "EUR", "ORD-A"},
		"open":            {StatusPending, "open", "5.00", 500, "EUR", "ORD-O"},
		"pending":         {StatusPending, "pending", "5.00", 500, "EUR", "ORD-P"},
		"failed":          {StatusFailed, "failed", "99.95", 9995, "GBP", "ORD-F"},
		"canceled":        {StatusCancelled, "canceled", "1.00", 100, "EUR", "ORD-C"},
		"expired":         {StatusExpired, "expired", "1.00", 100, "EUR", "ORD-E"},
		"refunded":        {StatusRefunded, "paid", "20.00", 2000, "EUR", "ORD-R"},
		"charged_back":    {StatusDisputed, "paid", "45.00", 4500, "EUR", "ORD-CB"},
		"unmapped_status": {StatusUnknown, "settling", "3.00", 300, "EUR", ""},
	} {
		e := verifyGolden(t, v, filepath.Join("mollie", file))
		assert.Equal(t, want.status, e.Status, file)
		assert.Equal(t, want.provider, e.ProviderStatus, file)
		assert.Equal(t, want.amount, e.Amount, file)
		assert.Equal(t, want.minor, *e.AmountMinor, file)
		assert.Equal(t, want.currency, e.Currency, file)
		assert.Equal(t, want.order, e.OrderID, file)
		assert.True(t, strings.HasPrefix(e.TransactionID, "tr_"), file)
		assert.Contains(t, string(e.Raw), `"resource":"payment"`, "raw is Mollie's answer")
	}
	failed := verifyGolden(t, v, "mollie/failed")
	assert.Equal(t, "card_declined", failed.ResponseCode)
	assert.Equal(t, "The card was declined", failed.Reason)
	assert.Equal(t, "2024-05-01T10:20:31Z", failed.OccurredAt.Format(time.RFC3339), "failedAt")
	assert.Equal(t, "2024-05-01T10:19:31Z", verifyGolden(t, v, "mollie/open").OccurredAt.Format(time.RFC3339), "createdAt")
}

// TestMollieEventIDFollowsTheAnswer: the same notification is the same
// event while Mollie's answer stays the same, and a new event once the
// payment changed (paid, then refunded, then refunded more, then charged
// back): Mollie calls the one webhook for all of them.
func TestMollieEventIDFollowsTheAnswer(t *testing.T) {
	api, config := newMollieAPI(t)
	v := mustNew(t, "mollie", config)
	paid := molliePayments["paid"]
	first := verifyGolden(t, v, "mollie/paid")
	assert.Equal(t, first.ID, verifyGolden(t, v, "mollie/paid").ID, "a retry is the same event")
	assert.Equal(t, first.ID, verifyGolden(t, v, "mollie/no_prefix").ID, "the same notification signed otherwise")
	ids := map[string]bool{first.ID: true}
	for _, change := range []struct {
		refunded, chargedBack string
		want                  Status
		amount                string
	}{
		{"0.00", "", StatusSucceeded, "10.00"}, // amountRefunded 0.00 is what a paid payment always carries
		{"4.00", "", StatusRefunded, "4.00"},
		{"10.00", "", StatusRefunded, "10.00"},
		{"10.00", "10.00", StatusDisputed, "10.00"},
	} {
		p := paid
		p.Refunded, p.ChargedBack = change.refunded, change.chargedBack
		api.AddMolliePayment(mollieKey, p)
		e := verifyGolden(t, v, "mollie/paid")
		assert.Equal(t, change.want, e.Status)
		assert.Equal(t, change.amount, e.Amount)
		if change.refunded == "0.00" {
			assert.Equal(t, first.ID, e.ID, "0.00 refunded is no refund")
			continue
		}
		assert.False(t, ids[e.ID], "a new refund or chargeback is a new event")
		ids[e.ID] = true
	}
}

// TestMollieNoticeStatesNoID: the handler claims Mollie's event after the
// call, because its id needs the status only the answer carries.
func TestMollieNoticeStatesNoID(t *testing.T) {
	api, config := newMollieAPI(t)
	v := mustNew(t, "mollie", config).(Inquirer)
	stated, err := v.Notice(goldenRequest(t, "mollie/paid"))
	require.NoError(t, err)
	require.Len(t, stated, 1)
	assert.Empty(t, stated[0].ID)
	assert.Equal(t, "tr_WDqYK6vllg", stated[0].TransactionID)
	assert.Zero(t, api.Calls("mollie"), "Notice asks nothing")
	assert.True(t, v.Inquires())
}

func TestMollieWithoutSecretNeedsNoSignature(t *testing.T) {
	_, config := newMollieAPI(t)
	config.Secrets = nil
	v := mustNew(t, "mollie", config)
	for _, file := range []string{"unsigned", "wrong_secret", "paid"} {
		e := verifyGolden(t, v, "mollie/"+file)
		assert.Equal(t, StatusSucceeded, e.Status, file)
	}
}

// TestMollieUnknownPayment: an id Mollie does not know (a forged one, or a
// payment of another account) is refused with 401.
func TestMollieUnknownPayment(t *testing.T) {
	api := standin.New()
	srv := httptest.NewServer(api)
	defer srv.Close()
	api.AddMolliePayment(mollieKey, standin.MolliePayment{ID: "tr_other", Status: "paid", Value: "1.00", Currency: "EUR"})
	api.AddMolliePayment("test_anotheraccount", molliePayments["paid"])
	v := mustNew(t, "mollie", options{Secrets: []string{mollieSecret}, Extra: map[string]any{"api_key": mollieKey, "inquire": srv.URL + "/mollie"}})
	_, err := v.Verify(t.Context(), goldenRequest(t, "mollie/paid"))
	require.ErrorIs(t, err, ErrSignature)
	assert.Contains(t, err.Error(), "Mollie does not know the payment of field id")
	assert.Equal(t, 1, api.Calls("mollie"))
}

// TestMollieAsksAsDocumented: GET /v2/payments/<id> with the API key as a
// bearer token and Accept: application/json.
func TestMollieAsksAsDocumented(t *testing.T) {
	var mu sync.Mutex
	var got *http.Request
	api := standin.New()
	api.AddMolliePayment(mollieKey, molliePayments["paid"])
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = r.Clone(context.Background())
		mu.Unlock()
		api.ServeHTTP(w, r)
	}))
	defer srv.Close()
	v := mustNew(t, "mollie", options{Extra: map[string]any{"api_key": mollieKey, "inquire": srv.URL + "/mollie/"}})
	verifyGolden(t, v, "mollie/unsigned")
	mu.Lock()
	assert.Equal(t, http.MethodGet, got.Method)
	assert.Equal(t, "/mollie/v2/payments/tr_WDqYK6vllg", got.URL.Path)
	assert.Empty(t, got.URL.RawQuery)
	assert.Equal(t, "Bearer "+mollieKey, got.Header.Get("Authorization"))
	assert.Equal(t, "application/json", got.Header.Get("Accept"))
	mu.Unlock()

	// Another key: the stand-in, like Mollie, answers 401, which is the
	// operator's to fix (503, Mollie retries), never the notification's.
	wrong := mustNew(t, "mollie", options{Extra: map[string]any{"api_key": "test_wrongkey", "inquire": srv.URL + "/mollie"}})
	_, err := wrong.Verify(t.Context(), goldenRequest(t, "mollie/unsigned"))
	require.ErrorIs(t, err, ErrInquiry)
	assert.Contains(t, err.Error(), "answered 401: check the API credentials")
	assert.NotContains(t, err.Error(), "test_wrongkey")
}

// TestMollieInquiryFaults: every way Mollie's API can fail is ErrInquiry
// (503, retried), with a reason that names no credential; a Mollie that
// answers another payment is not believed.
func TestMollieInquiryFaults(t *testing.T) {
	for fault, reason := range map[standin.Fault]string{
		standin.ServerError: "answered 500",
		standin.Garbage:     "not a JSON object",
		standin.ErrorCode:   "answered 422",
		standin.Lie:         "another payment than the one asked for (id)",
		standin.Huge:        "over 1048576 bytes",
		standin.Redirect:    "redirect to another host (127.0.0.2) refused",
		standin.Drop:        "calling 127.0.0.1",
		standin.Slow:        "did not answer within inquiry_timeout 200ms",
	} {
		t.Run(fault.String(), func(t *testing.T) {
			api, config := newMollieAPI(t)
			api.SetSlowFor(2 * time.Second)
			api.SetFault(fault)
			v := mustNew(t, "mollie", config.with("inquiry_timeout", "200ms"))
			events, err := v.Verify(t.Context(), goldenRequest(t, "mollie/paid"))
			require.ErrorIs(t, err, ErrInquiry)
			assert.Empty(t, events)
			assert.Contains(t, err.Error(), reason)
			for _, secret := range []string{mollieKey, mollieSecret, "Bearer"} {
				assert.NotContains(t, err.Error(), secret)
			}
			api.SetFault(standin.None)
			e := verifyGolden(t, v, "mollie/paid")
			assert.Equal(t, StatusSucceeded, e.Status, "the retry once Mollie recovered")
		})
	}
	t.Run("unknown", func(t *testing.T) {
		api, config := newMollieAPI(t)
		api.SetFault(standin.Unknown)
		_, err := mustNew(t, "mollie", config).Verify(t.Context(), goldenRequest(t, "mollie/paid"))
		require.ErrorIs(t, err, ErrSignature)
	})
}

// TestMollieUnreadableAnswers: a 200 that is not the payment asked for.
func TestMollieUnreadableAnswers(t *testing.T) {
	for body, reason := range map[string]string{
		`{"resource":"payment","id":"tr_WDqYK6vllg","status":"paid","amount":{"value":"10.00","currency":"EUR"},"id":"tr_x"}`:                    "not a JSON object",
		`{"resource":"refund","id":"tr_WDqYK6vllg","status":"paid","amount":{"value":"10.00","currency":"EUR"}}`:                                 "not a payment (resource)",
		`{"resource":"payment","id":"tr_WDqYK6vllg","amount":{"value":"10.00","currency":"EUR"}}`:                                                "without a status",
		`{"resource":"payment","id":"tr_WDqYK6vllg","status":"paid"}`:                                                                            "without an amount",
		`{"resource":"payment","id":"tr_WDqYK6vllg","status":"paid","amount":{"value":"10,00","currency":"EUR"}}`:                                "amount.value that is not a decimal",
		`{"resource":"payment","id":"tr_WDqYK6vllg","status":"paid","amount":{"value":"10.00","currency":"EUR"},"amountRefunded":{"value":"x"}}`: "amountRefunded",
		`{"resource":"payment","id":"tr_WDqYK6vllg","status":"paid","amount":"10.00"}`:                                                           "cannot read",
		`[]`: "not a JSON object",
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(body)) }))
		v := mustNew(t, "mollie", options{Extra: map[string]any{"api_key": mollieKey, "inquire": srv.URL}})
		_, err := v.Verify(t.Context(), goldenRequest(t, "mollie/unsigned"))
		srv.Close()
		require.ErrorIs(t, err, ErrInquiry, body)
		assert.Contains(t, err.Error(), reason, body)
	}
}

// TestMollieOrderID: the order reference is read from Mollie's payment at
// order_id; a payment event without one is malformed, naming the path.
func TestMollieOrderID(t *testing.T) {
	api, config := newMollieAPI(t)
	p := molliePayments["paid"]
	p.Metadata = map[string]any{"shop": map[string]any{"order": "SHOP-9"}}
	api.AddMolliePayment(mollieKey, p)
	_, err := mustNew(t, "mollie", config).Verify(t.Context(), goldenRequest(t, "mollie/paid"))
	require.ErrorIs(t, err, ErrMalformed)
	assert.Contains(t, err.Error(), "no order reference at metadata.order_id in Mollie's payment")
	e := verifyGolden(t, mustNew(t, "mollie", config.with("order_id", "metadata.shop.order")), "mollie/paid")
	assert.Equal(t, "SHOP-9", e.OrderID)
}

func TestMollieOptions(t *testing.T) {
	for _, c := range []struct {
		config options
		want   string
	}{
		{options{}, "api_key: required"},
		{options{Extra: map[string]any{"api_key": "{env.PAYNOTIFY_TEST_UNSET_MOLLIE}"}}, "api_key: evaluated placeholder {env.PAYNOTIFY_TEST_UNSET_MOLLIE} is empty"},
		{options{Secrets: []string{""}, Extra: map[string]any{"api_key": "k"}}, "secret: empty"},
		{options{Extra: map[string]any{"api_key": "k", "inquire": "http://api.mollie.com"}}, "http is only for a stand-in"},
		{options{Extra: map[string]any{"api_key": "k", "order_id": "a..b"}}, "order_id"},
		{options{Extra: map[string]any{"api_key": "k", "inquiry_timeout": "1m"}}, "inquiry_timeout"},
	} {
		_, err := newVerifier("mollie", c.config)
		require.Error(t, err, c.want)
		assert.Contains(t, err.Error(), c.want)
	}
	t.Setenv("PAYNOTIFY_TEST_MOLLIE_KEY", "live_fromtheenv")
	v, err := newVerifier("mollie", options{Extra: map[string]any{"api_key": "{env.PAYNOTIFY_TEST_MOLLIE_KEY}"}})
	require.NoError(t, err)
	m := v.(*Mollie)
	assert.Equal(t, "live_fromtheenv", m.apiKey)
	assert.Equal(t, "https://api.mollie.com", m.Base(), "the default inquire")
}

// TestMollieSignatureVector: NOTES.md §8.9's vector, derived from Mollie's
// SignatureValidatorTest (secret test_webhook_secret, a next-gen payload):
// the header check takes it with and without sha256=, among other values.
func TestMollieSignatureVector(t *testing.T) {
	v := &Mollie{macs: NewHMACKeys(sha256.New, [][]byte{[]byte("test_webhook_secret")})}
	body := []byte(`{"id":"tr_12345","event_type":"payment-link.paid"}`)
	const sig = "e479a5e4aaa17db94cfc546071e10e91c0b37f21e464e751ebdd7d7ad2ffd146"
	assert.NoError(t, v.checkSignature([]string{sig}, body))
	assert.NoError(t, v.checkSignature([]string{"sha256=" + sig}, body))
	assert.NoError(t, v.checkSignature([]string{"sha256=" + strings.Repeat("0", 64), "sha256=" + sig}, body), "a repeated header")
	assert.ErrorIs(t, v.checkSignature([]string{"sha1=" + sig}, body), ErrSignature)
	assert.ErrorIs(t, v.checkSignature([]string{sig[:62]}, body), ErrSignature)
	assert.ErrorIs(t, v.checkSignature([]string{sig}, append(body, ' ')), ErrSignature)
}

func TestMollieSignsItsExample(t *testing.T) {
	api, config := newMollieAPI(t)
	v := mustNew(t, "mollie", config)
	signer := v.(Signer)
	fields := signer.Example("ORD-2024/77", time.Now())
	assert.Equal(t, "tr_ORD202477", fields["id"])
	n, err := signer.Sign(Draft{Fields: fields, Path: "/n"})
	require.NoError(t, err)
	assert.Equal(t, "id=tr_ORD202477", string(n.Body))
	mac := hmac.New(sha256.New, []byte(mollieSecret))
	mac.Write(n.Body)
	assert.Equal(t, "sha256="+hex.EncodeToString(mac.Sum(nil)), n.Header.Get("X-Mollie-Signature"))
	api.AddMolliePayment(mollieKey, standin.MolliePayment{ID: "tr_ORD202477", Status: "paid", Value: "7.00", Currency: "EUR",
		Metadata: map[string]any{"order_id": "ORD-2024/77"}})
	events, err := v.Verify(t.Context(), &Request{Method: n.Method, Header: n.Header, Body: n.Body, ReceivedAt: time.Now()})
	require.NoError(t, err)
	assert.Equal(t, "ORD-2024/77", events[0].OrderID)
}

// A shared stand-in for the fuzz and bench targets, which take a fixed
// config: started once, for the test binary's life.
var sharedStandin = sync.OnceValues(func() (*standin.API, string) {
	api := standin.New()
	srv := httptest.NewServer(api)
	return api, srv.URL
})

func mollieSharedConfig() options {
	api, url := sharedStandin()
	for _, p := range molliePayments {
		api.AddMolliePayment(mollieKey, p)
	}
	return options{Secrets: []string{mollieSecret, mollieOldSecret},
		Extra: map[string]any{"api_key": mollieKey, "inquire": url + "/mollie"}}
}

// FuzzMollie: the signature covers the body, so an accepted body is byte
// for byte one Mollie signed; and no input makes the verifier call
// Mollie's API with anything but a well-formed payment id.
func FuzzMollie(f *testing.F) {
	fuzzVerifier(f, "mollie", mollieSharedConfig(), func(r *Request) string { return string(r.Body) })
}

func init() {
	completeOptions["mollie"] = "api_key test_complete_key\ninquire INQUIRE/mollie"
	completeStandin["mollie"] = func(api *standin.API, _ Notification, fields map[string]any) {
		api.AddMolliePayment("test_complete_key", standin.MolliePayment{ID: fields["id"].(string), Status: "paid",
			Value: "10.00", Currency: "EUR", Metadata: map[string]any{"order_id": "ORD-1"}})
	}
	benchCases = append(benchCases, benchCase{
		provider: "mollie", file: "mollie/paid", config: mollieSharedConfig(), newHash: sha256.New,
		// The raw body; the header is sha256= and its hex HMAC-SHA256.
		signed: func(b *testing.B, req *Request) ([]byte, []byte) {
			want, err := hex.DecodeString(strings.TrimPrefix(req.Header.Get("X-Mollie-Signature"), "sha256="))
			if err != nil {
				b.Fatal(err)
			}
			return req.Body, want
		},
	})
}
