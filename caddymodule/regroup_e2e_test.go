package caddymodule_test

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddytest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// startRegroupCaddy runs the hostile catalogue's routes with the default
// bolt dedup store.
func startRegroupCaddy(t *testing.T) (*caddytest.Tester, *upstream) {
	up := newUpstream(t)
	tc := caddytest.NewTester(t)
	initServer(tc, hostileCaddyfile(strings.TrimPrefix(up.URL, "http://"),
		"store bolt "+filepath.Join(t.TempDir(), "dedup.db"), startHostileAPI(t)), "caddyfile")
	return tc, up
}

// statuses are the statuses of the events the app received.
func statuses(t *testing.T, got []received) []string {
	t.Helper()
	var out []string
	for _, r := range got {
		var e struct {
			Status string `json:"status"`
		}
		require.NoError(t, json.Unmarshal(r.Body, &e), string(r.Body))
		out = append(out, e.Status)
	}
	return out
}

// TestRegroupedOctopusCopyFirstDoesNotSuppressTheGenuine: a copy of a
// genuine completed callback whose payment_status swallowed the pair after
// it signs like the genuine. It used to be delivered as unknown under the
// genuine id, and the genuine callback, arriving next, was acknowledged as
// its duplicate: the app never learnt the payment completed.
func TestRegroupedOctopusCopyFirstDoesNotSuppressTheGenuine(t *testing.T) {
	tc, up := startRegroupCaddy(t)
	genuine := withField(octopusValid, "payment_uid", "PUID-1")
	regrouped := withField(without(genuine, "payment_uid"), "payment_status", "completed&payment_uid=PUID-1")

	r := send(t, tc, signedOctopus(regrouped)(t))
	assert.NotEqual(t, "success", r.Body, "the regrouped copy")
	first := statuses(t, up.take())

	r = send(t, tc, signedOctopus(genuine)(t))
	assert.Equal(t, http.StatusOK, r.Status)
	assert.Equal(t, "success", r.Body)
	assert.Equal(t, []string{"succeeded"}, statuses(t, up.take()), "the genuine callback after its regrouped copy (which gave %v)", first)

	// A copy regrouped without changing what the event says (tenant carries
	// transaction_type) is the same event: delivered once, whichever first.
	genuine = withField(withField(octopusValid, "tenant", "ph-2"), "transaction_type", "income")
	regrouped = withField(without(genuine, "transaction_type"), "tenant", "ph-2&transaction_type=income")
	assert.Equal(t, "success", send(t, tc, signedOctopus(regrouped)(t)).Body)
	assert.Equal(t, []string{"succeeded"}, statuses(t, up.take()))
	assert.Equal(t, "success", send(t, tc, signedOctopus(genuine)(t)).Body)
	assert.Empty(t, up.take(), "the same event twice")
}

// TestRegroupedOcto3RefundIsNeverAPayment: a genuine accepted REFUND whose
// first letters were moved into acq_response_code (same secure_hash) was a
// new succeeded event for the full amount. Sent before and after the
// genuine refund, no succeeded event may reach the app.
func TestRegroupedOcto3RefundIsNeverAPayment(t *testing.T) {
	tc, up := startRegroupCaddy(t)
	var got []string
	// acq_response_code=00REF action=UND: refused.
	r := send(t, tc, golden(t, "octo3/refund_regrouped", "/octo3"))
	assert.Equal(t, http.StatusBadRequest, r.Status)
	got = append(got, statuses(t, up.take())...)
	// acq_response_code=0RE action=FUND: an unknown action, never a payment.
	assert.Equal(t, "ACK", send(t, tc, golden(t, "octo3/refund_regrouped_short", "/octo3")).Body)
	got = append(got, statuses(t, up.take())...)
	assert.Equal(t, "ACK", send(t, tc, golden(t, "octo3/refund", "/octo3")).Body)
	got = append(got, statuses(t, up.take())...)
	assert.Equal(t, []string{"unknown", "refunded"}, got)
}
