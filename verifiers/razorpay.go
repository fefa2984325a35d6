package verifiers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
)

func init() {
	caddy.RegisterModule(Razorpay{})
}

// Razorpay verifies Razorpay webhooks: a JSON POST of one event whose
// X-Razorpay-Signature header is the hex HMAC-SHA256 of the raw body, keyed
// with the webhook secret set in the dashboard (not the API key secret).
// The event id is the X-Razorpay-Event-Id header, the same on every retry.
type Razorpay struct {
	// Secrets are the webhook secrets. After a change in the dashboard,
	// retries of earlier events are still signed with the old one: keep both
	// until they stop.
	Secrets Secrets `json:"secrets,omitempty"`
	// OrderID is the path of the merchant's order reference in the body;
	// empty: payload.payment.entity.notes.order_id, then
	// payload.payment.entity.order_id.
	OrderID string `json:"order_id,omitempty"`

	sig     headerHMAC
	orderID orderIDSource
}

// CaddyModule returns the Caddy module information.
func (Razorpay) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: Namespace + ".razorpay", New: func() caddy.Module { return new(Razorpay) }}
}

// Options implements Provider.
func (v *Razorpay) Options() []Option {
	return []Option{
		v.Secrets.Option("the webhook secret set with the webhook in the Razorpay dashboard (not the API key secret)"),
		PathOption("order_id", "where the merchant's order reference is; default payload.payment.entity.notes.order_id, then payload.payment.entity.order_id", &v.OrderID),
	}
}

// CheckConfig implements Provider.
func (v *Razorpay) CheckConfig() error {
	if err := v.Secrets.Check("razorpay", "the webhook secret"); err != nil {
		return err
	}
	return CheckPath("order_id", v.OrderID)
}

// About implements Provider.
func (v *Razorpay) About() About {
	return About{Scheme: "X-Razorpay-Signature header: hex HMAC-SHA256 of the body, keyed with the webhook secret; event id from the X-Razorpay-Event-Id header"}
}

// razorpayOrderIDs are the default paths of order_id: the reference the
// merchant put in the payment's notes, else Razorpay's order id.
var razorpayOrderIDs = []JSONPath{
	MustJSONPath("payload.payment.entity.notes.order_id"),
	MustJSONPath("payload.payment.entity.order_id"),
}

// razorpayNotedOrder is the first default path, within the notes.
var razorpayNotedOrder = MustJSONPath("order_id")

// Provision implements caddy.Provisioner.
func (v *Razorpay) Provision(caddy.Context) error {
	if err := v.CheckConfig(); err != nil {
		return err
	}
	keys, err := v.Secrets.HMAC(sha256.New)
	if err != nil {
		return err
	}
	v.sig = newHeaderHMAC("X-Razorpay-Signature", keys)
	v.orderID, err = newOrderIDSource(v.OrderID, razorpayOrderIDs)
	return err
}

// razorpayEventIDHeader carries Razorpay's id of the event, the same on
// every retry. It is not covered by the signature.
const razorpayEventIDHeader = "X-Razorpay-Event-Id"

// A webhook has event (payment.captured, …: the status), account_id,
// created_at (Unix seconds) and payload.payment, .order, .refund and
// .dispute, each an entity (razorpayEntity) or null.

// razorpayEntity is payload.<name>.entity: id (pay_…, order_…, rfnd_…,
// disp_…), amount (paise: minor units), currency, payment_id (refunds and
// disputes), method, email, contact, error_code, error_description,
// order_id (a string or a number) and notes, the merchant's key-value pairs
// (an object, or [] when there are none).
type razorpayEntity struct {
	obj                                         jsonValue
	id, amount, currency, paymentID, method     string
	email, contact, errorCode, errorDescription string
	orderID                                     string
}

// razorpayEntityPaths are the entities' member paths, named in errors.
type razorpayEntityPaths struct {
	name                                                                     string
	wrapper, entity, id, amount, currency, paymentID, method, email, contact string
	errorCode, errorDescription, orderID                                     string
}

func newRazorpayEntityPaths(name string) *razorpayEntityPaths {
	e := "payload." + name + ".entity"
	return &razorpayEntityPaths{name: name, wrapper: "payload." + name, entity: e, id: e + ".id", amount: e + ".amount",
		currency: e + ".currency", paymentID: e + ".payment_id", method: e + ".method", email: e + ".email",
		contact: e + ".contact", errorCode: e + ".error_code", errorDescription: e + ".error_description", orderID: e + ".order_id"}
}

