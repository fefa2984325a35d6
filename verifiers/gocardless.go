package verifiers

import (
	"context"
	"crypto/sha256"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
)

func init() {
	caddy.RegisterModule(GoCardless{})
}

// GoCardless verifies GoCardless webhooks: a JSON POST of a batch of events,
// {"events":[...],"meta":{"webhook_id":"WB..."}}, whose Webhook-Signature
// header is the hex HMAC-SHA256 of the raw body keyed with the webhook
// endpoint's secret. Each event becomes one event of its own. A missing or
// wrong signature is answered 498, as GoCardless' own libraries do.
//
// GoCardless events are thin: they name the resource (links.payment) and
// what happened to it (resource_type, action), never the amount, which is
// on the payment resource itself (GET /payments/{id}). The events carry no
// amount, and neither do the events made of them.
type GoCardless struct {
	// Secrets are the webhook endpoint secrets.
	Secrets Secrets `json:"secrets,omitempty"`

	macs *HMACKeys // HMAC-SHA256 keyed with each secret
}

// CaddyModule returns the Caddy module information.
func (GoCardless) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: Namespace + ".gocardless", New: func() caddy.Module { return new(GoCardless) }}
}

const gocardlessSecretDoc = "the webhook endpoint's secret"

// Options implements Provider.
func (v *GoCardless) Options() []Option { return []Option{v.Secrets.Option(gocardlessSecretDoc)} }

// CheckConfig implements Provider.
func (v *GoCardless) CheckConfig() error { return v.Secrets.Check("gocardless", gocardlessSecretDoc) }

// About implements Provider.
func (v *GoCardless) About() About {
	return About{Scheme: "Webhook-Signature header: hex HMAC-SHA256 of the body; one event per events[] element, ACK (204) once every event was delivered, 498 for a missing or wrong signature"}
}

// Provision implements caddy.Provisioner.
func (v *GoCardless) Provision(caddy.Context) (err error) {
	if err := v.CheckConfig(); err != nil {
		return err
	}
	v.macs, err = v.Secrets.HMAC(sha256.New)
	return err
}

// The fields of an event, read by readGoCardlessEvent: id (EV…, the event
// id), created_at, resource_type (payments, mandates, payouts, …), action
// (confirmed, failed, …), links.payment (PM…), and details: cause
// (GoCardless' own code, the same for every scheme), description, scheme
// (bacs, sepa_core, …).
type gocardlessEvent struct {
	ID, CreatedAt, ResourceType, Action string
	Payment                             string // links.payment
	Cause, Description, Scheme          string // details.*
}

// gocardlessOrderPaths are where a merchant's order reference can be: the
// payment's metadata (resource_metadata, set when the payment was created)
// and the event's own metadata.
var gocardlessOrderPaths = []JSONPath{MustJSONPath("resource_metadata.order_id"), MustJSONPath("metadata.order_id")}

// gocardlessFields are the top-level members of a webhook; a query
// parameter may not shadow them.
var gocardlessFields = map[string]bool{"events": true, "meta": true}

// Provider implements Verifier.
func (v *GoCardless) Provider() string { return "gocardless" }

// CredentialHeaders implements CredentialHeaderer.
func (v *GoCardless) CredentialHeaders() []string { return []string{"Webhook-Signature"} }

// Methods implements Verifier.
func (v *GoCardless) Methods() []string { return []string{http.MethodPost} }

// ACK implements Verifier: 204, as GoCardless' libraries answer.
func (v *GoCardless) ACK() ACK { return ACK{Status: http.StatusNoContent} }

// SignatureStatus implements SignatureStatuser: GoCardless' libraries answer
// a bad signature with 498 (invalid token).
func (v *GoCardless) SignatureStatus() int { return 498 }

// Verify implements Verifier.
func (v *GoCardless) Verify(_ context.Context, r *Request) ([]Event, error) {
	// One signature over the raw body covers every event of the batch.
	authenticate := func() error {
		return CheckHexHMAC("Webhook-Signature header", r.Header.Get("Webhook-Signature"), v.macs, r.Body)
	}
	d, err := checkSignedJSONDoc(r, authenticate, gocardlessFields)
	if err != nil {
		return nil, err
	}
	defer d.release()
	// The members as encoding/json read them into {events []json.RawMessage;
	// meta {webhook_id string}}: each of the wrong JSON type is refused.
	root := d.root()
	var f docFields
	list := f.arr(root, "events", "events")
	f.str(f.obj(root, "meta", "meta"), "webhook_id", "meta.webhook_id")
	if f.err != nil {
		return nil, f.err
	}
	if err := checkBatchSize("events", list.Len()); err != nil {
		return nil, err
	}
	events := make([]Event, list.Len())
	i := 0
	for raw := range list.Elements {
		e, err := v.normalize(i, raw, r)
		if err != nil {
			return nil, err
		}
		events[i] = e
		i++
	}
	return events, nil
}

