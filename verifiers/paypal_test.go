package verifiers

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"hash/crc32"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/paynotify/paynotify/internal/standin"
)

// The golden requests' webhook, certificate and REST app
// (testdata/gen_golden_paypal.py).
const (
	paypalWebhookID    = "8PT597110X687430LKGECATA"
	paypalGoldenCert   = "https://api.sandbox.paypal.com/v1/notifications/certs/CERT-360caa42-fca2a594-golden01"
	paypalVectorURL    = "https://api.sandbox.paypal.com/v1/notifications/certs/CERT-testClientCert"
	paypalVectorHookID = "96605875FF6516633"
	paypalClientID     = "AaPayPalGoldenClientId"
	paypalClientSecret = "EKpaypal-golden-client-secret"
)

func init() {
	completeOptions["paypal"] = "inquire INQUIRE/paypal\nwebhook_id WH-COMPLETE\nclient_id complete-client\nclient_secret complete-secret"
	completeStandin["paypal"] = func(api *standin.API, n Notification, _ map[string]any) {
		// paynotify sign cannot sign as PayPal: the stand-in signs the
		// transmission in its place.
		api.SetPayPalClient("complete-client", "complete-secret")
		for k, v := range api.SignPayPalWebhook("WH-COMPLETE", n.Body) {
			n.Header[k] = v
		}
	}
}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", name))
	require.NoError(t, err)
	return b
}

// paypalStandin starts a stand-in PayPal API that knows the golden REST app
// and certificates, and returns it with the config that points at it.
func paypalStandin(t testing.TB) (*standin.API, options) {
	t.Helper()
	api := standin.New()
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	api.SetPayPalClient(paypalClientID, paypalClientSecret)
	require.NoError(t, api.AddPayPalCert(paypalGoldenCert, readTestdata(t, "paypal/golden_cert.pem")))
	require.NoError(t, api.AddPayPalCert(paypalVectorURL, readTestdata(t, "vectors/paypal_sandbox_messageverification_cert.pem")))
	return api, options{Extra: map[string]any{"inquire": srv.URL + "/paypal", "webhook_id": paypalWebhookID,
		"client_id": paypalClientID, "client_secret": paypalClientSecret}}
}

// assertNoPayPalCredential checks that err names no credential.
func assertNoPayPalCredential(t *testing.T, err error) {
	t.Helper()
	for _, s := range []string{paypalClientSecret, paypalClientID, paypalWebhookID, "A21AA", "Bearer", "Basic"} {
		assert.NotContains(t, err.Error(), s, "a credential in an error")
	}
}

// The Notice-level refusals: no call to PayPal.
var paypalNoticeRejects = []rejectCase{
	{"missing_transmission_id", nil, ErrSignature, "no PAYPAL-TRANSMISSION-ID header"},
	{"missing_transmission_time", nil, ErrSignature, "no PAYPAL-TRANSMISSION-TIME header"},
	{"missing_transmission_sig", nil, ErrSignature, "no PAYPAL-TRANSMISSION-SIG header"},
	{"missing_auth_algo", nil, ErrSignature, "no PAYPAL-AUTH-ALGO header"},
	{"missing_cert_url", nil, ErrSignature, "no PAYPAL-CERT-URL header"},
	{"empty_transmission_sig", nil, ErrSignature, "no PAYPAL-TRANSMISSION-SIG header"},
	{"transmission_sig_not_base64", nil, ErrSignature, "PAYPAL-TRANSMISSION-SIG header is not base64"},
	{"cert_url_http", nil, ErrSignature, "PAYPAL-CERT-URL header is not an https URL on a paypal.com host"},
	{"cert_url_other_host", nil, ErrSignature, "PAYPAL-CERT-URL header is not an https URL on a paypal.com host"},
	{"cert_url_lookalike", nil, ErrSignature, "PAYPAL-CERT-URL header is not an https URL on a paypal.com host"},
	{"cert_url_userinfo", nil, ErrSignature, "PAYPAL-CERT-URL header is not an https URL on a paypal.com host"},
	{"cert_url_port", nil, ErrSignature, "PAYPAL-CERT-URL header is not an https URL on a paypal.com host"},
	{"cert_url_escaped_host", nil, ErrSignature, "PAYPAL-CERT-URL header is not an https URL on a paypal.com host"},
	{"missing_id", nil, ErrMalformed, "mandatory field id is missing"},
	{"missing_event_type", nil, ErrMalformed, "mandatory field event_type is missing"},
	{"no_order_id", nil, ErrMalformed, "no order reference at resource.invoice_id, then resource.custom_id"},
	{"amount_not_decimal", nil, ErrMalformed, "resource.amount.value is not an unsigned decimal number"},
	{"duplicate_key", nil, ErrMalformed, "event_type"},
	{"casefold_key", nil, ErrMalformed, "event_type"},
	{"invalid_utf8", nil, ErrMalformed, "UTF-8"},
	{"form_content_type", nil, ErrMalformed, "application/json"},
	{"query_shadows_field", nil, ErrMalformed, "event_type"},
	{"get", nil, ErrMethod, "GET"},
}

