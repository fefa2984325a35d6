package verifiers

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
)

func init() {
	caddy.RegisterModule(Checkout{})
}

// Checkout verifies Checkout.com webhooks (seed 002, e.g. the Octopus APM): a
// JSON POST whose Cko-Signature header is the HMAC-SHA256 of the raw body.
type Checkout struct {
	// Secrets are the webhook signature keys.
	Secrets Secrets `json:"secrets,omitempty"`
	// Authorization is the value the Authorization header must equal (the
	// webhook's authorization header key); empty: not checked.
	Authorization string `json:"authorization,omitempty"`

	macs          *HMACKeys // HMAC-SHA256 keyed with each secret
	authorization Credential
}

// CaddyModule returns the Caddy module information.
func (Checkout) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: Namespace + ".checkout", New: func() caddy.Module { return new(Checkout) }}
}

// Options implements Provider.
func (v *Checkout) Options() []Option {
	return []Option{
		v.Secrets.Option("the webhook signature key"),
		StringOption("authorization", "<value>", "the value the Authorization header must equal; {env.*} and {file.*} work", &v.Authorization),
	}
}

// CheckConfig implements Provider.
func (v *Checkout) CheckConfig() error {
	return v.Secrets.Check("checkout", "the webhook signature key")
}

// About implements Provider.
func (v *Checkout) About() About {
	return About{Scheme: "Cko-Signature header: hex HMAC-SHA256 of the body; Authorization header equal to authorization, when set"}
}

// Provision implements caddy.Provisioner.
func (v *Checkout) Provision(caddy.Context) error {
	if err := v.CheckConfig(); err != nil {
		return err
	}
	var err error
	if v.macs, err = v.Secrets.HMAC(sha256.New); err != nil {
		return err
	}
	if v.authorization, err = NewCredential("authorization", v.Authorization); err != nil {
		return err
	}
	return nil
}

// checkoutFields are the top-level members of a webhook, documented or not
// sent on every event type; a query parameter may not shadow them.
var checkoutFields = map[string]bool{
	"id": true, "type": true, "version": true, "created_on": true, "timestamp": true, "data": true, "_links": true,
}

// Provider implements Verifier.
func (v *Checkout) Provider() string { return "checkout" }

// CredentialHeaders implements CredentialHeaderer.
func (v *Checkout) CredentialHeaders() []string { return []string{"Cko-Signature", "Authorization"} }

// Methods implements Verifier.
func (v *Checkout) Methods() []string { return []string{http.MethodPost} }

// ACK implements Verifier: any 2xx; Checkout.com reads no body.
func (v *Checkout) ACK() ACK { return ACK{Status: http.StatusOK} }

// Verify implements Verifier.
func (v *Checkout) Verify(_ context.Context, r *Request) ([]Event, error) {
	authenticate := func() error {
		// Cko-Signature is the hex HMAC-SHA256 of the raw body bytes, keyed with
		// the webhook's signature key.
		if err := CheckHexHMAC("Cko-Signature header", r.Header.Get("Cko-Signature"), v.macs, r.Body); err != nil {
			return err
		}
		if v.authorization.Set() && !v.authorization.Equal(r.Header.Get("Authorization")) {
			return fmt.Errorf("%w: the Authorization header is missing or is not the configured value", ErrForbidden)
		}
		return nil
	}
	return verifySignedJSONDoc(r, authenticate, checkoutFields, v.normalize)
}

// checkoutStatuses maps the event type; other types are StatusUnknown.
var checkoutStatuses = map[string]Status{
	"payment_pending":          StatusPending,
	"payment_capture_pending":  StatusPending,
	"payment_approved":         StatusAuthorized,
	"payment_captured":         StatusSucceeded,
	"payment_declined":         StatusFailed,
	"payment_capture_declined": StatusFailed,
	"payment_expired":          StatusExpired,
	"payment_canceled":         StatusCancelled,
	"payment_voided":           StatusCancelled,
	"payment_refunded":         StatusRefunded,
}

// checkoutExponent is how Checkout.com scales an amount for a currency
// ("Format the amount value"): the full value for some, divided by 1000 for
// others, by 100 for every other currency. It differs from ISO 4217 where
// Checkout.com does: CLP has no minor unit in ISO but is sent times 100.
func checkoutExponent(currency string) int32 {
	switch strings.ToUpper(currency) {
	case "BIF", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "VUV", "VND", "XAF", "XOF", "XPF":
		return 0
	case "BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND":
		return 3
	}
	return 2
}

