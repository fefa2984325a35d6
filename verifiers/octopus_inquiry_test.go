package verifiers

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/paynotify/paynotify/internal/standin"
)

// octopusGoldenOrder is what order/get answers for the golden completed
// callback (order 123qq).
func octopusGoldenOrder() map[string]any {
	return map[string]any{
		"merchant_order_id": "123qq", "merchant_uid": "MUID-7781", "payment_status": "completed",
		"currency": "php", "amount": "100.00", "final_amount": "99.5", "payment": "gcash-api",
		"payment_uid": "PUID-88231", "transaction_type": "income", "signature_key": "sk_live_9f8e7d6c",
	}
}

// octopusInquiring is octopus with inquire pointed at a fresh stand-in
// that knows the golden order.
func octopusInquiring(t *testing.T, extra map[string]any) (Verifier, *standin.API) {
	t.Helper()
	api := standin.New()
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	api.SetOctopusCredentials("octopus-test-key", "octopus-test-secret")
	api.AddOctopusOrder(octopusGoldenOrder())
	o := octopusConfig.with("inquire", srv.URL+"/octopus/order/get")
	for k, val := range extra {
		o = o.with(k, val)
	}
	return mustNew(t, "octopus", o), api
}

func TestOctopusInquiryConfirmsTheGenuine(t *testing.T) {
	v, api := octopusInquiring(t, nil)
	plain := verifyGolden(t, mustNew(t, "octopus", octopusConfig), "octopus/completed")
	e := verifyGolden(t, v, "octopus/completed")
	assert.Equal(t, 1, api.Calls("octopus"))
	assert.Equal(t, plain.ID, e.ID, "the same id as without inquiry")
	assert.Equal(t, "pn_da346e0074d658b805bfa11d591f3d49", e.ID, "completed.event.json's")
	assert.Equal(t, StatusSucceeded, e.Status)
	assert.Equal(t, "99.50", e.Amount, "99.50 and the API's 99.5 agree as decimals")
	assert.Equal(t, "PHP", e.Currency)
	assert.Equal(t, "gcash-api", e.PaymentMethod, "from the answer")
	assert.NotContains(t, string(e.Raw), "sk_live", "raw is the callback's, redacted")
}

// TestOctopusInquiryAnswerAtTheTopLevel: the order object without the
// result/data envelope is read too; the request carries the documented
// credentials.
func TestOctopusInquiryAnswerAtTheTopLevel(t *testing.T) {
	var got struct {
		key, sig, contentType string
		body                  []byte
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.key, got.sig, got.contentType = r.Header.Get("OC-Key"), r.Header.Get("OC-Signature"), r.Header.Get("Content-Type")
		got.body, _ = io.ReadAll(r.Body)
		_ = json.NewEncoder(w).Encode(octopusGoldenOrder())
	}))
	defer srv.Close()
	v := mustNew(t, "octopus", octopusConfig.with("inquire", srv.URL+"/octopus/api/order/get"))
	e := verifyGolden(t, v, "octopus/completed")
	assert.Equal(t, StatusSucceeded, e.Status)
	assert.Equal(t, "octopus-test-key", got.key)
	assert.Equal(t, octopusTestOrderGetSignature, got.sig)
	assert.Equal(t, "application/json", got.contentType)
	assert.JSONEq(t, `{"merchant_order_id":"123qq"}`, string(got.body))
}

func TestOctopusInquiryDisagreementNamesTheField(t *testing.T) {
	for change, want := range map[string]string{
		`{"payment_status":"failed"}`:                                         `the API's payment_status is "failed", the callback says "completed"`,
		`{"currency":"usd"}`:                                                  `the API's currency is "usd", the callback says "php"`,
		`{"final_amount":"9.95"}`:                                             `the API's final_amount is "9.95", the callback's final_amount is "99.50"`,
		`{"final_amount":null,"amount":"99.50"}`:                              "", // no final_amount in the answer: its amount agrees
		`{"final_amount":"","amount":"100.00"}`:                               `the API's amount is "100.00", the callback's final_amount is "99.50"`,
		`{"payment_status":"completed","final_amount":99.5,"currency":"PHP"}`: "",
	} {
		v, api := octopusInquiring(t, nil)
		order := octopusGoldenOrder()
		require.NoError(t, json.Unmarshal([]byte(change), &order))
		api.AddOctopusOrder(order)
		_, err := v.Verify(context.Background(), goldenRequest(t, "octopus/completed"))
		if want == "" {
			assert.NoError(t, err, change)
			continue
		}
		require.ErrorIs(t, err, ErrSignature, change)
		assert.Contains(t, err.Error(), want)
	}
}