// The refusals of PayPal's verify API (FAILURE): one call each.
var paypalAPIRejects = []rejectCase{
	{"tampered", nil, ErrSignature, "verification_status FAILURE"},
	{"wrong_webhook_id", nil, ErrSignature, "verification_status FAILURE"},
	{"forged_key", nil, ErrSignature, "verification_status FAILURE"},
	{"reformatted", nil, ErrSignature, "verification_status FAILURE"},
	{"signature_of_another_transmission", nil, ErrSignature, "verification_status FAILURE"},
	{"vector_official", nil, ErrSignature, "verification_status FAILURE"}, // signed for another webhook id
}

var paypalAccepted = []string{
	"capture_completed", "capture_custom_id", "capture_paypal_order_id", "capture_pending", "capture_denied",
	"capture_declined", "capture_refunded", "order_approved", "order_approved_invoice_id", "authorization_created",
	"authorization_voided", "dispute_created", "sale_completed_v1", "capture_jpy", "unusual_spacing", "lower_case_headers",
}

func TestPayPal(t *testing.T) {
	api, cfg := paypalStandin(t)
	// PayPal's official transmission is of 2017 (the others are signed at
	// the golden clock): TestPayPalTransmissionTimeTolerance tests the
	// tolerance.
	cfg = cfg.with("tolerance", "87600h")
	testProvider(t, "paypal", cfg, paypalAccepted, append(append([]rejectCase{}, paypalNoticeRejects...), paypalAPIRejects...))
	// Every accepted request and every refusal of the API was asked about;
	// a Notice-level refusal was not. The token was fetched once, although
	// each rejected case made a new provider instance: they share the
	// cache of the same API and REST app.
	assert.Equal(t, len(paypalAccepted)+len(paypalAPIRejects), api.Calls("paypal_verify"))
	assert.Equal(t, 1, api.Calls("paypal_token"))
}

// TestPayPalNoticeRefusalsCallNothing: a transmission that is refused
// before PayPal is asked (a forged certificate URL, a missing header, a
// malformed event) costs no call, not even a token.
func TestPayPalNoticeRefusalsCallNothing(t *testing.T) {
	api, cfg := paypalStandin(t)
	v := mustNew(t, "paypal", cfg)
	for _, rc := range paypalNoticeRejects {
		events, err := v.Verify(context.Background(), goldenRequest(t, "paypal/"+rc.file))
		require.ErrorIs(t, err, rc.want, rc.file)
		require.Empty(t, events)
	}
	assert.Zero(t, api.Calls("paypal_verify"))
	assert.Zero(t, api.Calls("paypal_token"))
}

// TestPayPalOfficialVector: PayPal's own transmission (PayPal-Java-SDK
// ValidateCertTest), for its webhook id, passes the stand-in's
// verification, which is PayPal's; the event is a BILLING.PLAN.CREATED,
// forwarded as unknown without an order.
func TestPayPalOfficialVector(t *testing.T) {
	_, cfg := paypalStandin(t)
	cfg = cfg.with("webhook_id", paypalVectorHookID).with("tolerance", "87600h") // sent in 2017
	e := verifyGolden(t, mustNew(t, "paypal", cfg), "paypal/vector_official")
	checkGolden(t, "paypal/vector_official", []Event{e})
	assert.Equal(t, "WH-2MW4820926242972J-6SG447389E205703U", e.ID)
	assert.Equal(t, StatusUnknown, e.Status)
	assert.Equal(t, "BILLING.PLAN.CREATED", e.ProviderStatus)
	assert.Empty(t, e.OrderID)
}

