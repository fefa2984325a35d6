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
	return verifySignedJSONDoc(r, func() error { return v.sig.check(r.Header, r.Body) }, paystackFields, v.normalize)
}

// paystackStatuses maps the event; other events are StatusUnknown.
var paystackStatuses = map[string]Status{
	"charge.success":        StatusSucceeded,
	"charge.failed":         StatusFailed,
	"refund.processed":      StatusRefunded,
	"charge.dispute.create": StatusDisputed,
}

// normalize reads event (charge.success, …: the status) and data: id,
// reference, transaction_reference (refunds), status, amount (kobo,
// pesewas, cents: minor units), currency, gateway_response, channel,
// ip_address, paid_at, created_at, transaction.id and .reference (disputes),
// customer.first_name, .last_name, .email and .phone. The ids and
// references are strings or numbers.
func (v *Paystack) normalize(root jsonValue, r *Request) (Event, error) {
	var m docFields
	event := m.str(root, "event", "event")
	data := m.obj(root, "data", "data")
	id := m.id(data, "id", "data.id")
	reference := m.id(data, "reference", "data.reference")
	txReference := m.id(data, "transaction_reference", "data.transaction_reference")
	status := m.str(data, "status", "data.status")
	amount := m.num(data, "amount", "data.amount")
	currency := m.str(data, "currency", "data.currency")
	gatewayResponse := m.str(data, "gateway_response", "data.gateway_response")
	channel := m.str(data, "channel", "data.channel")
	ipAddress := m.str(data, "ip_address", "data.ip_address")
	paidAt := m.str(data, "paid_at", "data.paid_at")
	createdAt := m.str(data, "created_at", "data.created_at")
	transaction := m.obj(data, "transaction", "data.transaction") // disputes
	transactionID := m.id(transaction, "id", "data.transaction.id")
	disputed := m.id(transaction, "reference", "data.transaction.reference")
	customer := m.obj(data, "customer", "data.customer")
	firstName := m.str(customer, "first_name", "data.customer.first_name")
	lastName := m.str(customer, "last_name", "data.customer.last_name")
	email := m.str(customer, "email", "data.customer.email")
	phone := m.str(customer, "phone", "data.customer.phone")
	if m.err != nil {
		return Event{}, m.err
	}
	if event == "" {
		return Event{}, fmt.Errorf("%w: mandatory field event is missing", ErrMalformed)
	}
	if id == "" {
		return Event{}, fmt.Errorf("%w: mandatory field data.id is missing", ErrMalformed)
	}
	e := NewEvent(v.Provider(), r)
	// No event id is sent, and nothing counts retries: the event, the id of
	// the object it is about and that object's status identify it.
	e.ID = EventID(e.Provider, event, id, status)
	e.ProviderStatus = event
	e.Status = paystackStatuses[event]
	if e.Status == "" {
		e.Status = StatusUnknown
	}
	var err error
	if e.OrderID, err = v.orderID.read(root, e.Status, reference, txReference, disputed); err != nil {
		return Event{}, err
	}
	e.TransactionID = id
	if transactionID != "" {
		e.TransactionID = transactionID // the disputed charge
	}
	e.Reason = gatewayResponse
	e.PaymentMethod = channel
	e.Customer = NewCustomer(firstName+" "+lastName, email, phone, ipAddress)
	occurred := paidAt
	if occurred == "" {
		occurred = createdAt
	}
	e.OccurredAt = ParseTime(occurred, time.RFC3339Nano)
	if err := SetAmount(&e, "data.amount", amount, currency, MinorUnits); err != nil {
		return Event{}, err
	}
	e.Raw = root.d.compactRaw() // compacted, as sent
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
