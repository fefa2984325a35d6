package verifiers

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
)

func init() {
	caddy.RegisterModule(Stripe{})
}

// StripeTolerance is Stripe's own (stripe-go webhook.DefaultTolerance).
const StripeTolerance = 300 * time.Second

// Stripe verifies Stripe webhook events: a JSON POST whose Stripe-Signature
// header carries t=<unix> and hex HMAC-SHA256 signatures v1 of "<t>.<body>",
// keyed with the endpoint's whsec_ signing secret as it is written (its own
// bytes, not base64-decoded).
type Stripe struct {
	// Secrets are the endpoints' signing secrets (whsec_…).
	Secrets Secrets `json:"secrets,omitempty"`
	// Tolerance is how far the signed time t may be from the clock, in
	// either direction. Default 300s, Stripe's own.
	Tolerance caddy.Duration `json:"tolerance,omitempty"`
	// OrderID is the dot-separated path into the event to the merchant's
	// order reference. Default data.object.metadata.order_id, then
	// data.object.client_reference_id (Checkout Sessions).
	OrderID string `json:"order_id,omitempty"`

	macs       *HMACKeys
	orderPaths []JSONPath
}

// stripeSignature is Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>…][,v0=…].
var stripeSignature = TimedHMACHeader{Header: "Stripe-Signature", Sep: ",", Time: "t", Scheme: "v1", Join: '.'}

var stripeOrderPaths = []JSONPath{
	MustJSONPath("data.object.metadata.order_id"),
	MustJSONPath("data.object.client_reference_id"),
}

// CaddyModule returns the Caddy module information.
func (Stripe) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: Namespace + ".stripe", New: func() caddy.Module { return new(Stripe) }}
}

// Options implements Provider.
func (v *Stripe) Options() []Option {
	return []Option{
		v.Secrets.Option("the endpoint's signing secret, whsec_…"),
		DurationOption("tolerance", "how far the signed time may be from the clock, in either direction (default 300s)", &v.Tolerance),
		PathOption("order_id", "where the order reference is (default data.object.metadata.order_id, then data.object.client_reference_id)", &v.OrderID),
	}
}

// CheckConfig implements Provider.
func (v *Stripe) CheckConfig() error {
	if v.Tolerance < 0 {
		return &OptionError{Option: "tolerance", Msg: "negative"}
	}
	if err := CheckPath("order_id", v.OrderID); err != nil {
		return err
	}
	return v.Secrets.Check("stripe", "the endpoint's signing secret, whsec_…")
}

// About implements Provider.
func (v *Stripe) About() About {
	return About{Scheme: `Stripe-Signature header: t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>"> keyed with the whsec_ secret as written; any v1 may match; t within tolerance`}
}

// Provision implements caddy.Provisioner.
func (v *Stripe) Provision(caddy.Context) error {
	if err := v.CheckConfig(); err != nil {
		return err
	}
	if v.Tolerance == 0 {
		v.Tolerance = caddy.Duration(StripeTolerance)
	}
	v.orderPaths = stripeOrderPaths
	if v.OrderID != "" {
		v.orderPaths = []JSONPath{MustJSONPath(v.OrderID)}
	}
	var err error
	v.macs, err = v.Secrets.HMAC(sha256.New)
	return err
}

// Provider implements Verifier.
func (v *Stripe) Provider() string { return "stripe" }

// CredentialHeaders implements CredentialHeaderer.
func (v *Stripe) CredentialHeaders() []string { return []string{"Stripe-Signature"} }

// Methods implements Verifier.
func (v *Stripe) Methods() []string { return []string{http.MethodPost} }

// ACK implements Verifier: any 2xx; Stripe reads no body.
func (v *Stripe) ACK() ACK { return ACK{Status: http.StatusOK} }

// A Stripe event is a snapshot event (object "event") or a thin event
// notification (object "v2.core.event", which has no data and a created
// time in RFC 3339): id, type, created (v1: Unix seconds; v2: RFC 3339),
// account (Connect: the connected account) and data.object, which depends on
// the type and is read member by member.

// stripeFields are the top-level members of an event; a query parameter may
// not shadow them.
var stripeFields = map[string]bool{
	"id": true, "object": true, "type": true, "created": true, "account": true, "api_version": true,
	"data": true, "livemode": true, "pending_webhooks": true, "request": true, "context": true,
	"related_object": true, "reason": true,
}

// Verify implements Verifier.
func (v *Stripe) Verify(_ context.Context, r *Request) ([]Event, error) {
	authenticate := func() error {
		return stripeSignature.Check(r.Header.Values("Stripe-Signature"), v.macs, r.Body, r.ReceivedAt, time.Duration(v.Tolerance))
	}
	return verifySignedJSONDoc(r, authenticate, stripeFields, v.normalize)
}

