package verifiers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
)

func init() {
	caddy.RegisterModule(Square{})
}

// Square verifies Square webhooks: a JSON POST of one event whose
// X-Square-HmacSha256-Signature header is the base64 HMAC-SHA256, keyed with
// the subscription's signature key, of the notification URL followed by the
// raw body. The URL is the one the subscription names, byte for byte: the
// url option, not the URL the request arrived at (behind a proxy or a load
// balancer they differ).
type Square struct {
	// Secrets are the signature keys of the webhook subscription.
	Secrets Secrets `json:"secrets,omitempty"`
	// URL is the notification URL of the subscription, exactly as it is
	// registered with Square; it is signed with every notification.
	// Required. {env.*} placeholders are resolved.
	URL string `json:"url,omitempty"`
	// OrderID is the path of the merchant's order reference in the body;
	// empty: data.object.payment.reference_id, then
	// data.object.payment.order_id, then data.object.refund.order_id.
	OrderID string `json:"order_id,omitempty"`

	sig     headerHMAC
	orderID orderIDSource
}

// CaddyModule returns the Caddy module information.
func (Square) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: Namespace + ".square", New: func() caddy.Module { return new(Square) }}
}

// Options implements Provider.
func (v *Square) Options() []Option {
	return []Option{
		v.Secrets.Option("the signature key of the webhook subscription"),
		StringOption("url", "<url>", "required: the subscription's notification URL exactly as registered with Square (the public URL, which Square signs; {env.*} works)", &v.URL),
		PathOption("order_id", "where the merchant's order reference is; default data.object.payment.reference_id, then data.object.payment.order_id, then data.object.refund.order_id", &v.OrderID),
	}
}

// CheckConfig implements Provider.
func (v *Square) CheckConfig() error {
	if err := v.Secrets.Check("square", "the subscription's signature key"); err != nil {
		return err
	}
	if v.URL == "" {
		return &OptionError{Option: "url", Msg: `required for provider "square": the notification URL of the webhook subscription, exactly as registered with Square (it is signed)`}
	}
	if !strings.Contains(v.URL, "{") { // placeholders are checked once resolved
		if err := checkSquareURL(v.URL); err != nil {
			return err
		}
	}
	return CheckPath("order_id", v.OrderID)
}

// checkSquareURL accepts an absolute http or https URL with a host. It is
// used as written: Square signs the URL as registered, so nothing is
// normalized.
func checkSquareURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Opaque != "" ||
		strings.ContainsAny(s, " \t\r\n") {
		return &OptionError{Option: "url", Msg: "not an absolute http or https URL such as https://shop.example/notify/square (write it exactly as registered with Square)"}
	}
	if u.Fragment != "" || strings.HasSuffix(s, "#") {
		return &OptionError{Option: "url", Msg: "has a #fragment, which is never part of a request URL"}
	}
	return nil
}

// About implements Provider.
func (v *Square) About() About {
	return About{Scheme: "X-Square-HmacSha256-Signature header: base64 HMAC-SHA256 of the url option (the subscription's notification URL) followed by the body, keyed with the signature key"}
}

// squareOrderIDs are the default paths of order_id: the payment's
// reference_id (the merchant's own), else Square's order of the payment or
// of the refund.
var squareOrderIDs = []JSONPath{
	MustJSONPath("data.object.payment.reference_id"),
	MustJSONPath("data.object.payment.order_id"),
	MustJSONPath("data.object.refund.order_id"),
}

// Provision implements caddy.Provisioner.
func (v *Square) Provision(caddy.Context) error {
	if err := v.CheckConfig(); err != nil {
		return err
	}
	notifyURL, err := ResolveSecret(v.URL)
	if err != nil {
		return &OptionError{Option: "url", Msg: err.Error()}
	}
	if err := checkSquareURL(notifyURL); err != nil {
		return err
	}
	keys, err := v.Secrets.HMAC(sha256.New)
	if err != nil {
		return err
	}
	v.sig = newHeaderHMAC(squareHeader, keys)
	v.sig.base64 = true
	v.sig.prefix = []byte(notifyURL)
	v.sig.hint = "if the signature key is right, url is not the exact notification URL of the subscription " +
		"(behind a proxy the public URL differs from the one Caddy sees)"
	v.orderID, err = newOrderIDSource(v.OrderID, squareOrderIDs)
	return err
}