func TestPayPalEvents(t *testing.T) {
	_, cfg := paypalStandin(t)
	v := mustNew(t, "paypal", cfg)
	for name, want := range map[string][6]string{ // status, order, amount, currency, transaction, reason
		"capture_completed":         {"succeeded", "ORD-20240501-0042", "10.50", "USD", "2GG279541U471931P", ""},
		"capture_custom_id":         {"succeeded", "ORD-CUSTOM-7", "10.50", "USD", "2GG279541U471931P", ""},
		"capture_paypal_order_id":   {"succeeded", "5O190127TN364715T", "10.50", "USD", "2GG279541U471931P", ""},
		"capture_pending":           {"pending", "ORD-20240501-0042", "10.50", "USD", "2GG279541U471931P", "PENDING_REVIEW"},
		"capture_denied":            {"failed", "ORD-20240501-0042", "10.50", "USD", "2GG279541U471931P", "BUYER_COMPLAINT"},
		"capture_declined":          {"failed", "ORD-20240501-0042", "10.50", "USD", "2GG279541U471931P", ""},
		"capture_refunded":          {"refunded", "ORD-20240501-0042", "4.00", "USD", "1JU08902781691411", ""},
		"order_approved":            {"authorized", "5O190127TN364715T", "25.00", "EUR", "5O190127TN364715T", ""},
		"order_approved_invoice_id": {"authorized", "ORD-20240501-0050", "25.00", "EUR", "5O190127TN364715T", ""},
		"authorization_created":     {"authorized", "ORD-20240501-0042", "10.50", "USD", "0VF52814937998046", ""},
		"authorization_voided":      {"cancelled", "ORD-20240501-0042", "10.50", "USD", "0VF52814937998046", ""},
		"dispute_created":           {"disputed", "ORD-20240501-0042", "10.50", "USD", "PP-D-27803", ""},
		"sale_completed_v1":         {"unknown", "", "30.11", "USD", "80021663DE681814L", ""},
		"capture_jpy":               {"succeeded", "ORD-20240501-0042", "1200", "JPY", "2GG279541U471931P", ""},
	} {
		e := verifyGolden(t, v, "paypal/"+name)
		assert.Equal(t, want, [6]string{string(e.Status), e.OrderID, e.Amount, e.Currency, e.TransactionID, e.Reason}, name)
		assert.Equal(t, "WH-58D329510W468432D-8HN650336L201105X", e.ID, name)
		assert.Equal(t, "2024-05-01T10:20:29.613Z", e.OccurredAt.Format(time.RFC3339Nano), name)
	}
}

// TestPayPalOrderIDOption: order_id replaces the default paths.
func TestPayPalOrderIDOption(t *testing.T) {
	_, cfg := paypalStandin(t)
	e := verifyGolden(t, mustNew(t, "paypal", cfg.with("order_id", "resource.custom_id")), "paypal/capture_completed")
	assert.Equal(t, "cart-7781", e.OrderID)
	_, err := mustNew(t, "paypal", cfg.with("order_id", "resource.nothing")).Verify(context.Background(),
		goldenRequest(t, "paypal/capture_completed"))
	require.ErrorIs(t, err, ErrMalformed)
	assert.Contains(t, err.Error(), "no order reference at resource.nothing")
}

// TestPayPalEventIsSentAsReceived: the verify call embeds the body byte
// for byte (the stand-in checks the CRC-32 of what it gets, as PayPal
// does), so a body with unusual spacing and member order verifies, and one
// re-serialized after signing does not.
func TestPayPalEventIsSentAsReceived(t *testing.T) {
	_, cfg := paypalStandin(t)
	v := mustNew(t, "paypal", cfg)
	r := goldenRequest(t, "paypal/unusual_spacing")
	require.Contains(t, string(r.Body), " :  ")
	_, err := v.Verify(context.Background(), r)
	require.NoError(t, err)
	_, err = v.Verify(context.Background(), goldenRequest(t, "paypal/reformatted"))
	require.ErrorIs(t, err, ErrSignature)
}

// paypalSigned is a transmission of body signed by the stand-in for
// webhookID.
func paypalSigned(api *standin.API, webhookID, body string) *Request {
	h := api.SignPayPalWebhook(webhookID, []byte(body))
	h.Set("Content-Type", "application/json")
	return &Request{Method: http.MethodPost, Header: h, Body: []byte(body), ClientIP: goldenClientIP, ReceivedAt: time.Now()}
}