// stripeStatuses maps the event type; checkout.session.completed depends on
// the session's payment_status (stripeStatus); other types are
// StatusUnknown.
var stripeStatuses = map[string]Status{
	"payment_intent.succeeded":                 StatusSucceeded,
	"charge.succeeded":                         StatusSucceeded,
	"checkout.session.async_payment_succeeded": StatusSucceeded,
	"invoice.paid":                             StatusSucceeded,
	"payment_intent.processing":                StatusPending,
	"payment_intent.requires_action":           StatusPending,
	"payment_intent.amount_capturable_updated": StatusAuthorized,
	"payment_intent.payment_failed":            StatusFailed,
	"charge.failed":                            StatusFailed,
	"checkout.session.async_payment_failed":    StatusFailed,
	"invoice.payment_failed":                   StatusFailed,
	"payment_intent.canceled":                  StatusCancelled,
	"charge.refunded":                          StatusRefunded,
	"checkout.session.expired":                 StatusExpired,
	"charge.dispute.created":                   StatusDisputed,
}

// stripeStatus maps an event. A completed Checkout Session is paid only
// when its payment_status says so: a delayed method (a bank debit) completes
// the session unpaid, and async_payment_succeeded follows.
func stripeStatus(eventType string, object jsonValue) Status {
	if eventType == "checkout.session.completed" {
		switch object.Get("payment_status").Str() {
		case "paid", "no_payment_required": // a free order (a trial, a 100 % discount) is complete
			return StatusSucceeded
		case "unpaid":
			return StatusPending
		}
		return StatusUnknown
	}
	if s, ok := stripeStatuses[eventType]; ok {
		return s
	}
	return StatusUnknown
}

// stripeWithoutOrder are the mapped event types whose object cannot carry
// the merchant's reference: a dispute is created by Stripe, with metadata of
// its own, so the app finds the payment by transaction_id (payment_intent).
var stripeWithoutOrder = map[string]bool{"charge.dispute.created": true}

// stripeExponent is how Stripe scales an amount for a currency: ISO 4217's
// exponent, except where Stripe differs (docs.stripe.com/currencies): ISK
// and UGX are sent as two-decimal amounts for backward compatibility, MGA
// is zero-decimal at Stripe. ok is false for a currency ISO 4217 does not
// know.
func stripeExponent(currency string) (exp int32, ok bool) {
	switch strings.ToUpper(currency) {
	case "ISK", "UGX":
		return 2, true
	case "MGA":
		return 0, true
	}
	cur := lookupCurrency(currency)
	if cur == nil {
		return 0, false
	}
	return int32(cur.Fraction), true
}

// setStripeAmount turns Stripe's integer amount into the major amount by
// Stripe's exponent; amount_minor then follows ISO 4217.
func setStripeAmount(e *Event, field, value, currency string) error {
	exp, ok := stripeExponent(currency)
	if value == "" || !ok {
		return SetAmount(e, field, value, currency, MinorUnits)
	}
	d, err := parseDecimal(value)
	if err != nil || !d.IsInteger() {
		return fmt.Errorf("%w: %s is not a whole number of minor units", ErrMalformed, field)
	}
	return SetAmount(e, field, d.Shift(-exp).StringFixed(exp), currency, MajorUnits)
}

func (v *Stripe) normalize(root jsonValue, r *Request) (Event, error) {
	id, err := root.memberString("id", "id")
	if err != nil {
		return Event{}, err
	}
	if _, err := root.memberString("object", "object"); err != nil {
		return Event{}, err
	}
	eventType, err := root.memberString("type", "type")
	if err != nil {
		return Event{}, err
	}
	account, err := root.memberString("account", "account")
	if err != nil {
		return Event{}, err
	}
	data, err := root.memberObject("data", "data")
	if err != nil {
		return Event{}, err
	}
	if id == "" {
		return Event{}, fmt.Errorf("%w: mandatory field id is missing", ErrMalformed)
	}
	if eventType == "" {
		return Event{}, fmt.Errorf("%w: mandatory field type is missing", ErrMalformed)
	}
	object := data.Get("object")
	if object.Kind() != '{' {
		object = absentJSON // a thin event
	}
	e := NewEvent(v.Provider(), r)
	e.ID = id
	e.ProviderStatus = eventType
	e.Status = stripeStatus(eventType, object)
	// A payment event the app acts on is read strictly; any other type is
	// forwarded with what could be read of it.
	strict := e.Status != StatusUnknown
	orderID, _, err := root.firstText(v.orderPaths)
	if err != nil && strict {
		return Event{}, err
	}
	if orderID == "" && strict && !stripeWithoutOrder[eventType] {
		return Event{}, fmt.Errorf("%w: no order reference at %s", ErrMalformed, joinPaths(v.orderPaths))
	}
	e.OrderID = orderID
	e.MerchantID = account
	e.OccurredAt = stripeTime(root.Get("created"))
	if object.Exists() {
		v.objectFields(&e, object)
		// A payment's amount, a Checkout Session's amount_total, an
		// invoice's amount_due: the first that is sent; what a refund, a
		// succeeded PaymentIntent or a paid invoice moved, where that
		// differs (a partial refund or capture).
		var amountField string
		amount := absentJSON
		for _, name := range stripeAmountFields(eventType) {
			if raw := object.Get(name); !raw.IsNull() {
				amountField, amount = "data.object."+name, raw
				break
			}
		}
		if amount.Exists() && amount.Number() == "" && strict {
			return Event{}, fmt.Errorf("%w: %s is not a number", ErrMalformed, amountField)
		}
		if err := setStripeAmount(&e, amountField, amount.Number(), object.Get("currency").Str()); err != nil {
			if strict {
				return Event{}, err
			}
			e.Amount, e.AmountMinor, e.Currency = "", nil, "" // raw keeps what was sent
		}
	}
	e.Raw = root.d.compactRaw() // compacted, as sent
	return e, nil
}