var razorpayPayment, razorpayOrder, razorpayRefund, razorpayDispute = newRazorpayEntityPaths("payment"),
	newRazorpayEntityPaths("order"), newRazorpayEntityPaths("refund"), newRazorpayEntityPaths("dispute")

// readRazorpayEntity reads payload.<name>.entity; ok is false when it is
// absent or null.
func readRazorpayEntity(m *docFields, payload jsonValue, p *razorpayEntityPaths) (e razorpayEntity, ok bool) {
	e.obj = m.obj(m.obj(payload, p.name, p.wrapper), "entity", p.entity)
	if !e.obj.Exists() {
		return e, false
	}
	e.id = m.str(e.obj, "id", p.id)
	e.amount = m.num(e.obj, "amount", p.amount)
	e.currency = m.str(e.obj, "currency", p.currency)
	e.paymentID = m.str(e.obj, "payment_id", p.paymentID)
	e.method = m.str(e.obj, "method", p.method)
	e.email = m.str(e.obj, "email", p.email)
	e.contact = m.str(e.obj, "contact", p.contact)
	e.errorCode = m.str(e.obj, "error_code", p.errorCode)
	e.errorDescription = m.str(e.obj, "error_description", p.errorDescription)
	e.orderID = m.id(e.obj, "order_id", p.orderID)
	return e, true
}

// razorpayFields are the top-level members of a webhook; a query parameter
// may not shadow them.
var razorpayFields = map[string]bool{
	"entity": true, "account_id": true, "event": true, "contains": true, "payload": true, "created_at": true,
}

// Provider implements Verifier.
func (v *Razorpay) Provider() string { return "razorpay" }

// CredentialHeaders implements CredentialHeaderer.
func (v *Razorpay) CredentialHeaders() []string { return []string{"X-Razorpay-Signature"} }

// Methods implements Verifier.
func (v *Razorpay) Methods() []string { return []string{http.MethodPost} }

// ACK implements Verifier: any 2xx within 5 seconds; no body is read.
func (v *Razorpay) ACK() ACK { return ACK{Status: http.StatusOK} }

// Verify implements Verifier.
func (v *Razorpay) Verify(_ context.Context, r *Request) ([]Event, error) {
	d, err := checkSignedJSONDoc(r, func() error { return v.sig.check(r.Header, r.Body) }, razorpayFields)
	if err != nil {
		return nil, err
	}
	defer d.release()
	id, err := razorpayEventID(r.Header)
	if err != nil {
		return nil, err
	}
	e, err := v.normalize(id, d.root(), r)
	if err != nil {
		return nil, err
	}
	return []Event{e}, nil
}

// razorpayEventID reads the event id header. It is the dedup key, and it is
// not signed: it must be there once, short and printable ASCII, so that it
// cannot be used to smuggle text into logs and keys.
func razorpayEventID(h http.Header) (string, error) {
	id, err := oneValue(h[razorpayEventIDHeader], razorpayEventIDHeader, ErrMalformed)
	if err != nil {
		return "", err
	}
	if len(id) > 128 {
		return "", fmt.Errorf("%w: %s header is longer than 128 bytes", ErrMalformed, razorpayEventIDHeader)
	}
	for i := 0; i < len(id); i++ {
		if id[i] <= ' ' || id[i] > '~' {
			return "", fmt.Errorf("%w: %s header has a character other than printable ASCII", ErrMalformed, razorpayEventIDHeader)
		}
	}
	return id, nil
}

// razorpayStatuses maps the event; other events are StatusUnknown.
var razorpayStatuses = map[string]Status{
	"payment.captured":        StatusSucceeded,
	"order.paid":              StatusSucceeded,
	"payment.authorized":      StatusAuthorized,
	"payment.failed":          StatusFailed,
	"refund.processed":        StatusRefunded,
	"payment.dispute.created": StatusDisputed,
}