func paypalBody(id string) string {
	return `{"id":"` + id + `","event_type":"PAYMENT.CAPTURE.COMPLETED","create_time":"2024-05-01T10:20:29Z",` +
		`"resource":{"id":"CAP1","invoice_id":"ORD-1","amount":{"value":"10.50","currency_code":"USD"}}}`
}

// TestPayPalOneTokenForManyNotifications: 20 notifications one after the
// other, then 20 at once (on a new API), each cost one verify call and
// share one token.
func TestPayPalOneTokenForManyNotifications(t *testing.T) {
	api, cfg := paypalStandin(t)
	v := mustNew(t, "paypal", cfg)
	for i := range 20 {
		events, err := v.Verify(context.Background(), paypalSigned(api, paypalWebhookID, paypalBody(fmt.Sprintf("WH-SEQ-%d", i))))
		require.NoError(t, err)
		require.Len(t, events, 1)
	}
	assert.Equal(t, 1, api.Calls("paypal_token"))
	assert.Equal(t, 20, api.Calls("paypal_verify"))

	api, cfg = paypalStandin(t)
	v = mustNew(t, "paypal", cfg)
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	start := make(chan struct{}) // the requests are signed first, then sent together
	for i := range 20 {
		r := paypalSigned(api, paypalWebhookID, paypalBody(fmt.Sprintf("WH-CON-%d", i)))
		wg.Go(func() {
			<-start
			_, err := v.Verify(context.Background(), r)
			errs <- err
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	assert.Equal(t, 1, api.Calls("paypal_token"), "one fetch for 20 notifications arriving together")
	assert.Equal(t, 20, api.Calls("paypal_verify"))
}

// TestPayPalTokenRefreshedWhenRevoked: a verify call refused with 401 gets
// exactly one new token and the notification still passes; the same for
// 10 notifications at once.
func TestPayPalTokenRefreshedWhenRevoked(t *testing.T) {
	api, cfg := paypalStandin(t)
	v := mustNew(t, "paypal", cfg)
	_, err := v.Verify(context.Background(), paypalSigned(api, paypalWebhookID, paypalBody("WH-1")))
	require.NoError(t, err)
	api.RevokePayPalTokens()
	_, err = v.Verify(context.Background(), paypalSigned(api, paypalWebhookID, paypalBody("WH-2")))
	require.NoError(t, err)
	assert.Equal(t, 2, api.Calls("paypal_token"))
	assert.Equal(t, 3, api.Calls("paypal_verify"), "the refused call, then the one with the new token")

	api.RevokePayPalTokens()
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range 10 {
		r := paypalSigned(api, paypalWebhookID, paypalBody(fmt.Sprintf("WH-R-%d", i)))
		wg.Go(func() {
			<-start
			_, err := v.Verify(context.Background(), r)
			assert.NoError(t, err)
		})
	}
	close(start)
	wg.Wait()
	assert.Equal(t, 3, api.Calls("paypal_token"), "one new token for 10 notifications refused together")
}

// TestPayPalTokenExpiryHonoured: a token is used until shortly before
// expires_in is over, then a new one is fetched.
func TestPayPalTokenExpiryHonoured(t *testing.T) {
	api, cfg := paypalStandin(t)
	api.SetPayPalTokenLifetime(time.Second)
	v := mustNew(t, "paypal", cfg)
	for i := range 3 {
		_, err := v.Verify(context.Background(), paypalSigned(api, paypalWebhookID, paypalBody(fmt.Sprintf("WH-%d", i))))
		require.NoError(t, err)
	}
	assert.Equal(t, 1, api.Calls("paypal_token"))
	time.Sleep(time.Second)
	_, err := v.Verify(context.Background(), paypalSigned(api, paypalWebhookID, paypalBody("WH-after")))
	require.NoError(t, err)
	assert.Equal(t, 2, api.Calls("paypal_token"), "a new token once the first expired")
	assert.Equal(t, 4, api.Calls("paypal_verify"), "no call was refused for an expired token")
}

func TestPayPalWrongClientCredentials(t *testing.T) {
	api, cfg := paypalStandin(t)
	cfg = cfg.with("client_secret", "EKnot-the-secret")
	_, err := mustNew(t, "paypal", cfg).Verify(context.Background(), paypalSigned(api, paypalWebhookID, paypalBody("WH-1")))
	require.ErrorIs(t, err, ErrInquiry)
	assert.Contains(t, err.Error(), "check client_id and client_secret")
	assert.NotContains(t, err.Error(), "EKnot-the-secret")
	assertNoPayPalCredential(t, err)
	assert.Zero(t, api.Calls("paypal_verify"))
}

// TestPayPalForgeries: PayPal's verify API refuses what was not signed by
// PayPal for this webhook: 401, with the reason.
func TestPayPalForgeries(t *testing.T) {
	api, cfg := paypalStandin(t)
	v := mustNew(t, "paypal", cfg)
	for name, r := range map[string]*Request{
		"another webhook's": paypalSigned(api, "1JE4291016473214C", paypalBody("WH-1")),
		"forged signature": func() *Request {
			r := paypalSigned(api, paypalWebhookID, paypalBody("WH-1"))
			sig := []byte(r.Header.Get("Paypal-Transmission-Sig"))
			sig[10] = map[bool]byte{true: 'B', false: 'A'}[sig[10] == 'A'] // still base64
			r.Header.Set("Paypal-Transmission-Sig", string(sig))
			return r
		}(),
		"tampered body": func() *Request {
			r := paypalSigned(api, paypalWebhookID, paypalBody("WH-1"))
			r.Body = []byte(strings.Replace(string(r.Body), "10.50", "90.50", 1))
			return r
		}(),
	} {
		_, err := v.Verify(context.Background(), r)
		require.ErrorIs(t, err, ErrSignature, name)
		assert.Contains(t, err.Error(), "verification_status FAILURE", name)
	}
	calls := api.Calls("paypal_verify")
	r := paypalSigned(api, paypalWebhookID, paypalBody("WH-1"))
	r.Header.Set("Paypal-Cert-Url", "https://certs.evil.example/v1/notifications/certs/CERT-1")
	_, err := v.Verify(context.Background(), r)
	require.ErrorIs(t, err, ErrSignature)
	assert.Contains(t, err.Error(), "PAYPAL-CERT-URL")
	assert.Equal(t, calls, api.Calls("paypal_verify"), "a foreign certificate URL is not even passed on")
}

// TestPayPalAPIFaults: the API that cannot be asked, or answers something
// else than a verdict, is a failed inquiry (503, PayPal retries); one that
// lies or does not know the transmission is a refusal. No reason carries a
// credential or the token.
func TestPayPalAPIFaults(t *testing.T) {
	for _, c := range []struct {
		fault  standin.Fault
		warm   bool // the token is fetched first, so that the fault hits the verify call
		want   error
		reason string
	}{
		{standin.ServerError, true, ErrInquiry, "verify-webhook-signature API answered 500"},
		{standin.ServerError, false, ErrInquiry, "OAuth token endpoint answered 500"},
		{standin.Garbage, true, ErrInquiry, "answered 200 without a verification_status"},
		{standin.Garbage, false, ErrInquiry, "answered 200 without a bearer access_token"},
		{standin.ErrorCode, true, ErrInquiry, "answered 400 (VALIDATION_ERROR, debug_id f2b1c3d4e5a6b)"},
		{standin.ErrorCode, false, ErrInquiry, "OAuth token endpoint answered 400 (invalid_request)"},
		{standin.Huge, true, ErrInquiry, "is over 1048576 bytes"},
		{standin.Redirect, true, ErrInquiry, "redirect to another host (127.0.0.2) refused"},
		{standin.Drop, true, ErrInquiry, "calling 127.0.0.1"},
		{standin.Lie, true, ErrSignature, "verification_status FAILURE"},
		{standin.Lie, false, ErrSignature, "verification_status FAILURE"},
		{standin.Unknown, true, ErrSignature, "verification_status FAILURE"},
	} {
		t.Run(fmt.Sprintf("%s warm=%v", c.fault, c.warm), func(t *testing.T) {
			api, cfg := paypalStandin(t)
			v := mustNew(t, "paypal", cfg)
			if c.warm {
				_, err := v.Verify(context.Background(), paypalSigned(api, paypalWebhookID, paypalBody("WH-warm")))
				require.NoError(t, err)
			}
			api.SetFault(c.fault)
			events, err := v.Verify(context.Background(), paypalSigned(api, paypalWebhookID, paypalBody("WH-1")))
			require.ErrorIs(t, err, c.want)
			assert.Empty(t, events)
			assert.Contains(t, err.Error(), c.reason)
			assertNoPayPalCredential(t, err)

			api.SetFault(standin.None)
			_, err = v.Verify(context.Background(), paypalSigned(api, paypalWebhookID, paypalBody("WH-1")))
			require.NoError(t, err, "the retry once the API recovered")
		})
	}
}

func TestPayPalInquiryTimeout(t *testing.T) {
	for _, warm := range []bool{true, false} {
		api, cfg := paypalStandin(t)
		v := mustNew(t, "paypal", cfg.with("inquiry_timeout", "300ms"))
		if warm {
			_, err := v.Verify(context.Background(), paypalSigned(api, paypalWebhookID, paypalBody("WH-warm")))
			require.NoError(t, err)
		}
		api.SetSlowFor(5 * time.Second)
		api.SetFault(standin.Slow)
		start := time.Now()
		_, err := v.Verify(context.Background(), paypalSigned(api, paypalWebhookID, paypalBody("WH-1")))
		require.ErrorIs(t, err, ErrInquiry)
		assert.Contains(t, err.Error(), "did not answer within inquiry_timeout 300ms")
		assert.Less(t, time.Since(start), 2*time.Second, "the whole inquiry, token and verify call, is bounded")
	}
}

func TestPayPalCredentialsFromPlaceholders(t *testing.T) {
	api, cfg := paypalStandin(t)
	t.Setenv("PAYPAL_TEST_CLIENT_SECRET", paypalClientSecret)
	t.Setenv("PAYPAL_TEST_CLIENT_ID", paypalClientID)
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "webhook"), []byte(paypalWebhookID), 0o600))
	cfg = cfg.with("client_secret", "{env.PAYPAL_TEST_CLIENT_SECRET}").with("client_id", "{env.PAYPAL_TEST_CLIENT_ID}").
		with("webhook_id", "{file."+filepath.Join(dir, "webhook")+"}")
	_, err := mustNew(t, "paypal", cfg).Verify(context.Background(), paypalSigned(api, paypalWebhookID, paypalBody("WH-1")))
	require.NoError(t, err)

	_, err = newVerifier("paypal", cfg.with("client_secret", "{env.PAYPAL_TEST_UNSET}"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "client_secret: evaluated placeholder")
}

func TestPayPalConfig(t *testing.T) {
	_, cfg := paypalStandin(t)
	for _, c := range []struct {
		drop, set, value, want string
	}{
		{drop: "webhook_id", want: `webhook_id: required for provider "paypal"`},
		{drop: "client_id", want: `client_id: required for provider "paypal"`},
		{drop: "client_secret", want: `client_secret: required for provider "paypal"`},
		{set: "inquire", value: "http://api-m.paypal.com", want: "inquire: http is only for a stand-in on a loopback address"},
		{set: "inquiry_timeout", value: "1m", want: "inquiry_timeout: 1m0s is not between 0 and 30s"},
		{set: "order_id", value: "resource..id", want: "order_id: path"},
	} {
		o := cfg
		if c.drop != "" {
			o.Extra = map[string]any{}
			for k, v := range cfg.Extra {
				if k != c.drop {
					o.Extra[k] = v
				}
			}
		} else {
			o = cfg.with(c.set, c.value)
		}
		_, err := newVerifier("paypal", o)
		if assert.Error(t, err, c.want) {
			assert.Contains(t, err.Error(), c.want)
			assert.NotContains(t, err.Error(), paypalClientSecret)
		}
	}
	// The default API is PayPal's live one.
	p, err := LookupProvider("paypal")
	require.NoError(t, err)
	pp := p.(*PayPal)
	pp.WebhookID, pp.ClientID, pp.ClientSecret = "w", "c", "s"
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	require.NoError(t, pp.Provision(ctx))
	assert.Equal(t, "https://api-m.paypal.com/v1/notifications/verify-webhook-signature", pp.Endpoint("/v1/notifications/verify-webhook-signature", ""))
}

func TestPayPalCertURLs(t *testing.T) {
	for raw, ok := range map[string]bool{
		"https://api.paypal.com/v1/notifications/certs/CERT-360caa42-fca2a594-a5cafa77":         true,
		"https://api.sandbox.paypal.com/v1/notifications/certs/CERT-360caa42-fca2a594-a5cafa77": true,
		"https://messageverificationcerts.paypal.com/cert.pem":                                  true,
		"https://paypal.com/cert":                false,
		"https://API.PAYPAL.COM/v1/cert":         false, // PayPal writes it in lower case
		"https://api.paypal.com./v1/cert":        false,
		"https://api.paypal.com:443/v1/cert":     false,
		"https://api.paypal.com":                 false,
		"https://x.paypal.com.evil.example/cert": false,
		"https://xpaypal.com/cert":               false,
		"https://evil.example#.paypal.com/cert":  false,
		"https://evil.example\\.paypal.com/cert": false,
		"https://[::1]/cert":                     false,
		"ftp://api.paypal.com/cert":              false,
		"//api.paypal.com/cert":                  false,
	} {
		assert.Equal(t, ok, paypalCertURL(raw), raw)
	}
}

// TestPayPalSignHasTheFiveHeaders: caddy paynotify sign's notification
// carries the five headers and passes the checks made before PayPal is
// asked, but its signature is a placeholder, which PayPal's verify API
// (here the stand-in) refuses.
func TestPayPalSignHasTheFiveHeaders(t *testing.T) {
	api, cfg := paypalStandin(t)
	p, err := newVerifier("paypal", cfg)
	require.NoError(t, err)
	now := time.Now()
	signer := p.(Signer)
	n, err := signer.Sign(Draft{Fields: signer.Example("ORD-9", now), Path: "/n", Now: now})
	require.NoError(t, err)
	for _, h := range []string{"Paypal-Transmission-Id", "Paypal-Transmission-Time", "Paypal-Transmission-Sig", "Paypal-Auth-Algo", "Paypal-Cert-Url"} {
		assert.Len(t, n.Header.Values(h), 1, h)
	}
	r := &Request{Method: n.Method, Header: n.Header, Body: n.Body, ReceivedAt: now}
	stated, err := p.(Inquirer).Notice(r)
	require.NoError(t, err)
	assert.Equal(t, "ORD-9", stated[0].OrderID)
	_, err = p.Verify(context.Background(), r)
	require.ErrorIs(t, err, ErrSignature)
	assert.Equal(t, 1, api.Calls("paypal_verify"))
}

// TestPayPalGoldenSignaturesAreRSAOverTheCRC checks the golden signatures
// with the certificate directly, without the stand-in: the Python signer
// and the stand-in agree on the signed string.
func TestPayPalGoldenSignaturesAreRSAOverTheCRC(t *testing.T) {
	block, _ := pem.Decode(readTestdata(t, "paypal/golden_cert.pem"))
	cert, err := x509.ParseCertificate(block.Bytes)
	require.NoError(t, err)
	r := goldenRequest(t, "paypal/capture_completed")
	msg := fmt.Sprintf("%s|%s|%s|%d", r.Header.Get("Paypal-Transmission-Id"), r.Header.Get("Paypal-Transmission-Time"),
		paypalWebhookID, crc32.ChecksumIEEE(r.Body))
	sig, err := base64.StdEncoding.DecodeString(r.Header.Get("Paypal-Transmission-Sig"))
	require.NoError(t, err)
	digest := sha256.Sum256([]byte(msg))
	require.NoError(t, rsa.VerifyPKCS1v15(cert.PublicKey.(*rsa.PublicKey), crypto.SHA256, digest[:], sig))
}

func FuzzPayPalNotice(f *testing.F) {
	_, cfg := paypalStandin(f)
	v := mustNew(f, "paypal", cfg).(*PayPal)
	files, _ := filepath.Glob(filepath.Join("..", "testdata", "paypal", "*.http"))
	for _, file := range files {
		req := goldenRequest(f, filepath.Join("paypal", strings.TrimSuffix(filepath.Base(file), ".http")))
		f.Add(req.Header.Get("Paypal-Cert-Url"), req.Header.Get("Paypal-Transmission-Sig"), req.RawQuery, req.Body)
	}
	base := goldenRequest(f, "paypal/capture_completed")
	f.Fuzz(func(t *testing.T, certURL, sig, rawQuery string, body []byte) {
		r := &Request{Method: http.MethodPost, Header: base.Header.Clone(), RawQuery: rawQuery, Body: body, ReceivedAt: goldenReceivedAt}
		r.Header.Set("Paypal-Cert-Url", certURL)
		r.Header.Set("Paypal-Transmission-Sig", sig)
		events, err := v.Notice(r)
		if err != nil {
			if len(events) != 0 {
				t.Fatal("events with an error")
			}
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrSignature) && !errors.Is(err, ErrMethod) {
				t.Fatalf("untyped rejection: %v", err)
			}
			return
		}
		if !paypalCertURL(certURL) || !strings.HasPrefix(certURL, "https://") {
			t.Fatalf("certificate URL %q passed", certURL)
		}
		if len(events) != 1 || events[0].ID == "" {
			t.Fatal("accepted without an event id")
		}
	})
}