// stripeAmountFields are the members of the event's object its amount is
// read from, the first that is sent: charge.refunded is sent for partial
// refunds too, with the charge's amount beside amount_refunded.
func stripeAmountFields(eventType string) []string {
	switch eventType {
	case "charge.refunded":
		return []string{"amount_refunded", "amount"}
	case "payment_intent.succeeded":
		return []string{"amount_received", "amount"}
	case "invoice.paid":
		return []string{"amount_paid", "amount_due"}
	}
	return []string{"amount", "amount_total", "amount_due"}
}

// objectFields fills what the object of a payment event tells: the payment
// intent (one id across the intent, its charge, its refund and dispute and
// the Checkout Session that made it; else the id of a payment object), decline
// details, the payment method and the customer.
func (v *Stripe) objectFields(e *Event, object jsonValue) {
	e.TransactionID = object.Get("payment_intent").Str()
	if e.TransactionID == "" && stripePayments[object.Get("object").Str()] {
		e.TransactionID = object.Get("id").Str()
	}
	e.ResponseCode = object.Get("failure_code").Str()
	e.Reason = object.Get("failure_message").Str()
	if lastError := object.Get("last_payment_error"); lastError.Kind() == '{' {
		e.ResponseCode = lastError.Get("decline_code").Str()
		if e.ResponseCode == "" {
			e.ResponseCode = lastError.Get("code").Str()
		}
		e.Reason = lastError.Get("message").Str()
	}
	if e.Reason == "" {
		e.Reason = object.Get("cancellation_reason").Str()
	}
	e.PaymentMethod = object.Get("payment_method_details").Get("type").Str()
	details := object.Get("billing_details") // a charge
	if details.Kind() != '{' {
		details = object.Get("customer_details") // a Checkout Session
	}
	email := details.Get("email").Str()
	if email == "" {
		email = object.Get("receipt_email").Str()
	}
	e.Customer = NewCustomer(details.Get("name").Str(), email, details.Get("phone").Str(), "")
}

// stripePayments are the objects whose own id names a payment, when they
// carry no payment_intent.
var stripePayments = map[string]bool{"payment_intent": true, "charge": true, "checkout.session": true, "invoice": true}

// stripeTime reads created: Unix seconds (snapshot events) or RFC 3339
// (thin events).
func stripeTime(raw jsonValue) time.Time {
	if s := raw.Number(); s != "" {
		secs, err := strconv.ParseInt(s, 10, 64)
		if err != nil || secs <= 0 {
			return time.Time{}
		}
		return time.Unix(secs, 0).UTC()
	}
	return ParseTime(raw.Str(), time.RFC3339Nano)
}

// Example implements Signer.
func (v *Stripe) Example(order string, now time.Time) map[string]any {
	ref := strings.ToLower(alnum(order))
	return map[string]any{
		"id": "evt_" + ref, "object": "event", "api_version": "2024-04-10",
		"created": json.Number(strconv.FormatInt(now.Unix(), 10)), "livemode": false, "pending_webhooks": json.Number("1"),
		"type": "payment_intent.succeeded",
		"data": map[string]any{"object": map[string]any{
			"id": "pi_" + ref, "object": "payment_intent", "amount": json.Number("1050"), "amount_received": json.Number("1050"),
			"currency": "usd", "status": "succeeded", "metadata": map[string]any{"order_id": order},
		}},
	}
}

// Sign implements Signer: signed at d.Now with the first secret.
func (v *Stripe) Sign(d Draft) (Notification, error) {
	body, err := MarshalCompact(d.Fields)
	if err != nil {
		return Notification{}, err
	}
	header, err := stripeSignature.Sign(v.macs, strconv.FormatInt(d.Now.Unix(), 10), body)
	if err != nil {
		return Notification{}, err
	}
	n := newNotification(d.Path, JSONType, body)
	n.Header.Set("Stripe-Signature", header)
	return n, nil
}

// Interface guards.
var (
	_ Provider = (*Stripe)(nil)
	_ Signer   = (*Stripe)(nil)
)