// readGoCardlessEvent reads events[i], an object, as encoding/json read it
// into a struct: a member of the wrong JSON type is refused.
func readGoCardlessEvent(i int, raw jsonValue) (gocardlessEvent, error) {
	f := docFields{list: "events", index: i}
	ge := gocardlessEvent{
		ID:           f.str(raw, "id", "id"),
		CreatedAt:    f.str(raw, "created_at", "created_at"),
		ResourceType: f.str(raw, "resource_type", "resource_type"),
		Action:       f.str(raw, "action", "action"),
	}
	ge.Payment = f.str(f.obj(raw, "links", "links"), "payment", "links.payment")
	details := f.obj(raw, "details", "details")
	ge.Cause = f.str(details, "cause", "details.cause")
	ge.Description = f.str(details, "description", "details.description")
	ge.Scheme = f.str(details, "scheme", "details.scheme")
	return ge, f.err
}

// gocardlessPaymentStatuses maps the action of a payments event; the other
// resource types (mandates, payouts, refunds, …) are StatusUnknown.
var gocardlessPaymentStatuses = map[string]Status{
	"confirmed":          StatusSucceeded,
	"paid_out":           StatusSucceeded,
	"created":            StatusPending,
	"submitted":          StatusPending,
	"pending_submission": StatusPending,
	"failed":             StatusFailed,
	"cancelled":          StatusCancelled,
	"charged_back":       StatusDisputed,
}

func (v *GoCardless) normalize(i int, raw jsonValue, r *Request) (Event, error) {
	if raw.Kind() != '{' {
		return Event{}, fmt.Errorf("%w: events[%d] is not an object", ErrMalformed, i)
	}
	ge, err := readGoCardlessEvent(i, raw)
	if err != nil {
		return Event{}, err
	}
	for _, m := range []struct{ name, value string }{
		{"id", ge.ID}, {"resource_type", ge.ResourceType}, {"action", ge.Action},
	} {
		if m.value == "" {
			return Event{}, fmt.Errorf("%w: events[%d]: mandatory field %s is missing", ErrMalformed, i, m.name)
		}
	}
	e := NewEvent(v.Provider(), r)
	e.ID = ge.ID // GoCardless' own id, the same on every retry
	e.ProviderStatus = ge.ResourceType + "." + ge.Action
	e.Status = StatusUnknown
	if ge.ResourceType == "payments" {
		if s, ok := gocardlessPaymentStatuses[ge.Action]; ok {
			e.Status = s
		}
	}
	e.TransactionID = ge.Payment
	if e.Status != StatusUnknown && e.TransactionID == "" {
		// The payment is what the merchant knows the event by: it created
		// it and kept its id.
		return Event{}, fmt.Errorf("%w: events[%d]: links.payment is missing", ErrMalformed, i)
	}
	// The order reference is optional: a payment created without metadata
	// is known to the merchant by its id (transaction_id), and GoCardless'
	// own test events carry none.
	order, _, err := raw.firstText(gocardlessOrderPaths)
	if err != nil {
		return Event{}, fmt.Errorf("%w: events[%d]: %v", ErrMalformed, i, err)
	}
	e.OrderID = order
	e.Reason = ge.Description
	e.ResponseCode = ge.Cause
	e.PaymentMethod = ge.Scheme
	e.OccurredAt = ParseTime(ge.CreatedAt, time.RFC3339Nano)
	e.Raw = compactValue(raw) // the event, compacted, as sent
	return e, nil
}

// Example implements Signer: a confirmed payment in a batch of one.
func (v *GoCardless) Example(order string, now time.Time) map[string]any {
	ref := strings.ToUpper(alnum(order))
	return map[string]any{
		"events": []any{map[string]any{
			"id": "EV" + ref, "created_at": now.UTC().Format("2006-01-02T15:04:05.000Z"),
			"resource_type": "payments", "action": "confirmed",
			"links": map[string]any{"payment": "PM" + ref},
			"details": map[string]any{"origin": "gocardless", "cause": "payment_confirmed", "scheme": "bacs",
				"description": "Enough time has passed since the payment was submitted for the banks to return an error, so this payment is now confirmed."},
			"metadata":          map[string]any{},
			"resource_metadata": map[string]any{"order_id": order},
		}},
		"meta": map[string]any{"webhook_id": "WB" + ref},
	}
}

// Sign implements Signer.
func (v *GoCardless) Sign(d Draft) (Notification, error) {
	body, err := MarshalCompact(d.Fields)
	if err != nil {
		return Notification{}, err
	}
	sig, err := signHex(v.macs, body)
	if err != nil {
		return Notification{}, err
	}
	n := newNotification(d.Path, JSONType, body)
	n.Header.Set("Webhook-Signature", sig)
	return n, nil
}
