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

// The fields.
type squareEvent struct {
	MerchantID string `json:"merchant_id"`
	Type       string `json:"type"`     // payment.updated, …
	EventID    string `json:"event_id"` // the idempotency value: the event id
	CreatedAt  string `json:"created_at"`
	Data       struct {
		Object struct {
			Payment *squarePayment `json:"payment"`
			Refund  *squarePayment `json:"refund"`
		} `json:"object"`
	} `json:"data"`
}

// squarePayment is a Payment or a PaymentRefund object.
type squarePayment struct {
	ID          string `json:"id"`
	Status      string `json:"status"`
	AmountMoney struct {
		Amount   json.Number `json:"amount"` // minor units
		Currency string      `json:"currency"`
	} `json:"amount_money"`
	ReferenceID       idText `json:"reference_id"` // the merchant's, payments
	OrderID           idText `json:"order_id"`
	PaymentID         string `json:"payment_id"` // refunds
	SourceType        string `json:"source_type"`
	BuyerEmailAddress string `json:"buyer_email_address"`
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
	return verifySignedJSONEvent(r, func() error { return v.sig.check(r.Header, r.Body) }, squareFields, v.normalize)
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

func (v *Square) normalize(se *squareEvent, r *Request) (Event, error) {
	for _, m := range []struct{ name, value string }{{"event_id", se.EventID}, {"type", se.Type}} {
		if m.value == "" {
			return Event{}, fmt.Errorf("%w: mandatory field %s is missing", ErrMalformed, m.name)
		}
	}
	e := NewEvent(v.Provider(), r)
	e.ID = se.EventID // Square's idempotency value, the same on every retry
	e.MerchantID = se.MerchantID
	e.OccurredAt = ParseTime(se.CreatedAt, time.RFC3339Nano)

	// The status of a payment or refund event is the object's: the event
	// type says only that it changed.
	var object *squarePayment
	kind, _, _ := strings.Cut(se.Type, ".") // payment, refund
	e.ProviderStatus, e.Status = se.Type, StatusUnknown
	switch se.Type {
	case "payment.created", "payment.updated":
		object = se.Data.Object.Payment
		if object == nil || object.Status == "" {
			return Event{}, fmt.Errorf("%w: mandatory field data.object.payment.status is missing", ErrMalformed)
		}
		e.ProviderStatus = object.Status
		if s, ok := squarePaymentStatuses[object.Status]; ok {
			e.Status = s
		}
		e.TransactionID = object.ID
	case "refund.created", "refund.updated":
		object = se.Data.Object.Refund
		if object == nil || object.Status == "" {
			return Event{}, fmt.Errorf("%w: mandatory field data.object.refund.status is missing", ErrMalformed)
		}
		e.ProviderStatus = object.Status
		if se.Type == "refund.updated" && object.Status == "COMPLETED" {
			e.Status = StatusRefunded
		}
		e.TransactionID = object.PaymentID // the payment the app knows
	}
	var payRef, payOrder, refundOrder string
	if p := se.Data.Object.Payment; p != nil {
		payRef, payOrder = string(p.ReferenceID), string(p.OrderID)
	}
	if rf := se.Data.Object.Refund; rf != nil {
		refundOrder = string(rf.OrderID)
	}
	var err error
	if e.OrderID, err = v.orderID.read(r.Body, e.Status, payRef, payOrder, refundOrder); err != nil {
		return Event{}, err
	}
	if object != nil {
		field := "data.object." + kind + ".amount_money.amount"
		if err := SetAmount(&e, field, object.AmountMoney.Amount.String(), object.AmountMoney.Currency, MinorUnits); err != nil {
			return Event{}, err
		}
		e.PaymentMethod = object.SourceType
		e.Customer = NewCustomer("", object.BuyerEmailAddress, "", "")
	}
	if e.Raw, err = compactRaw(r.Body); err != nil {
		return Event{}, err
	}
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
