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

// The fields.
type razorpayEvent struct {
	Event     string      `json:"event"` // payment.captured, …: the status
	AccountID string      `json:"account_id"`
	CreatedAt json.Number `json:"created_at"` // Unix seconds
	Payload   struct {
		Payment razorpayEntity `json:"payment"`
		Order   razorpayEntity `json:"order"`
		Refund  razorpayEntity `json:"refund"`
		Dispute razorpayEntity `json:"dispute"`
	} `json:"payload"`
}

type razorpayEntity struct {
	Entity *struct {
		ID               string      `json:"id"`     // pay_…, order_…, rfnd_…, disp_…
		Amount           json.Number `json:"amount"` // paise: minor units
		Currency         string      `json:"currency"`
		PaymentID        string      `json:"payment_id"` // refunds and disputes
		Method           string      `json:"method"`
		Email            string      `json:"email"`
		Contact          string      `json:"contact"`
		ErrorCode        string      `json:"error_code"`
		ErrorDescription string      `json:"error_description"`
		OrderID          idText      `json:"order_id"`
		// Notes are the merchant's key-value pairs: an object, or [] when
		// there are none.
		Notes json.RawMessage `json:"notes"`
	} `json:"entity"`
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
	if err := CheckSignedJSON(r, func() error { return v.sig.check(r.Header, r.Body) }, razorpayFields); err != nil {
		return nil, err
	}
	id, err := razorpayEventID(r.Header)
	if err != nil {
		return nil, err
	}
	var re razorpayEvent
	if err := json.Unmarshal(r.Body, &re); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	e, err := v.normalize(id, &re, r)
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

func (v *Razorpay) normalize(id string, re *razorpayEvent, r *Request) (Event, error) {
	if re.Event == "" {
		return Event{}, fmt.Errorf("%w: mandatory field event is missing", ErrMalformed)
	}
	e := NewEvent(v.Provider(), r)
	e.ID = id // Razorpay's own, the same on every retry
	// The header is not signed and Razorpay signs no time: dedup goes by
	// the body Razorpay signed (its retries send the same bytes), so that a
	// captured notification resent under a new X-Razorpay-Event-Id is still
	// a duplicate.
	e.ReplayKey = BodyReplayKey("razorpay", r.Body)
	e.ProviderStatus = re.Event
	e.Status = razorpayStatuses[re.Event]
	if e.Status == "" {
		e.Status = StatusUnknown
	}
	var noted, order string
	if pay := re.Payload.Payment.Entity; pay != nil && v.orderID.custom == nil {
		var err error
		if noted, err = razorpayNotedOrder.Text(pay.Notes); err != nil {
			return Event{}, fmt.Errorf("%w: payload.payment.entity.notes.order_id is not a value", ErrMalformed)
		}
		order = string(pay.OrderID)
	}
	var err error
	if e.OrderID, err = v.orderID.read(r.Body, e.Status, noted, order); err != nil {
		return Event{}, err
	}
	e.OccurredAt = unixTime(re.CreatedAt)

	// The amount is the one of the entity the event is about: the refund,
	// the dispute or the order, else the payment.
	entity, field := re.Payload.Payment.Entity, "payload.payment.entity.amount"
	for _, about := range []struct {
		prefix string
		entity razorpayEntity
		field  string
	}{
		{"refund.", re.Payload.Refund, "payload.refund.entity.amount"},
		{"payment.dispute.", re.Payload.Dispute, "payload.dispute.entity.amount"},
		{"order.", re.Payload.Order, "payload.order.entity.amount"},
	} {
		if strings.HasPrefix(re.Event, about.prefix) {
			entity, field = about.entity.Entity, about.field
			break
		}
	}
	if entity != nil {
		if err := SetAmount(&e, field, entity.Amount.String(), entity.Currency, MinorUnits); err != nil {
			return Event{}, err
		}
		e.TransactionID = entity.PaymentID
	}
	if pay := re.Payload.Payment.Entity; pay != nil {
		e.TransactionID = pay.ID
		e.PaymentMethod = pay.Method
		e.ResponseCode = pay.ErrorCode
		e.Reason = pay.ErrorDescription
		e.Customer = NewCustomer("", pay.Email, pay.Contact, "")
	}
	if e.Raw, err = compactRaw(r.Body); err != nil {
		return Event{}, err
	}
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
