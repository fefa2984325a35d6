package verifiers

import (
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/caddyserver/caddy/v2"
)

func init() {
	caddy.RegisterModule(Paystack{})
}

// Paystack verifies Paystack webhooks: a JSON POST of one event whose
// X-Paystack-Signature header is the hex HMAC-SHA512 of the raw body, keyed
// with the account's secret API key (sk_live_…; Paystack has no separate
// webhook secret). Paystack sends no event id: the id is a hash of the
// event, the object's id and its status.
type Paystack struct {
	// Secrets are the secret API keys (sk_live_… or sk_test_…).
	Secrets Secrets `json:"secrets,omitempty"`
	// OrderID is the path of the merchant's order reference in the body;
	// empty: data.reference, then data.transaction_reference (refunds),
	// then data.transaction.reference (disputes).
	OrderID string `json:"order_id,omitempty"`

	sig     headerHMAC
	orderID orderIDSource
}

// CaddyModule returns the Caddy module information.
func (Paystack) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: Namespace + ".paystack", New: func() caddy.Module { return new(Paystack) }}
}

// Options implements Provider.
func (v *Paystack) Options() []Option {
	return []Option{
		v.Secrets.Option("the secret API key (sk_live_… or sk_test_…), which Paystack signs webhooks with"),
		PathOption("order_id", "where the merchant's order reference is; default data.reference, then data.transaction_reference, then data.transaction.reference", &v.OrderID),
	}
}

// CheckConfig implements Provider.
func (v *Paystack) CheckConfig() error {
	if err := v.Secrets.Check("paystack", "the secret API key"); err != nil {
		return err
	}
	return CheckPath("order_id", v.OrderID)
}

// About implements Provider.
func (v *Paystack) About() About {
	return About{Scheme: "X-Paystack-Signature header: hex HMAC-SHA512 of the body, keyed with the secret API key"}
}

// paystackOrderIDs are the default paths of order_id: the transaction's
// reference (the merchant's, charges), the refunded transaction's, the
// disputed transaction's.
var paystackOrderIDs = []JSONPath{
	MustJSONPath("data.reference"),
	MustJSONPath("data.transaction_reference"),
	MustJSONPath("data.transaction.reference"),
}

// Provision implements caddy.Provisioner.
func (v *Paystack) Provision(caddy.Context) error {
	if err := v.CheckConfig(); err != nil {
		return err
	}
	keys, err := v.Secrets.HMAC(sha512.New)
	if err != nil {
		return err
	}
	v.sig = newHeaderHMAC("X-Paystack-Signature", keys)
	v.orderID, err = newOrderIDSource(v.OrderID, paystackOrderIDs)
	return err
}

// The fields.
type paystackEvent struct {
	Event string `json:"event"` // charge.success, …: the status
	Data  struct {
		ID              idText      `json:"id"`
		Reference       idText      `json:"reference"`
		TxReference     idText      `json:"transaction_reference"` // refunds
		Status          string      `json:"status"`
		Amount          json.Number `json:"amount"` // kobo, pesewas, cents: minor units
		Currency        string      `json:"currency"`
		GatewayResponse string      `json:"gateway_response"`
		Channel         string      `json:"channel"`
		IPAddress       string      `json:"ip_address"`
		PaidAt          string      `json:"paid_at"`
		CreatedAt       string      `json:"created_at"`
		Transaction     *struct {
			ID        idText `json:"id"`
			Reference idText `json:"reference"`
		} `json:"transaction"` // disputes
		Customer struct {
			FirstName string `json:"first_name"`
			LastName  string `json:"last_name"`
			Email     string `json:"email"`
			Phone     string `json:"phone"`
		} `json:"customer"`
	} `json:"data"`
}

// paystackFields are the top-level members of a webhook; a query parameter
// may not shadow them.
var paystackFields = map[string]bool{"event": true, "data": true}

// Provider implements Verifier.
func (v *Paystack) Provider() string { return "paystack" }

// CredentialHeaders implements CredentialHeaderer.
func (v *Paystack) CredentialHeaders() []string { return []string{"X-Paystack-Signature"} }

