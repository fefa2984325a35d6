package verifiers

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/caddyserver/caddy/v2"
	"golang.org/x/text/encoding/htmlindex"
)

func init() {
	caddy.RegisterModule(PayPalIPN{})
}

// paypalIPNPostback is the default inquire URL: PayPal's live IPN postback
// (the sandbox's is https://ipnpb.sandbox.paypal.com/cgi-bin/webscr).
const paypalIPNPostback = "https://ipnpb.paypal.com/cgi-bin/webscr"

// PayPalIPN verifies PayPal's classic Instant Payment Notifications: a form
// POST without any signature. It is confirmed by posting it back to PayPal,
// byte for byte after cmd=_notify-validate&, which answers VERIFIED only
// for a notification PayPal sent (verify by inquiry); and it must be
// addressed to one of the configured receivers.
type PayPalIPN struct {
	Inquiry
	// Receivers are the merchant's PayPal account: its primary email
	// (receiver_email, compared ignoring case) or its merchant account id
	// (receiver_id, compared exactly). An IPN for another account is
	// refused with 403.
	Receivers []string `json:"receivers,omitempty"`

	receivers []string
}

// CaddyModule returns the Caddy module information.
func (PayPalIPN) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: Namespace + ".paypal_ipn", New: func() caddy.Module { return new(PayPalIPN) }}
}

// Options implements Provider.
func (v *PayPalIPN) Options() []Option {
	return append([]Option{ListOption("receiver", "<email-or-id> [<email-or-id>...]",
		"the merchant's PayPal account: its primary email (receiver_email) or merchant account id (receiver_id); an IPN for another account is refused; {env.*} and {file.*} work",
		&v.Receivers)}, v.Inquiry.Options("PayPal's IPN postback URL (default "+paypalIPNPostback+")")...)
}

// CheckConfig implements Provider.
func (v *PayPalIPN) CheckConfig() error {
	if len(v.Receivers) == 0 {
		return &OptionError{Option: "receiver", Msg: `required for provider "paypal_ipn" (the merchant's PayPal email or merchant account id)`}
	}
	for _, r := range v.Receivers {
		if r == "" {
			return &OptionError{Option: "receiver", Msg: "empty (is the {env.*} or {file.*} placeholder set?)"}
		}
	}
	return v.Inquiry.CheckConfig(paypalIPNPostback)
}

// About implements Provider.
func (v *PayPalIPN) About() About {
	return About{
		Scheme:  "none in the notification: the body is posted back to PayPal after cmd=_notify-validate&, and only VERIFIED passes; receiver_email or receiver_id must be a configured receiver",
		Inquire: "always: POST <inquire> with cmd=_notify-validate& and the body as received, for every new event (a duplicate is acknowledged without a call)",
	}
}

// Provision implements caddy.Provisioner.
func (v *PayPalIPN) Provision(caddy.Context) error {
	if err := v.CheckConfig(); err != nil {
		return err
	}
	v.receivers = make([]string, len(v.Receivers))
	for i, r := range v.Receivers {
		resolved, err := InquiryCredential("receiver", r, true)
		if err != nil {
			return err
		}
		v.receivers[i] = resolved
	}
	return v.Inquiry.Provision(paypalIPNPostback)
}

// Provider implements Verifier.
func (v *PayPalIPN) Provider() string { return "paypal_ipn" }

// Methods implements Verifier.
func (v *PayPalIPN) Methods() []string { return []string{http.MethodPost} }

// ACK implements Verifier: an empty 200 stops PayPal's re-posts.
func (v *PayPalIPN) ACK() ACK { return ACK{Status: http.StatusOK} }

// Inquires implements Inquirer: always.
func (v *PayPalIPN) Inquires() bool { return true }

// Verify implements Verifier.
func (v *PayPalIPN) Verify(ctx context.Context, r *Request) ([]Event, error) {
	return VerifyByInquiry(ctx, v, r)
}

// ipnFields are documented IPN fields, which a query parameter may not
// shadow even when the body does not carry them.
var ipnFields = map[string]bool{
	"txn_id": true, "txn_type": true, "payment_status": true, "mc_gross": true, "mc_currency": true,
	"receiver_email": true, "receiver_id": true, "business": true, "invoice": true, "custom": true,
	"ipn_track_id": true, "payer_email": true, "first_name": true, "last_name": true, "payment_date": true,
	"charset": true, "parent_txn_id": true, "pending_reason": true, "reason_code": true, "verify_sign": true,
	"test_ipn": true, "notify_version": true, "item_name": true, "item_number": true, "payment_type": true,
}

// ipnStatuses maps payment_status; other values, and an IPN without one
// (subscr_signup), are StatusUnknown.
var ipnStatuses = map[string]Status{
	"Completed": StatusSucceeded,
	"Pending":   StatusPending,
	"Failed":    StatusFailed,
	"Denied":    StatusFailed,
	"Refunded":  StatusRefunded,
	"Reversed":  StatusDisputed,
	"Voided":    StatusCancelled,
	"Expired":   StatusExpired,
}