// BenchmarkPayPalVerify: Notice alone (what paynotify computes) and the
// whole inquiry against a loopback stand-in (HTTP round trip and the
// stand-in's RSA verification included).
func BenchmarkPayPalVerify(b *testing.B) {
	api, cfg := paypalStandin(b)
	v := mustNew(b, "paypal", cfg).(*PayPal)
	req := goldenRequest(b, "paypal/capture_completed")
	b.Run("paypal/notice", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(req.Body)))
		for b.Loop() {
			if events, err := v.Notice(req); err != nil || len(events) != 1 {
				b.Fatal(err)
			}
		}
	})
	b.Run("paypal/standin", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(req.Body)))
		for b.Loop() {
			if _, err := v.Verify(context.Background(), req); err != nil {
				b.Fatal(err)
			}
		}
	})
	_ = api
}

// BenchmarkPayPalCryptoFloor: what an offline check would cost, the CRC-32
// of the body and one RSA-2048 PKCS#1 v1.5 verification.
func BenchmarkPayPalCryptoFloor(b *testing.B) {
	block, _ := pem.Decode(readTestdata(b, "paypal/golden_cert.pem"))
	cert, err := x509.ParseCertificate(block.Bytes)
	require.NoError(b, err)
	pub := cert.PublicKey.(*rsa.PublicKey)
	r := goldenRequest(b, "paypal/capture_completed")
	sig, _ := base64.StdEncoding.DecodeString(r.Header.Get("Paypal-Transmission-Sig"))
	prefix := r.Header.Get("Paypal-Transmission-Id") + "|" + r.Header.Get("Paypal-Transmission-Time") + "|" + paypalWebhookID + "|"
	b.Run("paypal", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(r.Body)))
		for b.Loop() {
			digest := sha256.Sum256(fmt.Appendf(nil, "%s%d", prefix, crc32.ChecksumIEEE(r.Body)))
			if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestPayPalTransmissionTimeTolerance: a transmission whose time is further
// than tolerance (default 5m) from this clock, either way, is refused
// before PayPal is asked: its signature covers the body only through a
// CRC-32, so a captured transmission must not stay usable.
func TestPayPalTransmissionTimeTolerance(t *testing.T) {
	api, cfg := paypalStandin(t)
	v := mustNew(t, "paypal", cfg)
	for skew, want := range map[time.Duration]string{
		6 * time.Minute:  "PAYPAL-TRANSMISSION-TIME is 6m0s old, over the tolerance of 5m0s",
		-6 * time.Minute: "PAYPAL-TRANSMISSION-TIME is 6m0s in the future, over the tolerance of 5m0s",
		4 * time.Minute:  "",
		-4 * time.Minute: "",
	} {
		r := goldenRequest(t, "paypal/capture_completed")
		sent, err := time.Parse(time.RFC3339, r.Header.Get("Paypal-Transmission-Time"))
		require.NoError(t, err)
		r.ReceivedAt = sent.Add(skew)
		calls := api.Calls("paypal_verify")
		_, err = v.Verify(context.Background(), r)
		if want == "" {
			assert.NoError(t, err, skew)
			continue
		}
		assert.ErrorIs(t, err, ErrSignature, skew)
		assert.ErrorContains(t, err, want, skew)
		assert.Equal(t, calls, api.Calls("paypal_verify"), "a stale transmission was asked about")
	}
	r := goldenRequest(t, "paypal/capture_completed")
	r.Header.Set("Paypal-Transmission-Time", "30-04-2024T10:20:31Z")
	_, err := v.Verify(context.Background(), r)
	assert.ErrorContains(t, err, "PAYPAL-TRANSMISSION-TIME is not an RFC 3339 time")
}