// Methods implements Verifier.
func (v *Paystack) Methods() []string { return []string{http.MethodPost} }

// ACK implements Verifier: 200; no body is read.
func (v *Paystack) ACK() ACK { return ACK{Status: http.StatusOK} }

// Verify implements Verifier.
func (v *Paystack) Verify(_ context.Context, r *Request) ([]Event, error) {
	return verifySignedJSONEvent(r, func() error { return v.sig.check(r.Header, r.Body) }, paystackFields, v.normalize)
}

// paystackStatuses maps the event; other events are StatusUnknown.
var paystackStatuses = map[string]Status{
	"charge.success":        StatusSucceeded,
	"charge.failed":         StatusFailed,
	"refund.processed":      StatusRefunded,
	"charge.dispute.create": StatusDisputed,
}

func (v *Paystack) normalize(pe *paystackEvent, r *Request) (Event, error) {
	for _, m := range []struct{ name, value string }{{"event", pe.Event}, {"data.id", string(pe.Data.ID)}} {
		if m.value == "" {
			return Event{}, fmt.Errorf("%w: mandatory field %s is missing", ErrMalformed, m.name)
		}
	}
	e := NewEvent(v.Provider(), r)
	// No event id is sent, and nothing counts retries: the event, the id of
	// the object it is about and that object's status identify it.
	e.ID = EventID(e.Provider, pe.Event, string(pe.Data.ID), pe.Data.Status)
	e.ProviderStatus = pe.Event
	e.Status = paystackStatuses[pe.Event]
	if e.Status == "" {
		e.Status = StatusUnknown
	}
	var disputed string
	if pe.Data.Transaction != nil {
		disputed = string(pe.Data.Transaction.Reference)
	}
	var err error
	if e.OrderID, err = v.orderID.read(r.Body, e.Status, string(pe.Data.Reference), string(pe.Data.TxReference), disputed); err != nil {
		return Event{}, err
	}
	e.TransactionID = string(pe.Data.ID)
	if pe.Data.Transaction != nil && pe.Data.Transaction.ID != "" {
		e.TransactionID = string(pe.Data.Transaction.ID) // the disputed charge
	}
	e.Reason = pe.Data.GatewayResponse
	e.PaymentMethod = pe.Data.Channel
	c := pe.Data.Customer
	e.Customer = NewCustomer(c.FirstName+" "+c.LastName, c.Email, c.Phone, pe.Data.IPAddress)
	occurred := pe.Data.PaidAt
	if occurred == "" {
		occurred = pe.Data.CreatedAt
	}
	e.OccurredAt = ParseTime(occurred, time.RFC3339Nano)
	if err := SetAmount(&e, "data.amount", pe.Data.Amount.String(), pe.Data.Currency, MinorUnits); err != nil {
		return Event{}, err
	}
	if e.Raw, err = compactRaw(r.Body); err != nil {
		return Event{}, err
	}
	return e, nil
}

// Example implements Signer.
func (v *Paystack) Example(order string, now time.Time) map[string]any {
	sum := sha256.Sum256([]byte(order))
	id := binary.BigEndian.Uint32(sum[:4]) % 1_000_000_000
	ts := now.UTC().Format("2006-01-02T15:04:05.000Z")
	return map[string]any{
		"event": "charge.success",
		"data": map[string]any{
			"id": json.Number(strconv.FormatUint(uint64(id), 10)), "domain": "test", "status": "success",
			"reference": order, "amount": json.Number("10000"), "currency": "NGN",
			"gateway_response": "Successful", "channel": "card", "paid_at": ts, "created_at": ts,
			"customer": map[string]any{"email": "customer@example.com"},
		},
	}
}

// Sign implements Signer.
func (v *Paystack) Sign(d Draft) (Notification, error) {
	body, err := MarshalCompact(d.Fields)
	if err != nil {
		return Notification{}, err
	}
	sig, err := v.sig.sign(body)
	if err != nil {
		return Notification{}, err
	}
	n := newNotification(d.Path, JSONType, body)
	n.Header.Set("X-Paystack-Signature", sig)
	return n, nil
}
