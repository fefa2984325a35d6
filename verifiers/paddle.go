package verifiers

import (
	"context"
	"crypto/sha256"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
)

func init() {
	caddy.RegisterModule(Paddle{})
}

// PaddleTolerance is the default tolerance of the signed ts. Paddle's Node
// SDK allows 5 seconds, its Go SDK none by default; 5 minutes absorbs clock
// skew and a slow proxy while still refusing a captured notification
// replayed later.
const PaddleTolerance = 5 * time.Minute

// Paddle verifies Paddle Billing webhooks: a JSON POST whose
// Paddle-Signature header carries ts=<unix> and hex HMAC-SHA256 signatures h1
// of "<ts>:<body>", keyed with the notification destination's secret key
// (pdl_ntfset_…) as it is written.
type Paddle struct {
	// Secrets are the notification destinations' secret keys.
	Secrets Secrets `json:"secrets,omitempty"`
	// Tolerance is how far the signed time ts may be from the clock, in
	// either direction. Default 5m.
	Tolerance caddy.Duration `json:"tolerance,omitempty"`
	// OrderID is the dot-separated path into the notification to the
	// merchant's order reference. Default data.custom_data.order_id.
	OrderID string `json:"order_id,omitempty"`

	macs       *HMACKeys
	orderPaths []JSONPath
}

// paddleSignature is Paddle-Signature: ts=<unix>;h1=<hex>[;h1=<hex>…].
var paddleSignature = TimedHMACHeader{Header: "Paddle-Signature", Sep: ";", Time: "ts", Scheme: "h1", Join: ':'}

var paddleOrderPaths = []JSONPath{MustJSONPath("data.custom_data.order_id")}

// CaddyModule returns the Caddy module information.
func (Paddle) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: Namespace + ".paddle", New: func() caddy.Module { return new(Paddle) }}
}

// Options implements Provider.
func (v *Paddle) Options() []Option {
	return []Option{
		v.Secrets.Option("the notification destination's secret key, pdl_ntfset_…"),
		DurationOption("tolerance", "how far the signed time may be from the clock, in either direction (default 5m)", &v.Tolerance),
		PathOption("order_id", "where the order reference is (default data.custom_data.order_id)", &v.OrderID),
	}
}

// CheckConfig implements Provider.
func (v *Paddle) CheckConfig() error {
	if v.Tolerance < 0 {
		return &OptionError{Option: "tolerance", Msg: "negative"}
	}
	if err := CheckPath("order_id", v.OrderID); err != nil {
		return err
	}
	return v.Secrets.Check("paddle", "the notification destination's secret key, pdl_ntfset_…")
}

// About implements Provider.
func (v *Paddle) About() About {
	return About{Scheme: `Paddle-Signature header: ts=<unix>;h1=<hex HMAC-SHA256 of "<ts>:<body>"> keyed with the secret key as written; any h1 may match; ts within tolerance`}
}

// Provision implements caddy.Provisioner.
func (v *Paddle) Provision(caddy.Context) error {
	if err := v.CheckConfig(); err != nil {
		return err
	}
	if v.Tolerance == 0 {
		v.Tolerance = caddy.Duration(PaddleTolerance)
	}
	v.orderPaths = paddleOrderPaths
	if v.OrderID != "" {
		v.orderPaths = []JSONPath{MustJSONPath(v.OrderID)}
	}
	var err error
	v.macs, err = v.Secrets.HMAC(sha256.New)
	return err
}

// Provider implements Verifier.
func (v *Paddle) Provider() string { return "paddle" }

// CredentialHeaders implements CredentialHeaderer.
func (v *Paddle) CredentialHeaders() []string { return []string{"Paddle-Signature"} }

// Methods implements Verifier.
func (v *Paddle) Methods() []string { return []string{http.MethodPost} }

// ACK implements Verifier: a 200 within 5 seconds; Paddle reads no body.
func (v *Paddle) ACK() ACK { return ACK{Status: http.StatusOK} }

// A notification has event_id (evt_…: the same on every retry), event_type,
// occurred_at, notification_id (ntf_…: per destination) and data, the
// entity, read member by member because its shape depends on the event
// type.

// paddleFields are the top-level members of a notification; a query
// parameter may not shadow them.
var paddleFields = map[string]bool{
	"event_id": true, "event_type": true, "occurred_at": true, "notification_id": true, "data": true,
}

// Verify implements Verifier.
func (v *Paddle) Verify(_ context.Context, r *Request) ([]Event, error) {
	authenticate := func() error {
		return paddleSignature.Check(r.Header.Values("Paddle-Signature"), v.macs, r.Body, r.ReceivedAt, time.Duration(v.Tolerance))
	}
	return verifySignedJSONDoc(r, authenticate, paddleFields, v.normalize)
}

// paddleStatuses maps event_type; adjustments depend on their action and
// status (paddleStatus); other types are StatusUnknown.
var paddleStatuses = map[string]Status{
	"transaction.completed":      StatusSucceeded,
	"transaction.paid":           StatusSucceeded,
	"transaction.payment_failed": StatusFailed,
	"transaction.canceled":       StatusCancelled,
	"transaction.past_due":       StatusPending,
}

