package verifiers

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
)

func init() {
	caddy.RegisterModule(Mollie{})
}

// mollieAPI is the default inquire URL: Mollie's API, test and live keys
// alike.
const mollieAPI = "https://api.mollie.com"

// Mollie verifies Mollie's classic webhooks: a form POST whose body is only
// id=tr_..., the id of a payment whose status changed. Nothing in it can be
// trusted, so the payment is fetched from Mollie's payments API with the
// API key (verify by inquiry), and the event is built from Mollie's answer.
// With secret, the X-Mollie-Signature header (hex HMAC-SHA256 of the body)
// is also required.
type Mollie struct {
	Inquiry
	// APIKey is the Mollie API key (live_... or test_...) the payment is
	// fetched with.
	APIKey string `json:"api_key,omitempty"`
	// Secrets are the webhook signing secrets; none: no signature is
	// required (classic webhooks are not signed).
	Secrets Secrets `json:"secrets,omitempty"`
	// OrderID is the dot-separated path into Mollie's payment to the
	// merchant's order reference. Default metadata.order_id.
	OrderID string `json:"order_id,omitempty"`

	apiKey    string
	macs      *HMACKeys // nil without secret
	orderPath JSONPath
}

// CaddyModule returns the Caddy module information.
func (Mollie) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: Namespace + ".mollie", New: func() caddy.Module { return new(Mollie) }}
}

var mollieOrderPath = MustJSONPath("metadata.order_id")

// Options implements Provider.
func (v *Mollie) Options() []Option {
	return append([]Option{
		StringOption("api_key", "<key>", "the Mollie API key (live_... or test_...) each payment is fetched with; {env.*} and {file.*} work", &v.APIKey),
		v.Secrets.Option("the webhook signing secret, when X-Mollie-Signature is to be required (optional)"),
		StringOption("order_id", "<path>", "where the order reference is in Mollie's payment: a dot-separated path (default metadata.order_id)", &v.OrderID),
	}, v.Inquiry.Options("Mollie's API base URL (default "+mollieAPI+")")...)
}

// CheckConfig implements Provider.
func (v *Mollie) CheckConfig() error {
	if v.APIKey == "" {
		return &OptionError{Option: "api_key", Msg: `required for provider "mollie" (the API key each payment is fetched with)`}
	}
	if len(v.Secrets) > 0 {
		if err := v.Secrets.Check("mollie", ""); err != nil {
			return err
		}
	}
	if err := CheckPath("order_id", v.OrderID); err != nil {
		return err
	}
	return v.Inquiry.CheckConfig(mollieAPI)
}

// About implements Provider.
func (v *Mollie) About() About {
	return About{
		Scheme:  "none in the notification (the form body is only id=tr_...): the payment is fetched from Mollie's API and the event built from the answer; with secret, X-Mollie-Signature: hex HMAC-SHA256 of the body is also required",
		Inquire: "always: GET <inquire>/v2/payments/<id> with the API key, for every notification (the event id comes from the answer, so a duplicate costs one call too)",
	}
}

// Provision implements caddy.Provisioner.
func (v *Mollie) Provision(caddy.Context) error {
	if err := v.CheckConfig(); err != nil {
		return err
	}
	var err error
	if v.apiKey, err = InquiryCredential("api_key", v.APIKey, true); err != nil {
		return err
	}
	if len(v.Secrets) > 0 {
		if v.macs, err = v.Secrets.HMAC(sha256.New); err != nil {
			return err
		}
	}
	v.orderPath = mollieOrderPath
	if v.OrderID != "" {
		v.orderPath = MustJSONPath(v.OrderID)
	}
	return v.Inquiry.Provision(mollieAPI)
}

// Provider implements Verifier.
func (v *Mollie) Provider() string { return "mollie" }

// Methods implements Verifier.
func (v *Mollie) Methods() []string { return []string{http.MethodPost} }

// ACK implements Verifier: any 200; Mollie reads no body.
func (v *Mollie) ACK() ACK { return ACK{Status: http.StatusOK} }

// CredentialHeaders implements CredentialHeaderer.
func (v *Mollie) CredentialHeaders() []string { return []string{"X-Mollie-Signature"} }

// Inquires implements Inquirer: always.
func (v *Mollie) Inquires() bool { return true }

// Verify implements Verifier.
func (v *Mollie) Verify(ctx context.Context, r *Request) ([]Event, error) {
	return VerifyByInquiry(ctx, v, r)
}

// molliePaymentID is a payment id as it may go into the API's URL path:
// nothing that could climb out of /v2/payments/ or start a query.
var molliePaymentID = regexp.MustCompile(`^tr_[A-Za-z0-9]{1,64}$`)

// mollieFields are the fields of a classic webhook.
var mollieFields = map[string]bool{"id": true}