// setCheckoutAmount turns Checkout.com's integer amount into the major
// amount by Checkout.com's own exponent; amount_minor then follows ISO 4217.
func setCheckoutAmount(e *Event, value, currency string) error {
	const field = "data.amount"
	if value == "" {
		return SetAmount(e, field, "", currency, MajorUnits)
	}
	d, err := parseDecimal(value)
	if err != nil || !d.IsInteger() {
		return fmt.Errorf("%w: %s is not a whole number of minor units", ErrMalformed, field)
	}
	exp := checkoutExponent(currency)
	return SetAmount(e, field, d.Shift(-exp).StringFixed(exp), currency, MajorUnits)
}

// normalize reads id (evt_…, the same on every retry), type (the status),
// created_on or, on the types without it, timestamp, and data: id (pay_…),
// reference (the merchant's order), amount (minor units), currency,
// response_code, response_summary, source.type, customer.name, .email and
// .phone.country_code and .number.
func (v *Checkout) normalize(root jsonValue, r *Request) (Event, error) {
	var m docFields
	id := m.str(root, "id", "id")
	eventType := m.str(root, "type", "type")
	createdOn := m.str(root, "created_on", "created_on")
	timestamp := m.str(root, "timestamp", "timestamp")
	data := m.obj(root, "data", "data")
	dataID := m.str(data, "id", "data.id")
	reference := m.str(data, "reference", "data.reference")
	amount := m.num(data, "amount", "data.amount")
	currency := m.str(data, "currency", "data.currency")
	responseCode := m.str(data, "response_code", "data.response_code")
	responseSummary := m.str(data, "response_summary", "data.response_summary")
	sourceType := m.str(m.obj(data, "source", "data.source"), "type", "data.source.type")
	customer := m.obj(data, "customer", "data.customer")
	name := m.str(customer, "name", "data.customer.name")
	email := m.str(customer, "email", "data.customer.email")
	phoneObj := m.obj(customer, "phone", "data.customer.phone")
	countryCode := m.str(phoneObj, "country_code", "data.customer.phone.country_code")
	phone := m.str(phoneObj, "number", "data.customer.phone.number")
	if m.err != nil {
		return Event{}, m.err
	}
	switch {
	case id == "":
		return Event{}, fmt.Errorf("%w: mandatory field id is missing", ErrMalformed)
	case eventType == "":
		return Event{}, fmt.Errorf("%w: mandatory field type is missing", ErrMalformed)
	case reference == "":
		return Event{}, fmt.Errorf("%w: mandatory field data.reference is missing", ErrMalformed)
	}
	e := NewEvent(v.Provider(), r)
	e.ID = id // Checkout.com's own id, the same on every retry
	e.ProviderStatus = eventType
	e.Status = checkoutStatuses[eventType]
	if e.Status == "" {
		e.Status = StatusUnknown
	}
	e.OrderID = reference
	e.TransactionID = dataID
	e.ResponseCode = responseCode
	e.Reason = responseSummary
	e.PaymentMethod = sourceType
	occurred := createdOn
	if occurred == "" {
		occurred = timestamp
	}
	e.OccurredAt = ParseTime(occurred, time.RFC3339Nano)
	if phone != "" && countryCode != "" {
		phone = countryCode + " " + phone
	}
	e.Customer = NewCustomer(name, email, phone, "")
	if err := setCheckoutAmount(&e, amount, currency); err != nil {
		return Event{}, err
	}
	e.Raw = root.d.compactRaw() // compacted, as sent
	return e, nil
}

// Example implements Signer.
func (v *Checkout) Example(order string, now time.Time) map[string]any {
	ref := strings.ToLower(alnum(order))
	return map[string]any{
		"id": "evt_" + ref, "type": "payment_captured", "created_on": now.UTC().Format(time.RFC3339),
		"data": map[string]any{
			"id": "pay_" + ref, "reference": order, "amount": json.Number("1050"), "currency": "HKD",
			"response_code": "10000", "response_summary": "Approved", "source": map[string]any{"type": "octopus"},
		},
	}
}

// Sign implements Signer.
func (v *Checkout) Sign(d Draft) (Notification, error) {
	body, err := MarshalCompact(d.Fields)
	if err != nil {
		return Notification{}, err
	}
	sig, err := signHex(v.macs, body)
	if err != nil {
		return Notification{}, err
	}
	n := newNotification(d.Path, JSONType, body)
	n.Header.Set("Cko-Signature", sig)
	if v.Authorization != "" {
		authorization, err := ResolveSecret(v.Authorization)
		if err != nil {
			return Notification{}, err
		}
		n.Header.Set("Authorization", authorization)
	}
	return n, nil
}

// StorageRisk implements StorageRisker: with authorization, the
// Authorization header is this config's credential.
func (v *Checkout) StorageRisk() string {
	if v.Authorization == "" {
		return ""
	}
	return "its Authorization header is this config's authorization credential, which the normalized event leaves out"
}