// paddleStatus maps a notification. An adjustment is a refund once it is
// approved: Paddle creates refunds pending_approval, and a credit or a
// chargeback is another action.
func paddleStatus(eventType string, data jsonValue) Status {
	switch eventType {
	case "adjustment.created", "adjustment.updated":
		if data.Get("action").Str() == "refund" && data.Get("status").Str() == "approved" {
			return StatusRefunded
		}
		return StatusUnknown
	}
	if s, ok := paddleStatuses[eventType]; ok {
		return s
	}
	return StatusUnknown
}

func (v *Paddle) normalize(root jsonValue, r *Request) (Event, error) {
	var m docFields
	eventID := m.str(root, "event_id", "event_id")
	eventType := m.str(root, "event_type", "event_type")
	occurredAt := m.str(root, "occurred_at", "occurred_at")
	m.str(root, "notification_id", "notification_id")
	if m.err != nil {
		return Event{}, m.err
	}
	if eventID == "" {
		return Event{}, fmt.Errorf("%w: mandatory field event_id is missing", ErrMalformed)
	}
	if eventType == "" {
		return Event{}, fmt.Errorf("%w: mandatory field event_type is missing", ErrMalformed)
	}
	data := root.Get("data")
	e := NewEvent(v.Provider(), r)
	e.ID = eventID
	e.ProviderStatus = eventType
	e.Status = paddleStatus(eventType, data)
	e.OccurredAt = ParseTime(occurredAt, time.RFC3339Nano)
	// A payment event the app acts on is read strictly; any other type is
	// forwarded with what could be read of it.
	strict := e.Status != StatusUnknown
	adjustment := strings.HasPrefix(eventType, "adjustment.")
	orderID, _, err := root.firstText(v.orderPaths)
	if err != nil && strict {
		return Event{}, err
	}
	// An adjustment carries no custom_data: the app finds the refunded
	// payment by transaction_id, the txn_… it was told of when it was paid.
	if orderID == "" && strict && !adjustment {
		return Event{}, fmt.Errorf("%w: no order reference at %s", ErrMalformed, joinPaths(v.orderPaths))
	}
	e.OrderID = orderID
	amountField, amount := "data.details.totals.grand_total", data.Get("details").Get("totals").Get("grand_total")
	if strings.HasPrefix(eventType, "transaction.") {
		e.TransactionID = data.Get("id").Str()
	} else {
		e.TransactionID = data.Get("transaction_id").Str() // adjustments, and nothing for other entities
	}
	if adjustment {
		amountField, amount = "data.totals.total", data.Get("totals").Get("total")
		e.Reason = data.Get("reason").Str()
	}
	// The payment attempts: the method of the captured one (else of the
	// first); for a payment that failed or is past due, the error code of
	// the first that failed (a paid one may have failed attempts before).
	if payments := data.Get("payments"); payments.Kind() == '[' {
		i := 0
		for payment := range payments.Elements {
			if method := payment.Get("method_details").Get("type").Str(); i == 0 || payment.Get("status").Str() == "captured" {
				e.PaymentMethod = method
			}
			if e.ResponseCode == "" && (e.Status == StatusFailed || e.Status == StatusPending) {
				e.ResponseCode = payment.Get("error_code").Str()
			}
			i++
		}
	}
	if !amount.IsNull() && !isDigits(amount.Str()) && strict {
		return Event{}, fmt.Errorf("%w: %s is not a string of digits (minor units)", ErrMalformed, amountField)
	}
	if err := SetAmount(&e, amountField, amount.Str(), data.Get("currency_code").Str(), MinorUnits); err != nil {
		if strict {
			return Event{}, err
		}
		e.Amount, e.AmountMinor, e.Currency = "", nil, "" // raw keeps what was sent
	}
	e.Raw = root.d.compactRaw() // compacted, as sent
	return e, nil
}

// Example implements Signer.
func (v *Paddle) Example(order string, now time.Time) map[string]any {
	ref := strings.ToLower(alnum(order))
	at := now.UTC().Format(time.RFC3339Nano)
	return map[string]any{
		"event_id": "evt_" + ref, "event_type": "transaction.completed", "occurred_at": at, "notification_id": "ntf_" + ref,
		"data": map[string]any{
			"id": "txn_" + ref, "status": "completed", "currency_code": "USD", "origin": "web", "billed_at": at,
			"custom_data": map[string]any{"order_id": order},
			"details":     map[string]any{"totals": map[string]any{"subtotal": "1000", "tax": "50", "total": "1050", "grand_total": "1050", "currency_code": "USD"}},
			"payments":    []any{map[string]any{"status": "captured", "amount": "1050", "method_details": map[string]any{"type": "card"}}},
		},
	}
}

// Sign implements Signer: signed at d.Now with the first secret.
func (v *Paddle) Sign(d Draft) (Notification, error) {
	body, err := MarshalCompact(d.Fields)
	if err != nil {
		return Notification{}, err
	}
	header, err := paddleSignature.Sign(v.macs, strconv.FormatInt(d.Now.Unix(), 10), body)
	if err != nil {
		return Notification{}, err
	}
	n := newNotification(d.Path, JSONType, body)
	n.Header.Set("Paddle-Signature", header)
	return n, nil
}

// Interface guards.
var (
	_ Provider = (*Paddle)(nil)
	_ Signer   = (*Paddle)(nil)
)