// squareHeader carries the signature.
const squareHeader = "X-Square-HmacSha256-Signature"

// squareLegacyHeader is the HMAC-SHA1 signature Square sent before
// X-Square-HmacSha256-Signature; it is not accepted.
const squareLegacyHeader = "X-Square-Signature"

// A notification has merchant_id, type (payment.updated, …), event_id (the
// idempotency value: the event id), created_at and data.object.payment or
// .refund (squarePayment).

// squarePayment is a Payment or a PaymentRefund object: id, status,
// amount_money.amount (minor units) and .currency, reference_id (the
// merchant's, payments) and order_id (strings or numbers), payment_id
// (refunds), source_type, buyer_email_address.
type squarePayment struct {
	id, status, amount, currency, referenceID, orderID, paymentID, sourceType, email string
}

// squarePaths are the members of a payment or a refund, named in errors.
type squarePaths struct {
	name, object, id, status, amountMoney, amount, currency, referenceID, orderID, paymentID, sourceType, email string
}

func newSquarePaths(name string) *squarePaths {
	o := "data.object." + name
	return &squarePaths{name: name, object: o, id: o + ".id", status: o + ".status", amountMoney: o + ".amount_money",
		amount: o + ".amount_money.amount", currency: o + ".amount_money.currency", referenceID: o + ".reference_id",
		orderID: o + ".order_id", paymentID: o + ".payment_id", sourceType: o + ".source_type", email: o + ".buyer_email_address"}
}

var squarePaymentPaths, squareRefundPaths = newSquarePaths("payment"), newSquarePaths("refund")

// readSquarePayment reads data.object.<name>; ok is false when it is absent
// or null.
func readSquarePayment(m *docFields, object jsonValue, p *squarePaths) (sp squarePayment, ok bool) {
	o := m.obj(object, p.name, p.object)
	if !o.Exists() {
		return sp, false
	}
	sp.id = m.str(o, "id", p.id)
	sp.status = m.str(o, "status", p.status)
	money := m.obj(o, "amount_money", p.amountMoney)
	sp.amount = m.num(money, "amount", p.amount)
	sp.currency = m.str(money, "currency", p.currency)
	sp.referenceID = m.id(o, "reference_id", p.referenceID)
	sp.orderID = m.id(o, "order_id", p.orderID)
	sp.paymentID = m.str(o, "payment_id", p.paymentID)
	sp.sourceType = m.str(o, "source_type", p.sourceType)
	sp.email = m.str(o, "buyer_email_address", p.email)
	return sp, true
}

// squareFields are the top-level members of a notification; a query
// parameter may not shadow them.
var squareFields = map[string]bool{
	"merchant_id": true, "type": true, "event_id": true, "created_at": true, "data": true,
}

// Provider implements Verifier.
func (v *Square) Provider() string { return "square" }

// CredentialHeaders implements CredentialHeaderer.
func (v *Square) CredentialHeaders() []string {
	return []string{squareHeader, squareLegacyHeader}
}

// Methods implements Verifier.
func (v *Square) Methods() []string { return []string{http.MethodPost} }

// ACK implements Verifier: any 2xx within 10 seconds; no body is read.
func (v *Square) ACK() ACK { return ACK{Status: http.StatusOK} }

// Verify implements Verifier.
func (v *Square) Verify(_ context.Context, r *Request) ([]Event, error) {
	if r.Method == http.MethodPost && len(r.Header[v.sig.key]) == 0 && r.Header.Get(squareLegacyHeader) != "" {
		return nil, fmt.Errorf("%w: only the legacy %s header (HMAC-SHA1), which is not accepted: paynotify checks %s, which Square sends with every notification",
			ErrSignature, squareLegacyHeader, squareHeader)
	}
	return verifySignedJSONDoc(r, func() error { return v.sig.check(r.Header, r.Body) }, squareFields, v.normalize)
}

// squarePaymentStatuses maps data.object.payment.status of payment.created
// and payment.updated; other values are StatusUnknown.
var squarePaymentStatuses = map[string]Status{
	"COMPLETED": StatusSucceeded,
	"APPROVED":  StatusAuthorized,
	"PENDING":   StatusPending,
	"FAILED":    StatusFailed,
	"CANCELED":  StatusCancelled,
}

