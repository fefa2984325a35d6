package caddymodule_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/paynotify/paynotify/internal/standin"
)

// octopusTo is signedOctopus sent to path.
func octopusTo(path string, fields map[string]string) func(t *testing.T) *http.Request {
	return func(t *testing.T) *http.Request {
		req := signedOctopus(fields)(t)
		req.URL.Path = path
		return req
	}
}

// TestOctopusInquiryEndToEnd: genuine → delivered once after one call; its
// duplicate, and a copy regrouped in fields the event is not made of, are
// acknowledged without a call; a regrouped copy that changes the event is
// refused by the local check without a call (defence in depth); an API
// fault is a 503 with Retry-After, and the retry is delivered once.
func TestOctopusInquiryEndToEnd(t *testing.T) {
	tc, up, api := startSeedInquiry(t)
	api.AddOctopusOrder(map[string]any{"merchant_order_id": "ORD-E1", "payment_status": "completed",
		"currency": "php", "final_amount": "99.5", "payment": "gcash"})
	genuine := withField(withField(withField(octopusValid, "merchant_order_id", "ORD-E1"), "tenant", "ph-2"),
		"transaction_type", "income")

	r := send(t, tc, octopusTo("/notify/octopus", genuine)(t))
	assert.Equal(t, http.StatusOK, r.Status)
	assert.Equal(t, "success", r.Body)
	e := deliveredEvent(t, up.take())
	assert.Equal(t, "succeeded", e["status"])
	assert.Equal(t, "99.50", e["amount"])
	assert.Equal(t, 1, api.Calls("octopus"))

	assert.Equal(t, "success", send(t, tc, octopusTo("/notify/octopus", genuine)(t)).Body)
	assert.Empty(t, up.take(), "a duplicate")
	regrouped := withField(without(genuine, "transaction_type"), "tenant", "ph-2&transaction_type=income")
	assert.Equal(t, "success", send(t, tc, octopusTo("/notify/octopus", regrouped)(t)).Body)
	assert.Empty(t, up.take(), "a copy regrouped in other fields is the same event")
	assert.Equal(t, 1, api.Calls("octopus"), "duplicates are acknowledged without a call")

	swallowing := withField(without(genuine, "payment_uid"), "payment_status", "completed&payment_uid=PUID-1")
	assert.Equal(t, http.StatusBadRequest, send(t, tc, octopusTo("/notify/octopus", swallowing)(t)).Status)
	assert.Empty(t, up.take())
	assert.Equal(t, 1, api.Calls("octopus"), "refused locally, without a call")

	api.AddOctopusOrder(map[string]any{"merchant_order_id": "ORD-E2", "payment_status": "refund",
		"currency": "php", "final_amount": "99.50"})
	refund := withField(withField(octopusValid, "merchant_order_id", "ORD-E2"), "payment_status", "refund")
	for _, fault := range []standin.Fault{standin.ServerError, standin.ErrorCode, standin.Drop, standin.Huge} {
		api.SetFault(fault)
		r = send(t, tc, octopusTo("/notify/octopus", refund)(t))
		assert.Equal(t, http.StatusServiceUnavailable, r.Status, fault.String())
		assert.NotEmpty(t, r.Header.Get("Retry-After"), fault.String())
		assert.Empty(t, up.take(), fault.String())
	}
	api.SetFault(standin.None)
	calls := api.Calls("octopus")
	assert.Equal(t, "success", send(t, tc, octopusTo("/notify/octopus", refund)(t)).Body)
	assert.Equal(t, "refunded", deliveredEvent(t, up.take())["status"])
	assert.Equal(t, "success", send(t, tc, octopusTo("/notify/octopus", refund)(t)).Body)
	assert.Empty(t, up.take())
	assert.Equal(t, calls+1, api.Calls("octopus"), "one call for the retry, none for its duplicate")
}

// TestOctopusInquiryForgedFirst: a validly signed callback that the
// gateway contradicts (a leaked secret, or a callback regrouped in a way
// the local check does not know) arrives before the genuine one: refused,
// and the genuine callback is delivered, then acknowledged as a duplicate.
func TestOctopusInquiryForgedFirst(t *testing.T) {
	tc, up, api := startSeedInquiry(t)
	api.AddOctopusOrder(map[string]any{"merchant_order_id": "ORD-F1", "payment_status": "failed",
		"currency": "php", "final_amount": "99.50"})
	forged := withField(octopusValid, "merchant_order_id", "ORD-F1") // says completed
	genuine := withField(withField(forged, "payment_status", "failed"), "payment_fail_reason", "declined")

	r := send(t, tc, octopusTo("/notify/octopus", forged)(t))
	assert.Equal(t, http.StatusUnauthorized, r.Status)
	assert.Empty(t, up.take())
	assert.Equal(t, "success", send(t, tc, octopusTo("/notify/octopus", genuine)(t)).Body)
	assert.Equal(t, "failed", deliveredEvent(t, up.take())["status"])
	assert.Equal(t, "success", send(t, tc, octopusTo("/notify/octopus", genuine)(t)).Body)
	assert.Empty(t, up.take())
	assert.Equal(t, 2, api.Calls("octopus"))
	r = send(t, tc, octopusTo("/notify/octopus", forged)(t))
	assert.Equal(t, http.StatusUnauthorized, r.Status, "the forgery, again after the genuine")
	assert.Empty(t, up.take())
}