// TestOctopusInquiryRefusesARegroupedCallback: a copy of the genuine
// failed callback whose currency swallowed the pairs after it changes the
// amount; the local check refuses it (400) before any call, and a copy
// that passes the local checks but says another status than the gateway
// (a forgery that got a signature for another order state) is refused 401.
func TestOctopusInquiryRefusesARegroupedCallback(t *testing.T) {
	v, api := octopusInquiring(t, nil)
	_, err := v.Verify(context.Background(), goldenRequest(t, "octopus/currency_swallows_amount"))
	assert.ErrorIs(t, err, ErrMalformed, "defence in depth: refused without a call")
	assert.Equal(t, 0, api.Calls("octopus"))

	// A validly signed callback whose meaning the gateway contradicts.
	f := octopusCallback(map[string]string{"payment_status": `"completed"`})
	api.AddOctopusOrder(map[string]any{"merchant_order_id": "123qq", "payment_status": "failed", "currency": "php",
		"final_amount": "99.50"})
	_, err = v.Verify(context.Background(), octopusRequest(t, f))
	require.ErrorIs(t, err, ErrSignature)
	assert.Contains(t, err.Error(), "payment_status")
}

func TestOctopusInquiryFaults(t *testing.T) {
	for fault, want := range map[standin.Fault]string{
		standin.ServerError: "answered 500",
		standin.Garbage:     "unreadable",
		standin.ErrorCode:   `answered an error ("An error occurred processing your request")`,
		standin.Unknown:     `answered an error ("order not found")`,
		standin.Huge:        "over 1048576 bytes",
		standin.Redirect:    "redirect to another host",
		standin.Drop:        "calling 127.0.0.1",
		standin.Slow:        "did not answer within inquiry_timeout 200ms",
	} {
		t.Run(fault.String(), func(t *testing.T) {
			v, api := octopusInquiring(t, map[string]any{"inquiry_timeout": "200ms"})
			api.SetSlowFor(time.Second)
			api.SetFault(fault)
			_, err := v.Verify(context.Background(), goldenRequest(t, "octopus/completed"))
			require.ErrorIs(t, err, ErrInquiry)
			assert.False(t, errors.Is(err, ErrSignature))
			assert.Contains(t, err.Error(), want)
			octopusNoSecretIn(t, err)
		})
	}
	v, api := octopusInquiring(t, nil)
	api.SetFault(standin.Lie)
	_, err := v.Verify(context.Background(), goldenRequest(t, "octopus/completed"))
	require.ErrorIs(t, err, ErrSignature)
	assert.Contains(t, err.Error(), `the API's payment_status is "failed"`)

	// An order the stand-in does not know gets the not-found error: a
	// failed inquiry (see Octopus.Inquire).
	v, _ = octopusInquiring(t, nil)
	_, err = v.Verify(context.Background(), octopusRequest(t, octopusCallback(map[string]string{"merchant_order_id": `"nope"`})))
	assert.ErrorIs(t, err, ErrInquiry)
}

// octopusTestOrderGetSignature is the hex HMAC-SHA256 of
// "merchant_order_id=123qq" keyed with octopus-test-secret, computed with
// Python's hmac module.
const octopusTestOrderGetSignature = "eb587209bc7f05a7a4e16036aa1f9c55f11ef375f37a4be9b682aa2032b932b3"

func octopusNoSecretIn(t *testing.T, err error) {
	t.Helper()
	for _, secret := range []string{"octopus-test-secret", "octopus-test-key", octopusTestOrderGetSignature} {
		assert.NotContains(t, err.Error(), secret)
	}
}

