package caddymodule_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddytest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/paynotify/paynotify/internal/standin"
)

// startSeedInquiry runs oobit and octopus routes that ask a stand-in API
// (inquiry_timeout 1s), with a bolt dedup store. The oobit route allows
// 127.0.0.1, where the test's requests come from: an allowed source.
func startSeedInquiry(t *testing.T) (*caddytest.Tester, *upstream, *standin.API) {
	up := newUpstream(t)
	api := standin.New()
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	api.SetOobitMerchant(oobitHostileMerchant, oobitHostileKey)
	api.SetOctopusCredentials("octopus-test-key", "octopus-test-secret")
	tc := caddytest.NewTester(t)
	initServer(tc, globalOptions+strings.NewReplacer("UPSTREAM", strings.TrimPrefix(up.URL, "http://"),
		"API", srv.URL, "DB", filepath.Join(t.TempDir(), "dedup.db")).Replace(`
http://localhost:9080 {
	handle /notify/oobit {
		paynotify oobit {
			secret oobit-test-hash-key
			merchant_number 5722306
			inquire API/oobit/getStatus.asp
			inquiry_timeout 1s
			allow_ip 127.0.0.1
			store bolt DB
		}
		reverse_proxy UPSTREAM
	}
	handle /notify/octopus {
		paynotify octopus {
			secret octopus-test-secret
			key octopus-test-key
			inquire API/octopus/order/get
			inquiry_timeout 1s
			store bolt DB
		}
		reverse_proxy UPSTREAM
	}
}
`), "caddyfile")
	return tc, up, api
}

// deliveredEvent is the one event the app received.
func deliveredEvent(t *testing.T, got []received) map[string]any {
	t.Helper()
	require.Len(t, got, 1, "delivered once")
	var e map[string]any
	require.NoError(t, json.Unmarshal(got[0].Body, &e))
	return e
}

// TestOobitInquiryEndToEnd: a genuine notification is delivered once after
// one call; its duplicate is acknowledged without a call; the README's
// regrouped approval from an allowed source is refused; an API fault is a
// 503 with Retry-After and the retry after recovery is delivered once.
func TestOobitInquiryEndToEnd(t *testing.T) {
	tc, up, api := startSeedInquiry(t)
	api.AddOobitTransaction(standin.OobitTransaction{Order: "1000", TransID: "22924", ReplyCode: "051",
		ReplyDesc: "Do not honour (Oobit)", Amount: "9.99", Currency: "USD", Date: "11/02/2020 12:40:11"})

	r := send(t, tc, golden(t, "oobit/declined_numeric_order", "/notify/oobit"))
	assert.Equal(t, http.StatusOK, r.Status)
	assert.Equal(t, "OK", r.Body)
	e := deliveredEvent(t, up.take())
	assert.Equal(t, "failed", e["status"])
	assert.Equal(t, "Do not honour (Oobit)", e["reason"], "the API's reply description")
	assert.Equal(t, 1, api.Calls("oobit"))

	r = send(t, tc, golden(t, "oobit/declined_numeric_order", "/notify/oobit"))
	assert.Equal(t, "OK", r.Body)
	assert.Empty(t, up.take(), "a duplicate")
	assert.Equal(t, 1, api.Calls("oobit"), "a duplicate is acknowledged without a call")

	// The README's attack: the decline of order 1000 regrouped into an
	// approval of order 10 for 519.99, validly signed, from 127.0.0.1
	// (allowed).
	r = send(t, tc, golden(t, "oobit/regrouped_into_approval", "/notify/oobit"))
	assert.Equal(t, http.StatusUnauthorized, r.Status)
	assert.Empty(t, up.take(), "the regrouped approval reached the app")
	assert.Equal(t, 2, api.Calls("oobit"))

	// The API fails: 503 and Retry-After, nothing forwarded; then delivered
	// once.
	api.AddOobitTransaction(standin.OobitTransaction{Order: "ORD-2000", TransID: "4100", ReplyCode: "000",
		Amount: "12.00", Currency: "EUR"})
	approval := signedOobit("/notify/oobit", map[string]string{"trans_id": "4100", "trans_order": "ORD-2000",
		"reply_code": "000", "trans_amount": "12.00", "trans_currency": "EUR"})
	for _, fault := range []standin.Fault{standin.ServerError, standin.ErrorCode, standin.Slow, standin.Garbage} {
		api.SetSlowFor(3e9)
		api.SetFault(fault)
		r = send(t, tc, approval(t))
		assert.Equal(t, http.StatusServiceUnavailable, r.Status, fault.String())
		assert.NotEmpty(t, r.Header.Get("Retry-After"), fault.String())
		assert.Empty(t, up.take(), fault.String())
	}
	api.SetFault(standin.None)
	calls := api.Calls("oobit")
	r = send(t, tc, approval(t))
	assert.Equal(t, "OK", r.Body)
	assert.Equal(t, "succeeded", deliveredEvent(t, up.take())["status"])
	r = send(t, tc, approval(t))
	assert.Equal(t, "OK", r.Body)
	assert.Empty(t, up.take())
	assert.Equal(t, calls+1, api.Calls("oobit"), "one call for the retry, none for its duplicate")
}

// TestOobitInquiryForgedCopyFirst: dedup poisoning. A regrouped copy sent
// before the genuine notification is refused and leaves nothing behind:
// the genuine one is delivered. A copy with the genuine signed values and
// forged unsigned ones (reply_desc, trans_date) is the genuine event: it
// is delivered with what getStatus.asp says, and the genuine notification
// is its duplicate.
func TestOobitInquiryForgedCopyFirst(t *testing.T) {
	tc, up, api := startSeedInquiry(t)
	api.AddOobitTransaction(standin.OobitTransaction{Order: "1000", TransID: "22924", ReplyCode: "051",
		ReplyDesc: "Do not honour (Oobit)", Amount: "9.99", Currency: "USD", Date: "11/02/2020 12:40:11"})

	assert.Equal(t, http.StatusUnauthorized, send(t, tc, golden(t, "oobit/regrouped_into_approval", "/notify/oobit")).Status)
	assert.Empty(t, up.take())
	assert.Equal(t, "OK", send(t, tc, golden(t, "oobit/declined_numeric_order", "/notify/oobit")).Body)
	assert.Equal(t, "failed", deliveredEvent(t, up.take())["status"], "the genuine decline after its regrouped copy")

	// Another decline; its copy with forged unsigned fields comes first.
	api.AddOobitTransaction(standin.OobitTransaction{Order: "1001", TransID: "22925", ReplyCode: "051",
		ReplyDesc: "Do not honour (Oobit)", Amount: "9.99", Currency: "USD", Date: "12/02/2020 08:00:00"})
	fields := map[string]string{"trans_id": "22925", "trans_order": "1001", "reply_code": "051",
		"trans_amount": "9.99", "trans_currency": "USD", "reply_desc": "Approved, ship it", "trans_date": "01/01/2030 00:00:00"}
	assert.Equal(t, "OK", send(t, tc, signedOobit("/notify/oobit", fields)(t)).Body)
	e := deliveredEvent(t, up.take())
	assert.Equal(t, "Do not honour (Oobit)", e["reason"], "not the forged reply_desc")
	assert.Equal(t, "2020-02-12T08:00:00Z", e["occurred_at"], "not the forged trans_date")
	fields["reply_desc"], fields["trans_date"] = "Do not honour", "12/02/2020 08:00:00"
	assert.Equal(t, "OK", send(t, tc, signedOobit("/notify/oobit", fields)(t)).Body)
	assert.Empty(t, up.take(), "the genuine notification is the same event")
}