// Notice implements Inquirer: the method, the form, the signature when
// secret is set, and the payment id. The event's status and id come from
// Mollie's answer: the stated event has an empty ID.
func (v *Mollie) Notice(r *Request) ([]Event, error) {
	if r.Method != http.MethodPost {
		return nil, fmt.Errorf("%w: %s", ErrMethod, r.Method)
	}
	if err := CheckContentType(r.Header.Get("Content-Type"), FormType); err != nil {
		return nil, err
	}
	if v.macs != nil {
		if err := v.checkSignature(r.Header.Values("X-Mollie-Signature"), r.Body); err != nil {
			return nil, err
		}
	}
	fields, err := parseURLEncoded("form field", string(r.Body))
	if err != nil {
		return nil, err
	}
	if err := RefuseShadowingQuery(r.RawQuery, fields, mollieFields); err != nil {
		return nil, err
	}
	id := fields["id"]
	switch {
	case id == "":
		return nil, fmt.Errorf("%w: mandatory field id is missing", ErrMalformed)
	case !molliePaymentID.MatchString(id):
		return nil, fmt.Errorf("%w: field id is not a Mollie payment id (tr_ and 1 to 64 letters or digits)", ErrMalformed)
	}
	e := NewEvent(v.Provider(), r)
	e.Status = StatusUnknown
	e.TransactionID = id
	e.Raw = marshalStringMap(map[string]string{"id": id}, nil)
	return []Event{e}, nil
}

// checkSignature: X-Mollie-Signature is the hex HMAC-SHA256 of the body,
// optionally prefixed sha256=; the header may be given several times
// (Mollie's secret rotation), and any value matching any secret passes.
func (v *Mollie) checkSignature(values []string, body []byte) error {
	if len(values) == 0 {
		return fmt.Errorf("%w: no X-Mollie-Signature header", ErrSignature)
	}
	sigs := make([][]byte, 0, len(values))
	for _, value := range values {
		value = strings.TrimPrefix(value, "sha256=")
		sig := make([]byte, sha256.Size)
		if decodeHex(sig, value) {
			sigs = append(sigs, sig)
		}
	}
	if len(sigs) == 0 {
		return fmt.Errorf("%w: X-Mollie-Signature header is not a hex HMAC-SHA256", ErrSignature)
	}
	if !v.macs.Match(body, sigs...) {
		return fmt.Errorf("%w: X-Mollie-Signature header matches none of the %d configured secrets", ErrSignature, v.macs.Secrets())
	}
	return nil
}

// mollieAmount is Mollie's money: a decimal string in major units.
type mollieAmount struct {
	Value    string `json:"value"`
	Currency string `json:"currency"`
}

// molliePayment is what is read of Mollie's payment object.
type molliePayment struct {
	Resource          string        `json:"resource"`
	ID                string        `json:"id"`
	Status            string        `json:"status"`
	Amount            *mollieAmount `json:"amount"`
	AmountRefunded    *mollieAmount `json:"amountRefunded"`
	AmountChargedBack *mollieAmount `json:"amountChargedBack"`
	Method            string        `json:"method"`
	ProfileID         string        `json:"profileId"`
	CreatedAt         string        `json:"createdAt"`
	PaidAt            string        `json:"paidAt"`
	AuthorizedAt      string        `json:"authorizedAt"`
	CanceledAt        string        `json:"canceledAt"`
	ExpiredAt         string        `json:"expiredAt"`
	FailedAt          string        `json:"failedAt"`
	Details           struct {
		ConsumerName   string `json:"consumerName"`
		CardHolder     string `json:"cardHolder"`
		FailureReason  string `json:"failureReason"`
		FailureMessage string `json:"failureMessage"`
	} `json:"details"`
}

// mollieStatuses maps a payment's status; other statuses are StatusUnknown.
var mollieStatuses = map[string]Status{
	"paid":       StatusSucceeded,
	"authorized": StatusAuthorized,
	"open":       StatusPending,
	"pending":    StatusPending,
	"failed":     StatusFailed,
	"canceled":   StatusCancelled,
	"expired":    StatusExpired,
}

// mollieWhat names the call in errors.
const mollieWhat = "Mollie's payments API"

// Inquire implements Inquirer: GET <inquire>/v2/payments/<id> with the API
// key, and the event built from the payment Mollie answers.
func (v *Mollie) Inquire(ctx context.Context, r *Request, stated []Event) ([]Event, error) {
	if len(stated) != 1 || !molliePaymentID.MatchString(stated[0].TransactionID) {
		return nil, fmt.Errorf("%w: not a notification Notice stated", ErrMalformed)
	}
	id := stated[0].TransactionID
	req, err := http.NewRequest(http.MethodGet, v.Endpoint("/v2/payments/"+id, ""), nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInquiry, err)
	}
	req.Header.Set("Authorization", "Bearer "+v.apiKey)
	req.Header.Set("Accept", JSONType)
	a, err := v.Do(ctx, req)
	if err != nil {
		return nil, err
	}
	switch a.Status {
	case http.StatusOK:
	case http.StatusNotFound:
		// Not a payment of this API key's account: a forged id.
		return nil, fmt.Errorf("%w: Mollie does not know the payment of field id (%s answered 404)", ErrSignature, mollieWhat)
	default:
		return nil, a.Unexpected(mollieWhat)
	}
	e, err := v.normalize(id, a.Body, r)
	if err != nil {
		return nil, err
	}
	return []Event{e}, nil
}