// Notice implements Inquirer: the method, the form (decoded from its
// charset), the receiver and the mandatory fields; the event it states is
// confirmed by Inquire.
func (v *PayPalIPN) Notice(r *Request) ([]Event, error) {
	if r.Method != http.MethodPost {
		return nil, fmt.Errorf("%w: %s", ErrMethod, r.Method)
	}
	if err := CheckContentType(r.Header.Get("Content-Type"), FormType); err != nil {
		return nil, err
	}
	fields, err := parseIPNForm(r.Body)
	if err != nil {
		return nil, err
	}
	if err := refuseShadowingForm(r.RawQuery, fields, ipnFields); err != nil {
		return nil, err
	}
	if !v.forUs(fields.Get("receiver_email"), fields.Get("receiver_id")) {
		return nil, fmt.Errorf("%w: receiver_email and receiver_id match none of the configured receivers (an IPN for another PayPal account)", ErrForbidden)
	}
	e, err := v.normalize(fields, r)
	if err != nil {
		return nil, err
	}
	return []Event{e}, nil
}

// forUs reports whether the IPN is addressed to a configured receiver.
func (v *PayPalIPN) forUs(email, id string) bool {
	for _, r := range v.receivers {
		if (email != "" && asciiEqualFold(r, email)) || (id != "" && r == id) {
			return true
		}
	}
	return false
}

// parseIPNForm reads an IPN body, whose values are percent-encoded in the
// charset its charset field names (PayPal's default, windows-1252, when
// there is none), and returns the fields in UTF-8, checked as every form is
// (parseURLEncoded). The body itself is posted back unchanged.
func parseIPNForm(body []byte) (formFields, error) {
	raw, err := readRawForm(body)
	if err != nil {
		return nil, err
	}
	charset := "windows-1252"
	if cs, once := raw.Value("charset"); once && cs != "" {
		charset = cs
	}
	decode := func(s string) (string, bool) { return s, utf8.ValidString(s) }
	if name, err := htmlindex.Get(charset); err != nil {
		return nil, fmt.Errorf("%w: field charset names an encoding this verifier does not know", ErrMalformed)
	} else if n, _ := htmlindex.Name(name); n != "utf-8" {
		dec := name.NewDecoder()
		decode = func(s string) (string, bool) {
			out, err := dec.String(s)
			return out, err == nil && utf8.ValidString(out)
		}
	}
	return decodeForm(raw, charset, decode)
}

// ipnZones are the zones payment_date is written in: PayPal's clock is
// Pacific time.
var ipnZones = map[string]*time.Location{
	"PST": time.FixedZone("PST", -8*3600),
	"PDT": time.FixedZone("PDT", -7*3600),
}

// parseIPNDate reads payment_date, e.g. "10:20:31 May 01, 2024 PDT"; the
// zero time when it is not in that form.
func parseIPNDate(s string) time.Time {
	i := strings.LastIndexByte(s, ' ')
	if i < 0 {
		return time.Time{}
	}
	clock, zone := s[:i], s[i+1:]
	loc, ok := ipnZones[zone]
	if !ok {
		return time.Time{}
	}
	for _, layout := range []string{"15:04:05 Jan 02, 2006", "15:04:05 Jan 2, 2006"} {
		if t, err := time.ParseInLocation(layout, clock, loc); err == nil {
			return t.UTC()
		}
	}
	return time.Time{}
}

func (v *PayPalIPN) normalize(fields formFields, r *Request) (Event, error) {
	f := fields.Get
	e := NewEvent(v.Provider(), r)
	e.ProviderStatus = f("payment_status")
	e.Status = ipnStatuses[e.ProviderStatus]
	if e.Status == "" {
		e.Status = StatusUnknown
	}
	if e.ProviderStatus == "" {
		e.ProviderStatus = f("txn_type") // subscr_signup, …: no payment_status
	}
	// PayPal's id of the transaction, with the status: Pending, then
	// Completed, then Refunded are three events. An IPN about no
	// transaction (a subscription's signup) is known by its ipn_track_id.
	switch {
	case f("txn_id") != "" && f("case_id") != "":
		// A dispute (txn_type new_case, adjustment) names the disputed
		// payment's txn_id: each case of one payment is an event.
		e.ID = EventID(e.Provider, f("txn_id"), f("payment_status"), "case", f("case_id"), f("case_type"), f("txn_type"))
	case f("txn_id") != "":
		e.ID = EventID(e.Provider, f("txn_id"), f("payment_status"))
	case f("ipn_track_id") != "":
		e.ID = EventID(e.Provider, "ipn_track_id", f("ipn_track_id"))
	default:
		return Event{}, fmt.Errorf("%w: mandatory field txn_id (or ipn_track_id) is missing", ErrMalformed)
	}
	e.TransactionID = f("txn_id")
	e.OrderID = f("invoice")
	if e.OrderID == "" {
		e.OrderID = f("custom")
	}
	if e.OrderID == "" && e.Status != StatusUnknown {
		return Event{}, fmt.Errorf("%w: no order reference in invoice, then custom", ErrMalformed)
	}
	// A refund or reversal carries a negative mc_gross: the amount is what
	// was refunded.
	if err := SetAmount(&e, "mc_gross", strings.TrimPrefix(f("mc_gross"), "-"), f("mc_currency"), MajorUnits); err != nil {
		return Event{}, err
	}
	e.MerchantID = f("receiver_id")
	e.PaymentMethod = f("payment_type")
	e.Reason = f("pending_reason")
	if e.Reason == "" {
		e.Reason = f("reason_code")
	}
	e.OccurredAt = parseIPNDate(f("payment_date"))
	e.Customer = NewCustomer(f("first_name")+" "+f("last_name"), f("payer_email"), f("contact_phone"), "")
	e.Raw = marshalFields(fields, nil, nil) // json.Marshal of the fields, in UTF-8
	return e, nil
}