// TestOctopusInquiryAnswers: how order/get's answers are read.
func TestOctopusInquiryAnswers(t *testing.T) {
	for answer, want := range map[string]error{
		`{"result":"success","data":null}`:                           ErrSignature, // no such order
		`{"result":"success","data":{"merchant_order_id":"other"}}`:  ErrInquiry,   // another order
		`{"result":"success","data":{"payment_status":"completed"}}`: ErrInquiry,   // no merchant_order_id
		`{"result":"success","data":"ok"}`:                           ErrInquiry,
		`{"result":"success"}`:                                       ErrInquiry,
		`{"result":"maybe","data":{}}`:                               ErrInquiry,
		`{"result":"error","data":{"error":"Invalid parameters"}}`:   ErrInquiry,
		`{"result":"success","result":"success","data":{}}`:          ErrInquiry, // a duplicated key
		`[]`: ErrInquiry,
		`{"result":"success","data":{"merchant_order_id":"123qq","payment_status":"completed","currency":"php","final_amount":"99,50"}}`: ErrInquiry,
		`{"result":"success","data":{"merchant_order_id":"123qq","currency":"php","final_amount":"99.50"}}`:                              ErrInquiry,
		`{"result":"success","data":{"merchant_order_id":"123qq","payment_status":"completed","currency":"php"}}`:                        ErrInquiry,
		`{"result":"success","data":{"merchant_order_id":"123qq","payment_status":"completed","currency":"php","final_amount":"99.50"}}`: nil,
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, answer)
		}))
		v := mustNew(t, "octopus", octopusConfig.with("inquire", srv.URL+"/order/get"))
		_, err := v.Verify(context.Background(), goldenRequest(t, "octopus/completed"))
		srv.Close()
		if want == nil {
			assert.NoError(t, err, answer)
		} else {
			assert.ErrorIs(t, err, want, answer)
		}
	}
}

func TestOctopusInquiryCredentials(t *testing.T) {
	v, api := octopusInquiring(t, nil)
	api.SetOctopusCredentials("octopus-test-key", "another-secret")
	_, err := v.Verify(context.Background(), goldenRequest(t, "octopus/completed"))
	require.ErrorIs(t, err, ErrInquiry)
	assert.Contains(t, err.Error(), "answered 401: check the API credentials")
	octopusNoSecretIn(t, err)
	api.SetOctopusCredentials("another-key", "octopus-test-secret")
	_, err = v.Verify(context.Background(), goldenRequest(t, "octopus/completed"))
	require.ErrorIs(t, err, ErrInquiry)
}

func TestOctopusInquiryOptions(t *testing.T) {
	plain := mustNew(t, "octopus", octopusConfig).(*Octopus)
	assert.False(t, plain.Inquires())

	var oe *OptionError
	_, err := newVerifier("octopus", options{Secrets: []string{"s"}}.with("inquire", "https://gw.example/octopus/api/order/get"))
	require.ErrorAs(t, err, &oe)
	assert.Equal(t, "key", oe.Option)

	_, err = newVerifier("octopus", octopusConfig.with("inquiry_timeout", "5s"))
	require.ErrorAs(t, err, &oe)
	assert.Equal(t, "inquiry_timeout", oe.Option, "no default URL: inquiry_timeout needs inquire")

	_, err = newVerifier("octopus", octopusConfig.with("inquire", "https://gw.example/octopus/api/order/get").with("inquiry_timeout", "31s"))
	require.ErrorAs(t, err, &oe)
	assert.Equal(t, "inquiry_timeout", oe.Option)

	p, err := newVerifier("octopus", octopusConfig.with("inquire", "https://gw.example/octopus/api/order/get"))
	require.NoError(t, err)
	assert.True(t, p.(*Octopus).Inquires())
	_, why := p.(*Octopus).SourceCheck()
	assert.Contains(t, why, "order/get confirms")
}

func init() {
	completeOptions["octopus"] = "key octopus-complete-key\ninquire INQUIRE/octopus/order/get"
	completeStandin["octopus"] = func(api *standin.API, n Notification, fields map[string]any) {
		api.SetOctopusCredentials("octopus-complete-key", "test-secret")
		order := map[string]any{}
		for k, val := range fields {
			if num, ok := val.(json.Number); ok {
				val = num.String()
			}
			order[k] = val
		}
		api.AddOctopusOrder(order)
	}
}