func (v *Square) normalize(root jsonValue, r *Request) (Event, error) {
	var m docFields
	merchantID := m.str(root, "merchant_id", "merchant_id")
	eventType := m.str(root, "type", "type")
	eventID := m.str(root, "event_id", "event_id")
	createdAt := m.str(root, "created_at", "created_at")
	dataObject := m.obj(m.obj(root, "data", "data"), "object", "data.object")
	payment, paid := readSquarePayment(&m, dataObject, squarePaymentPaths)
	refund, refunded := readSquarePayment(&m, dataObject, squareRefundPaths)
	if m.err != nil {
		return Event{}, m.err
	}
	if eventID == "" {
		return Event{}, fmt.Errorf("%w: mandatory field event_id is missing", ErrMalformed)
	}
	if eventType == "" {
		return Event{}, fmt.Errorf("%w: mandatory field type is missing", ErrMalformed)
	}
	e := NewEvent(v.Provider(), r)
	e.ID = eventID // Square's idempotency value, the same on every retry
	e.MerchantID = merchantID
	e.OccurredAt = ParseTime(createdAt, time.RFC3339Nano)

	// The status of a payment or refund event is the object's: the event
	// type says only that it changed.
	var object *squarePayment
	kind, _, _ := strings.Cut(eventType, ".") // payment, refund
	e.ProviderStatus, e.Status = eventType, StatusUnknown
	switch eventType {
	case "payment.created", "payment.updated":
		if !paid || payment.status == "" {
			return Event{}, fmt.Errorf("%w: mandatory field data.object.payment.status is missing", ErrMalformed)
		}
		object = &payment
		e.ProviderStatus = object.status
		if s, ok := squarePaymentStatuses[object.status]; ok {
			e.Status = s
		}
		e.TransactionID = object.id
	case "refund.created", "refund.updated":
		if !refunded || refund.status == "" {
			return Event{}, fmt.Errorf("%w: mandatory field data.object.refund.status is missing", ErrMalformed)
		}
		object = &refund
		e.ProviderStatus = object.status
		if eventType == "refund.updated" && object.status == "COMPLETED" {
			e.Status = StatusRefunded
		}
		e.TransactionID = object.paymentID // the payment the app knows
	}
	var err error
	if e.OrderID, err = v.orderID.read(root, e.Status, payment.referenceID, payment.orderID, refund.orderID); err != nil {
		return Event{}, err
	}
	if object != nil {
		field := squarePaymentPaths.amount
		if kind == "refund" {
			field = squareRefundPaths.amount
		}
		if err := SetAmount(&e, field, object.amount, object.currency, MinorUnits); err != nil {
			return Event{}, err
		}
		e.PaymentMethod = object.sourceType
		e.Customer = NewCustomer("", object.email, "", "")
	}
	e.Raw = root.d.compactRaw() // compacted, as sent
	return e, nil
}

// Example implements Signer.
func (v *Square) Example(order string, now time.Time) map[string]any {
	sum := sha256.Sum256([]byte(order))
	h := hex.EncodeToString(sum[:16])
	eventID := h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
	ts := now.UTC().Format(time.RFC3339Nano)
	payID := strings.ToUpper(h[:22])
	return map[string]any{
		"merchant_id": "ML" + strings.ToUpper(h[22:32]), "type": "payment.updated", "event_id": eventID, "created_at": ts,
		"data": map[string]any{"type": "payment", "id": payID, "object": map[string]any{"payment": map[string]any{
			"id": payID, "status": "COMPLETED", "reference_id": order, "order_id": "ORDER" + strings.ToUpper(h[:20]),
			"amount_money": map[string]any{"amount": json.Number("1050"), "currency": "USD"},
			"source_type":  "CARD", "created_at": ts, "updated_at": ts,
		}}},
	}
}

// Sign implements Signer: signed over the configured url and the body.
func (v *Square) Sign(d Draft) (Notification, error) {
	body, err := MarshalCompact(d.Fields)
	if err != nil {
		return Notification{}, err
	}
	sig, err := v.sig.sign(body)
	if err != nil {
		return Notification{}, err
	}
	n := newNotification(d.Path, JSONType, body)
	n.Header.Set(squareHeader, sig)
	return n, nil
}