// ipnWhat names the call in errors.
const ipnWhat = "PayPal's IPN postback"

// ipnValidate is what the postback starts with.
const ipnValidate = "cmd=_notify-validate&"

// Inquire implements Inquirer: the body, exactly as received, is posted
// back after cmd=_notify-validate&; PayPal answers VERIFIED for an IPN it
// sent and INVALID for any other.
func (v *PayPalIPN) Inquire(ctx context.Context, r *Request, stated []Event) ([]Event, error) {
	body := make([]byte, 0, len(ipnValidate)+len(r.Body))
	body = append(append(body, ipnValidate...), r.Body...)
	req, err := http.NewRequest(http.MethodPost, v.Endpoint("", ""), bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInquiry, err)
	}
	req.Header.Set("Content-Type", FormType)
	a, err := v.Do(ctx, req)
	if err != nil {
		return nil, err
	}
	if a.Status != http.StatusOK {
		return nil, a.Unexpected(ipnWhat)
	}
	switch string(bytes.TrimSpace(a.Body)) {
	case "VERIFIED":
		return stated, nil
	case "INVALID":
		return nil, fmt.Errorf("%w: PayPal answered INVALID: not a notification it sent (or changed since)", ErrSignature)
	}
	return nil, fmt.Errorf("%w: %s answered 200 with neither VERIFIED nor INVALID", ErrInquiry, ipnWhat)
}

// ipnDateLayout is payment_date's layout, in Pacific time.
const ipnDateLayout = "15:04:05 Jan 02, 2006 MST"

// Example implements Signer: a completed web_accept payment to the first
// receiver.
func (v *PayPalIPN) Example(order string, now time.Time) map[string]any {
	zone := ipnZones["PST"]
	if isPacificSummer(now) {
		zone = ipnZones["PDT"]
	}
	receiver := "merchant@example.com"
	if len(v.receivers) > 0 {
		receiver = v.receivers[0]
	}
	f := map[string]any{
		"txn_type": "web_accept", "payment_status": "Completed", "txn_id": "9" + strings.ToUpper(alnum(order)) + "X",
		"mc_gross": "10.50", "mc_currency": "USD", "invoice": order, "payment_date": now.In(zone).Format(ipnDateLayout),
		"first_name": "Test", "last_name": "Buyer", "payer_email": "buyer@example.com", "payment_type": "instant",
		"ipn_track_id": fmt.Sprintf("%x", now.UnixNano()), "notify_version": "3.9", "charset": "UTF-8",
	}
	if strings.Contains(receiver, "@") {
		f["receiver_email"] = receiver
	} else {
		f["receiver_id"] = receiver
	}
	return f
}

// isPacificSummer approximates US daylight saving time (second Sunday of
// March to first Sunday of November) for the example's payment_date, which
// is correct in either zone: its abbreviation says its offset.
func isPacificSummer(t time.Time) bool {
	m := t.Month()
	return m > time.March && m < time.November || m == time.March && t.Day() > 7 || m == time.November && t.Day() < 7
}

// Sign implements Signer: the form, as PayPal posts it (IPNs carry no
// signature; the postback confirms them).
func (v *PayPalIPN) Sign(d Draft) (Notification, error) {
	f, err := FlatFields(d.Fields)
	if err != nil {
		return Notification{}, err
	}
	return newNotification(d.Path, FormType, []byte(EncodeForm(f))), nil
}

// asciiEqualFold compares e-mail addresses case-insensitively in ASCII only:
// strings.EqualFold folds U+017F (ſ) to s and the Kelvin sign to k, which
// would let another account's address pass for the receiver's.
func asciiEqualFold(a, b string) bool {
	if a == b {
		return true
	}
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if x >= 0x80 || y >= 0x80 {
			return false
		}
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