// normalize builds the event of the payment id from Mollie's answer.
func (v *Mollie) normalize(id string, answer []byte, r *Request) (Event, error) {
	unreadable := func(why string) error {
		return fmt.Errorf("%w: %s answered 200 with %s", ErrInquiry, mollieWhat, why)
	}
	if CheckJSON(answer) != nil {
		return Event{}, unreadable("something that is not a JSON object")
	}
	var p molliePayment
	if err := json.Unmarshal(answer, &p); err != nil {
		return Event{}, unreadable("a payment it cannot read")
	}
	switch {
	case p.Resource != "payment":
		return Event{}, unreadable("something that is not a payment (resource)")
	case p.ID != id:
		return Event{}, unreadable("another payment than the one asked for (id)")
	case p.Status == "":
		return Event{}, unreadable("a payment without a status")
	case p.Amount == nil:
		return Event{}, unreadable("a payment without an amount")
	}
	e := NewEvent(v.Provider(), r)
	e.ProviderStatus = p.Status
	e.Status = mollieStatuses[p.Status]
	if e.Status == "" {
		e.Status = StatusUnknown
	}
	amount, field := p.Amount, "amount.value"
	// Mollie calls the same webhook when a paid payment is refunded or
	// charged back; the payment's status stays paid. Without this the
	// refund would be the paid event again, and deduplicated.
	refunded, err := positiveAmount(p.AmountRefunded)
	if err != nil {
		return Event{}, unreadable("an amountRefunded that is not a decimal")
	}
	chargedBack, err := positiveAmount(p.AmountChargedBack)
	if err != nil {
		return Event{}, unreadable("an amountChargedBack that is not a decimal")
	}
	if p.Status == "paid" {
		switch {
		case chargedBack != "":
			e.Status, amount, field = StatusDisputed, p.AmountChargedBack, "amountChargedBack.value"
		case refunded != "":
			e.Status, amount, field = StatusRefunded, p.AmountRefunded, "amountRefunded.value"
		}
	}
	if err := SetAmount(&e, field, amount.Value, amount.Currency, MajorUnits); err != nil {
		return Event{}, unreadable("an " + field + " that is not a decimal")
	}
	if e.OrderID, err = v.orderPath.Text(answer); err != nil {
		return Event{}, err
	}
	if e.OrderID == "" && e.Status != StatusUnknown {
		return Event{}, fmt.Errorf("%w: no order reference at %s in Mollie's payment", ErrMalformed, v.orderPath)
	}
	e.TransactionID = p.ID
	e.MerchantID = p.ProfileID
	e.PaymentMethod = p.Method
	e.Reason = p.Details.FailureMessage
	if e.Reason == "" {
		e.Reason = p.Details.FailureReason
	}
	e.ResponseCode = p.Details.FailureReason
	occurred := map[string]string{"paid": p.PaidAt, "authorized": p.AuthorizedAt, "canceled": p.CanceledAt,
		"expired": p.ExpiredAt, "failed": p.FailedAt}[p.Status]
	if occurred == "" {
		occurred = p.CreatedAt
	}
	e.OccurredAt = ParseTime(occurred, time.RFC3339Nano)
	holder := p.Details.ConsumerName
	if holder == "" {
		holder = p.Details.CardHolder
	}
	e.Customer = NewCustomer(holder, "", "", "")
	// The status comes from the answer: a new status, refund or
	// chargeback is a new event, a retry of the same one is not.
	e.ID = EventID(e.Provider, p.ID, p.Status, refunded, chargedBack)
	var raw bytes.Buffer
	if err := json.Compact(&raw, answer); err != nil {
		return Event{}, unreadable("a payment it cannot read")
	}
	e.Raw = raw.Bytes() // Mollie's answer: the notification itself is only the id
	return e, nil
}

// positiveAmount returns the value of a, "" when a is absent or zero.
func positiveAmount(a *mollieAmount) (string, error) {
	if a == nil || a.Value == "" {
		return "", nil
	}
	d, err := parseDecimal(a.Value)
	if err != nil {
		return "", err
	}
	if d.Sign() <= 0 {
		return "", nil
	}
	return d.String(), nil
}

// Example implements Signer: the notification of the payment tr_<order's
// letters and digits>; the order itself is in the payment Mollie answers
// with (the stand-in the route's inquire names must know it).
func (v *Mollie) Example(order string, _ time.Time) map[string]any {
	id := alnum(order)
	if id == "" {
		id = "test"
	}
	if len(id) > 64 {
		id = id[:64]
	}
	return map[string]any{"id": "tr_" + id}
}

// Sign implements Signer: the form, with X-Mollie-Signature when a secret
// is configured.
func (v *Mollie) Sign(d Draft) (Notification, error) {
	f, err := FlatFields(d.Fields)
	if err != nil {
		return Notification{}, err
	}
	body := []byte(EncodeForm(f))
	n := newNotification(d.Path, FormType, body)
	if v.macs != nil {
		sig, err := signHex(v.macs, body)
		if err != nil {
			return Notification{}, err
		}
		n.Header.Set("X-Mollie-Signature", "sha256="+sig)
	}
	return n, nil
}