func (v *Razorpay) normalize(id string, root jsonValue, r *Request) (Event, error) {
	var m docFields
	event := m.str(root, "event", "event")
	m.str(root, "account_id", "account_id")
	createdAt := m.num(root, "created_at", "created_at")
	payload := m.obj(root, "payload", "payload")
	payment, paid := readRazorpayEntity(&m, payload, razorpayPayment)
	order, ordered := readRazorpayEntity(&m, payload, razorpayOrder)
	refund, refunded := readRazorpayEntity(&m, payload, razorpayRefund)
	dispute, disputed := readRazorpayEntity(&m, payload, razorpayDispute)
	if m.err != nil {
		return Event{}, m.err
	}
	if event == "" {
		return Event{}, fmt.Errorf("%w: mandatory field event is missing", ErrMalformed)
	}
	e := NewEvent(v.Provider(), r)
	e.ID = id // Razorpay's own, the same on every retry
	// The header is not signed and Razorpay signs no time: dedup goes by
	// the body Razorpay signed (its retries send the same bytes), so that a
	// captured notification resent under a new X-Razorpay-Event-Id is still
	// a duplicate.
	e.ReplayKey = BodyReplayKey("razorpay", r.Body)
	e.ProviderStatus = event
	e.Status = razorpayStatuses[event]
	if e.Status == "" {
		e.Status = StatusUnknown
	}
	var noted, orderID string
	if paid && v.orderID.custom == nil {
		var err error
		if noted, err = payment.obj.Get("notes").Path(razorpayNotedOrder).Text(razorpayNotedOrder); err != nil {
			return Event{}, fmt.Errorf("%w: payload.payment.entity.notes.order_id is not a value", ErrMalformed)
		}
		orderID = payment.orderID
	}
	var err error
	if e.OrderID, err = v.orderID.read(root, e.Status, noted, orderID); err != nil {
		return Event{}, err
	}
	e.OccurredAt = unixTime(createdAt)

	// The amount is the one of the entity the event is about: the refund,
	// the dispute or the order, else the payment.
	entity, found, field := payment, paid, "payload.payment.entity.amount"
	switch {
	case strings.HasPrefix(event, "refund."):
		entity, found, field = refund, refunded, "payload.refund.entity.amount"
	case strings.HasPrefix(event, "payment.dispute."):
		entity, found, field = dispute, disputed, "payload.dispute.entity.amount"
	case strings.HasPrefix(event, "order."):
		entity, found, field = order, ordered, "payload.order.entity.amount"
	}
	if found {
		if err := SetAmount(&e, field, entity.amount, entity.currency, MinorUnits); err != nil {
			return Event{}, err
		}
		e.TransactionID = entity.paymentID
	}
	if paid {
		e.TransactionID = payment.id
		e.PaymentMethod = payment.method
		e.ResponseCode = payment.errorCode
		e.Reason = payment.errorDescription
		e.Customer = NewCustomer("", payment.email, payment.contact, "")
	}
	e.Raw = root.d.compactRaw() // compacted, as sent
	return e, nil
}

// Example implements Signer.
func (v *Razorpay) Example(order string, now time.Time) map[string]any {
	ref := alnum(order)
	return map[string]any{
		"entity": "event", "account_id": "acc_" + ref, "event": "payment.captured", "contains": []any{"payment"},
		"created_at": json.Number(fmt.Sprint(now.Unix())),
		"payload": map[string]any{"payment": map[string]any{"entity": map[string]any{
			"id": "pay_" + ref, "entity": "payment", "amount": json.Number("50000"), "currency": "INR",
			"status": "captured", "order_id": "order_" + ref, "method": "upi", "captured": true,
			"email": "customer@example.com", "contact": "+919000090000",
			"notes":      map[string]any{"order_id": order},
			"created_at": json.Number(fmt.Sprint(now.Unix())),
		}}},
	}
}

// Sign implements Signer. The event id header is derived from the body, so
// that the same notification sent again is a retry of the same event.
func (v *Razorpay) Sign(d Draft) (Notification, error) {
	body, err := MarshalCompact(d.Fields)
	if err != nil {
		return Notification{}, err
	}
	sig, err := v.sig.sign(body)
	if err != nil {
		return Notification{}, err
	}
	n := newNotification(d.Path, JSONType, body)
	n.Header.Set("X-Razorpay-Signature", sig)
	sum := sha256.Sum256(body)
	n.Header.Set(razorpayEventIDHeader, "evt_"+hex.EncodeToString(sum[:7]))
	return n, nil
}
