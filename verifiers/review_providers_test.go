package verifiers

// Adversarial review of the inquiry providers mollie, paypal_ipn and
// paypal. Each test states what the contract asks and fails while the
// defect is there.

import (
	"hash/crc32"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestReviewPayPalV1NegativeTotalIsForwarded: PayPal's v1 sale refund and
// reversal events carry a negative amount.total ("-0.01"), as PayPal sends
// them (captured PAYMENT.SALE.REFUNDED and PAYMENT.SALE.REVERSED deliveries).
// The contract forwards every unmapped event_type as unknown; paynotify
// refuses these genuine events with 400 before PayPal is asked, on every
// one of PayPal's 25 retries. (paypal_ipn trims the sign of a refund's
// mc_gross; paypal does not.)
func TestReviewPayPalV1NegativeTotalIsForwarded(t *testing.T) {
	api, cfg := paypalStandin(t)
	v := mustNew(t, "paypal", cfg)
	for _, tc := range []struct{ typ, total string }{
		{"PAYMENT.SALE.REFUNDED", "-0.01"},
		{"PAYMENT.SALE.REVERSED", "-0.49"},
	} {
		body := `{"id":"WH-2N242548W9943490U-1JU23391CS4765624","event_version":"1.0","create_time":"2014-10-31T15:42:24Z",` +
			`"resource_type":"sale","event_type":"` + tc.typ + `","summary":"A 0.01 USD sale payment was refunded",` +
			`"resource":{"id":"6YX43824R4443062K","state":"completed","amount":{"total":"` + tc.total + `","currency":"USD"},` +
			`"sale_id":"9T0916710M1105906","parent_payment":"PAY-5437236047802405NKRJ22UA"}}`
		events, err := v.Verify(t.Context(), paypalSigned(api, paypalWebhookID, body))
		require.NoError(t, err, "%s: a genuine event PayPal signed is refused", tc.typ)
		require.Len(t, events, 1)
		assert.Equal(t, StatusUnknown, events[0].Status, tc.typ)
		assert.Equal(t, strings.TrimPrefix(tc.total, "-"), events[0].Amount, tc.typ)
	}
}

// forceCRC32 returns body with the run of 64 'a' in it rewritten (each
// byte 'a' or 'c') so that its CRC-32 is want. CRC-32 is affine over
// GF(2): flipping bit 1 of byte i changes the CRC by a fixed delta_i, so
// the bytes to flip are a solution of a 32-row linear system.
func forceCRC32(t *testing.T, body string, want uint32) string {
	t.Helper()
	const n = 64
	at := strings.Index(body, strings.Repeat("a", n))
	require.GreaterOrEqual(t, at, 0)
	base := crc32.ChecksumIEEE([]byte(body))
	type row struct {
		delta uint32
		flips uint64 // which bytes make up delta
	}
	var basis [32]*row // by leading bit
	for i := range n {
		b := []byte(body)
		b[at+i] = 'c'
		r := &row{delta: crc32.ChecksumIEEE(b) ^ base, flips: 1 << i}
		for bit := 31; bit >= 0 && r.delta != 0; bit-- {
			if r.delta&(1<<bit) == 0 {
				continue
			}
			if basis[bit] == nil {
				basis[bit] = r
				break
			}
			r.delta ^= basis[bit].delta
			r.flips ^= basis[bit].flips
		}
	}
	need, flips := base^want, uint64(0)
	for bit := 31; bit >= 0; bit-- {
		if need&(1<<bit) == 0 {
			continue
		}
		require.NotNil(t, basis[bit], "the flips do not span every CRC bit")
		need ^= basis[bit].delta
		flips ^= basis[bit].flips
	}
	b := []byte(body)
	for i := range n {
		if flips&(1<<i) != 0 {
			b[at+i] = 'c'
		}
	}
	require.Equal(t, want, crc32.ChecksumIEEE(b))
	return string(b)
}

// TestReviewPayPalCRC32ForgeryFromOneTransmission: PayPal's signature covers
// the event only through its CRC-32, which is not a cryptographic hash.
// Whoever holds one genuine transmission of this webhook (the five
// headers and its body: an app log, a proxy, an APM trace, a misrouted
// delivery) can write any other event with the same CRC-32 and send it
// with the same headers: PayPal's verify API, which checks the signature
// over transmission_id|transmission_time|webhook_id|crc32 (the stand-in,
// modelled on PayPal-Java-SDK), answers SUCCESS, and paynotify delivers an
// event PayPal never sent: a new id (so no dedup), another order, another
// amount. Nothing binds a transmission to one event (its id is not
// remembered) or bounds its age (transmission time not checked).
func TestReviewPayPalCRC32ForgeryFromOneTransmission(t *testing.T) {
	api, cfg := paypalStandin(t)
	v := mustNew(t, "paypal", cfg)
	genuineBody := paypalBody("WH-GENUINE-0001")
	genuine := paypalSigned(api, paypalWebhookID, genuineBody)
	_, err := v.Verify(t.Context(), genuine)
	require.NoError(t, err, "the genuine transmission verifies")

	forged := `{"id":"WH-FORGED-0002","event_type":"PAYMENT.CAPTURE.COMPLETED","create_time":"2024-05-01T10:20:29Z",` +
		`"summary":"` + strings.Repeat("a", 64) + `",` +
		`"resource":{"id":"CAP2","invoice_id":"ORD-VICTIM-99","amount":{"value":"5000.00","currency_code":"USD"}}}`
	forged = forceCRC32(t, forged, crc32.ChecksumIEEE([]byte(genuineBody)))
	r := &Request{Method: http.MethodPost, Header: genuine.Header.Clone(), Body: []byte(forged),
		ClientIP: goldenClientIP, ReceivedAt: time.Now()}
	events, err := v.Verify(t.Context(), r)
	if err == nil {
		require.Len(t, events, 1)
		t.Errorf("forged event delivered with a replayed transmission: id %s, order %s, amount %s %s",
			events[0].ID, events[0].OrderID, events[0].Amount, events[0].Currency)
	}
	assert.ErrorIs(t, err, ErrSignature)
}

// newCaseIPN is a PayPal dispute notification (txn_type new_case): it
// names the disputed payment's txn_id and has no payment_status.
func newCaseIPN(caseID, caseType string) *Request {
	f := url.Values{}
	for k, v := range map[string]string{
		"txn_type": "new_case", "case_id": caseID, "case_type": caseType, "reason_code": "non_receipt",
		"case_creation_date": "22:24:05 Jan 23, 2024 PST", "txn_id": "7XB10312HX1779514", "invoice": "ORD-77",
		"receiver_email": ipnReceiver, "receiver_id": ipnReceiverID, "payer_email": "payer@example.com",
		"charset": "windows-1252", "notify_version": "3.9", "ipn_track_id": "track" + caseID,
		"payment_date": "15:05:34 Jan 16, 2024 PST",
	} {
		f.Set(k, v)
	}
	return &Request{Method: http.MethodPost, Header: http.Header{"Content-Type": {FormType}}, Body: []byte(f.Encode()),
		ClientIP: netip.MustParseAddr("203.0.113.9"), ReceivedAt: time.Now()}
}

// TestReviewPayPalIPNCasesOfOnePaymentAreDistinctEvents: the event id is a
// hash of txn_id + payment_status. Dispute IPNs (txn_type new_case) carry
// the disputed payment's txn_id and no payment_status, so every case
// opened on one payment (a complaint, then a chargeback: two case_ids, two
// IPNs PayPal sends) has the same id, and the handler acknowledges the
// second as a duplicate without delivering it.
func TestReviewPayPalIPNCasesOfOnePaymentAreDistinctEvents(t *testing.T) {
	_, config := newIPNAPI(t)
	v := mustNew(t, "paypal_ipn", config).(Inquirer)
	complaint, err := v.Notice(newCaseIPN("PP-D-1001", "complaint"))
	require.NoError(t, err)
	chargeback, err := v.Notice(newCaseIPN("PP-D-1002", "chargeback"))
	require.NoError(t, err)
	require.Len(t, complaint, 1)
	require.Len(t, chargeback, 1)
	assert.NotEqual(t, complaint[0].ID, chargeback[0].ID,
		"two different dispute cases of one payment get one event id: the second is ACKed as a duplicate, never delivered")
}

// TestReviewPayPalIPNReceiverEmailIsNotUnicodeFolded: receiver_email is
// compared with strings.EqualFold, which folds U+017F (long s) to s and
// U+212A (Kelvin sign) to k. An IPN PayPal genuinely sent to another
// account whose address differs from the merchant's only by such a
// letter passes the receiver check (and PayPal answers VERIFIED: it did
// send it). Email addresses are compared ignoring ASCII case only.
func TestReviewPayPalIPNReceiverEmailIsNotUnicodeFolded(t *testing.T) {
	_, config := newIPNAPI(t)
	v := mustNew(t, "paypal_ipn", config.with("receivers", []string{"merchant@shop.example", "sales@kiosk.example"})).(Inquirer)
	for _, lookalike := range []string{"merchant@\u017fhop.example", "sales@\u212aiosk.example"} {
		f := url.Values{"txn_type": {"web_accept"}, "payment_status": {"Completed"}, "txn_id": {"1AB23456CD7890123"},
			"mc_gross": {"10.00"}, "mc_currency": {"USD"}, "invoice": {"ORD-1"}, "charset": {"UTF-8"},
			"receiver_email": {lookalike}, "receiver_id": {"ATTACKER01"}}
		r := &Request{Method: http.MethodPost, Header: http.Header{"Content-Type": {FormType}}, Body: []byte(f.Encode()),
			ClientIP: netip.MustParseAddr("203.0.113.9"), ReceivedAt: time.Now()}
		_, err := v.Notice(r)
		assert.ErrorIs(t, err, ErrForbidden, "receiver_email %q is taken for a configured receiver", lookalike)
	}
}
