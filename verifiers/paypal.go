package verifiers

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
)

func init() {
	caddy.RegisterModule(PayPal{})
}

// PayPal verifies PayPal's REST webhooks. A webhook is signed with RSA by
// PayPal (five PAYPAL-* transmission headers), over the transmission id and
// time, the receiver's webhook id and the CRC-32 of the body. paynotify does
// not download PayPal's certificates: it asks PayPal's verify API
// (POST /v1/notifications/verify-webhook-signature) about every new event,
// with an OAuth token of the REST app (client credentials), cached until it
// expires. Only verification_status SUCCESS passes.
type PayPal struct {
	Inquiry
	// WebhookID is the id of the webhook in the REST app (the dashboard's
	// "Webhook ID"): PayPal signs it into each transmission.
	WebhookID string `json:"webhook_id,omitempty"`
	// ClientID is the REST app's client id.
	ClientID string `json:"client_id,omitempty"`
	// ClientSecret is the REST app's secret; {env.*} and {file.*} work. It
	// is never logged or echoed.
	ClientSecret string `json:"client_secret,omitempty"`
	// Tolerance is how far PAYPAL-TRANSMISSION-TIME may be from this
	// clock, either way (default 5m): each delivery attempt is a new
	// transmission, signed when it is sent.
	Tolerance caddy.Duration `json:"tolerance,omitempty"`
	// OrderID is where the order reference is; default resource.invoice_id,
	// then resource.custom_id, then the same in resource.purchase_units.0,
	// then PayPal's order id (resource.supplementary_data.related_ids.order_id).
	OrderID string `json:"order_id,omitempty"`

	webhookID  string
	orderPaths []JSONPath
	tokens     *paypalTokens
	fetch      func(ctx context.Context) (string, time.Duration, error)
}

// DefaultPayPalAPI is PayPal's live REST API; the sandbox is
// https://api-m.sandbox.paypal.com.
const DefaultPayPalAPI = "https://api-m.paypal.com"

// paypalOrderPaths are where the merchant's order reference is by default:
// the capture's (or authorization's, refund's) invoice_id or custom_id, the
// same in an order's first purchase unit (CHECKOUT.ORDER.*), and else
// PayPal's own order id, which is what a merchant that sets neither matches
// on (the id its createOrder call got back).
var paypalOrderPaths = []JSONPath{
	MustJSONPath("resource.invoice_id"),
	MustJSONPath("resource.custom_id"),
	MustJSONPath("resource.purchase_units.0.invoice_id"),
	MustJSONPath("resource.purchase_units.0.custom_id"),
	MustJSONPath("resource.supplementary_data.related_ids.order_id"),
	MustJSONPath("resource.disputed_transactions.0.invoice_number"),
	MustJSONPath("resource.disputed_transactions.0.custom"),
}

// paypalOrderResourceID is PayPal's order id in a CHECKOUT.ORDER.* event,
// whose resource is the order itself.
var paypalOrderResourceID = MustJSONPath("resource.id")

// CaddyModule returns the Caddy module information.
func (PayPal) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: Namespace + ".paypal", New: func() caddy.Module { return new(PayPal) }}
}

// Options implements Provider.
func (v *PayPal) Options() []Option {
	return append([]Option{
		StringOption("webhook_id", "<id>", "the webhook's id in the REST app (required); {env.*} and {file.*} work", &v.WebhookID),
		StringOption("client_id", "<id>", "the REST app's client id (required); {env.*} and {file.*} work", &v.ClientID),
		StringOption("client_secret", "<secret>", "the REST app's secret, for the OAuth token (required); {env.*} and {file.*} work; never logged", &v.ClientSecret),
		PathOption("order_id", "where the order reference is (default resource.invoice_id, then resource.custom_id, then PayPal's order id)", &v.OrderID),
		DurationOption("tolerance", "how far PAYPAL-TRANSMISSION-TIME may be from this clock, either way (default 5m)", &v.Tolerance),
	}, v.Inquiry.Options("PayPal's REST API base URL (default "+DefaultPayPalAPI+"; sandbox https://api-m.sandbox.paypal.com)")...)
}

// CheckConfig implements Provider.
func (v *PayPal) CheckConfig() error {
	for _, o := range []struct{ name, value string }{
		{"webhook_id", v.WebhookID}, {"client_id", v.ClientID}, {"client_secret", v.ClientSecret},
	} {
		if o.value == "" {
			return &OptionError{Option: o.name, Msg: `required for provider "paypal" (the REST app's, in PayPal's developer dashboard)`}
		}
	}
	if err := CheckPath("order_id", v.OrderID); err != nil {
		return err
	}
	return v.Inquiry.CheckConfig(DefaultPayPalAPI)
}

// About implements Provider.
func (v *PayPal) About() About {
	return About{
		Scheme: "five PAYPAL-* transmission headers (RSA signature by PayPal over the transmission, webhook_id and the body's CRC-32), " +
			"checked by PayPal's verify-webhook-signature API; the certificate URL must be https on a paypal.com host",
		Inquire: "always: one verify-webhook-signature call per new event (and an OAuth token, cached until it expires)",
	}
}

// Provision implements caddy.Provisioner.
func (v *PayPal) Provision(caddy.Context) error {
	if err := v.CheckConfig(); err != nil {
		return err
	}
	var err error
	if v.webhookID, err = InquiryCredential("webhook_id", v.WebhookID, true); err != nil {
		return err
	}
	clientID, err := InquiryCredential("client_id", v.ClientID, true)
	if err != nil {
		return err
	}
	secret, err := InquiryCredential("client_secret", v.ClientSecret, true)
	if err != nil {
		return err
	}
	if err := v.Inquiry.Provision(DefaultPayPalAPI); err != nil {
		return err
	}
	v.orderPaths = paypalOrderPaths
	if v.OrderID != "" {
		v.orderPaths = []JSONPath{MustJSONPath(v.OrderID)}
	}
	v.tokens = sharedPayPalTokens(v.Base(), clientID, secret)
	v.fetch = func(ctx context.Context) (string, time.Duration, error) {
		return v.fetchToken(ctx, clientID, secret)
	}
	return nil
}

// Provider implements Verifier.
func (v *PayPal) Provider() string { return "paypal" }

// Methods implements Verifier.
func (v *PayPal) Methods() []string { return []string{http.MethodPost} }

// ACK implements Verifier: any 2xx.
func (v *PayPal) ACK() ACK { return ACK{Status: http.StatusOK} }

// CredentialHeaders implements CredentialHeaderer.
func (v *PayPal) CredentialHeaders() []string {
	return []string{"Paypal-Transmission-Id", "Paypal-Transmission-Time", "Paypal-Transmission-Sig", "Paypal-Auth-Algo", "Paypal-Cert-Url"}
}

// Verify implements Verifier.
func (v *PayPal) Verify(ctx context.Context, r *Request) ([]Event, error) {
	return VerifyByInquiry(ctx, v, r)
}

// Inquires implements Inquirer: always (inquire has a default).
func (v *PayPal) Inquires() bool { return true }

// paypalTransmission is what the five headers carry.
type paypalTransmission struct {
	id, time, sig, algo, certURL string
}

// The headers, with the longest value each may have: PayPal's are far
// shorter (a UUID, an RFC 3339 time, a base64 RSA-2048 signature of 344
// characters, SHA256withRSA, a URL of 80 characters).
var paypalHeaders = []struct {
	key, name string
	max       int
}{
	{"Paypal-Transmission-Id", "PAYPAL-TRANSMISSION-ID", 128},
	{"Paypal-Transmission-Time", "PAYPAL-TRANSMISSION-TIME", 64},
	{"Paypal-Transmission-Sig", "PAYPAL-TRANSMISSION-SIG", 2048},
	{"Paypal-Auth-Algo", "PAYPAL-AUTH-ALGO", 64},
	{"Paypal-Cert-Url", "PAYPAL-CERT-URL", 512},
}

// paypalCertHost is a paypal.com host name: api.paypal.com,
// api.sandbox.paypal.com, or any other name under paypal.com.
var paypalCertHost = regexp.MustCompile(`^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+paypal\.com$`)

// readTransmission reads and checks the five headers: each once, not
// empty, printable ASCII of a sane length, the signature base64, and the
// certificate URL https on a paypal.com host. A forged certificate URL is
// the known attack on PayPal's offline verification (a signature made with
// the forger's key, "verified" with the forger's certificate): such a
// transmission is refused without asking PayPal.
func readTransmission(h http.Header) (paypalTransmission, error) {
	var values [5]string
	for i, ph := range paypalHeaders {
		value, err := oneValue(h[ph.key], ph.name, ErrSignature)
		if err != nil {
			return paypalTransmission{}, err
		}
		if len(value) > ph.max {
			return paypalTransmission{}, fmt.Errorf("%w: %s header is over %d characters", ErrSignature, ph.name, ph.max)
		}
		for j := 0; j < len(value); j++ {
			if value[j] <= ' ' || value[j] > '~' {
				return paypalTransmission{}, fmt.Errorf("%w: %s header has a character that is not printable ASCII", ErrSignature, ph.name)
			}
		}
		values[i] = value
	}
	t := paypalTransmission{id: values[0], time: values[1], sig: values[2], algo: values[3], certURL: values[4]}
	if _, err := base64.StdEncoding.DecodeString(t.sig); err != nil {
		return paypalTransmission{}, fmt.Errorf("%w: PAYPAL-TRANSMISSION-SIG header is not base64", ErrSignature)
	}
	if !paypalCertURL(t.certURL) {
		return paypalTransmission{}, fmt.Errorf("%w: PAYPAL-CERT-URL header is not an https URL on a paypal.com host "+
			"(a certificate URL elsewhere is how PayPal signatures are forged)", ErrSignature)
	}
	return t, nil
}

// paypalCertURL reports whether raw is https://<host under paypal.com>/...,
// the host written literally (no user, port, escape or trailing dot).
func paypalCertURL(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "https" || u.User != nil || u.Opaque != "" || u.Port() != "" {
		return false
	}
	host := u.Host
	return paypalCertHost.MatchString(host) && strings.HasPrefix(raw, "https://"+host+"/")
}

// paypalFields are the top-level members of a webhook event; a query
// parameter may not shadow them.
var paypalFields = map[string]bool{
	"id": true, "event_version": true, "create_time": true, "resource_type": true, "resource_version": true,
	"event_type": true, "summary": true, "resource": true, "links": true,
}

// Notice implements Inquirer: the method, the content type, the five
// transmission headers, the strict JSON checks, and the event the body
// states, unconfirmed.
func (v *PayPal) Notice(r *Request) ([]Event, error) {
	authenticate := func() error {
		t, err := readTransmission(r.Header)
		if err != nil {
			return err
		}
		return v.checkTransmission(t, r)
	}
	return verifySignedJSONDoc(r, authenticate, paypalFields, v.normalize)
}

// A PayPal amount: v2 (value, currency_code) or v1 (total, currency),
// decimal strings in major units.
type paypalAmount struct {
	Value, CurrencyCode, Total, Currency string
}

// The fields, as readPayPalEvent reads them.
type paypalEvent struct {
	ID           string // id: WH-…, the event id, the same on every retry
	EventType    string // event_type
	CreateTime   string // create_time
	ResourceType string // resource_type
	// resource.id: the capture, authorization, refund, order or dispute
	ResourceID     string
	Status         string       // resource.status
	Reason         string       // resource.status_details.reason
	Amount         paypalAmount // resource.amount
	DisputedAmount paypalAmount // resource.disputed_amount: CUSTOMER.DISPUTE.*
	// resource.purchase_units (CHECKOUT.ORDER.*): whether there is one, and
	// the first one's amount.
	PurchaseUnit       bool
	PurchaseUnitAmount paypalAmount
	MerchantID         string // resource.payee.merchant_id
	// resource.payer (CHECKOUT.ORDER.*: the buyer): email_address,
	// name.given_name, name.surname.
	PayerEmail, PayerGivenName, PayerSurname string
}

// readPayPalEvent reads the event as encoding/json read it into a struct: a
// member of the wrong JSON type, at any element of purchase_units too, is
// refused (ErrMalformed).
func readPayPalEvent(root jsonValue) (paypalEvent, error) {
	var f docFields
	pe := paypalEvent{
		ID:           f.str(root, "id", "id"),
		EventType:    f.str(root, "event_type", "event_type"),
		CreateTime:   f.str(root, "create_time", "create_time"),
		ResourceType: f.str(root, "resource_type", "resource_type"),
	}
	res := f.obj(root, "resource", "resource")
	pe.ResourceID = f.str(res, "id", "resource.id")
	pe.Status = f.str(res, "status", "resource.status")
	pe.Reason = f.str(f.obj(res, "status_details", "resource.status_details"), "reason", "resource.status_details.reason")
	amount := func(parent jsonValue, name, where string) paypalAmount {
		a := f.obj(parent, name, where)
		if !a.Exists() {
			return paypalAmount{}
		}
		return paypalAmount{
			Value:        f.strIn(a, where, "value"),
			CurrencyCode: f.strIn(a, where, "currency_code"),
			Total:        f.strIn(a, where, "total"),
			Currency:     f.strIn(a, where, "currency"),
		}
	}
	pe.Amount = amount(res, "amount", "resource.amount")
	pe.DisputedAmount = amount(res, "disputed_amount", "resource.disputed_amount")
	units := f.arr(res, "purchase_units", "resource.purchase_units")
	for unit := range units.Elements {
		// encoding/json read every unit into a struct: each is checked.
		switch unit.Kind() {
		case '{':
			a := amount(unit, "amount", "resource.purchase_units[].amount")
			if !pe.PurchaseUnit {
				pe.PurchaseUnitAmount = a
			}
		case 'n': // a unit without fields
		default:
			f.refuse("resource.purchase_units[]", "an object")
		}
		pe.PurchaseUnit = true
	}
	pe.MerchantID = f.str(f.obj(res, "payee", "resource.payee"), "merchant_id", "resource.payee.merchant_id")
	payer := f.obj(res, "payer", "resource.payer")
	pe.PayerEmail = f.str(payer, "email_address", "resource.payer.email_address")
	name := f.obj(payer, "name", "resource.payer.name")
	pe.PayerGivenName = f.str(name, "given_name", "resource.payer.name.given_name")
	pe.PayerSurname = f.str(name, "surname", "resource.payer.name.surname")
	return pe, f.err
}

// paypalStatuses maps event_type; other types are StatusUnknown.
var paypalStatuses = map[string]Status{
	"PAYMENT.CAPTURE.COMPLETED":     StatusSucceeded,
	"PAYMENT.CAPTURE.PENDING":       StatusPending,
	"PAYMENT.CAPTURE.DENIED":        StatusFailed,
	"PAYMENT.CAPTURE.DECLINED":      StatusFailed,
	"PAYMENT.CAPTURE.REFUNDED":      StatusRefunded,
	"CHECKOUT.ORDER.APPROVED":       StatusAuthorized,
	"PAYMENT.AUTHORIZATION.CREATED": StatusAuthorized,
	"PAYMENT.AUTHORIZATION.VOIDED":  StatusCancelled,
	"CUSTOMER.DISPUTE.CREATED":      StatusDisputed,
}

func (v *PayPal) normalize(root jsonValue, r *Request) (Event, error) {
	pe, err := readPayPalEvent(root)
	if err != nil {
		return Event{}, err
	}
	for _, m := range []struct{ name, value string }{{"id", pe.ID}, {"event_type", pe.EventType}} {
		if m.value == "" {
			return Event{}, fmt.Errorf("%w: mandatory field %s is missing", ErrMalformed, m.name)
		}
	}
	e := NewEvent(v.Provider(), r)
	e.ID = pe.ID
	e.ProviderStatus = pe.EventType
	e.Status = paypalStatuses[pe.EventType]
	if e.Status == "" {
		e.Status = StatusUnknown
	}
	orderID, _, err := root.firstText(v.orderPaths)
	if err != nil {
		return Event{}, err
	}
	if orderID == "" && v.OrderID == "" && strings.HasPrefix(pe.EventType, "CHECKOUT.ORDER.") {
		// The resource is PayPal's order: its id is the order id.
		if orderID, err = root.Path(paypalOrderResourceID).Text(paypalOrderResourceID); err != nil {
			return Event{}, err
		}
	}
	if orderID == "" && e.Status != StatusUnknown {
		return Event{}, fmt.Errorf("%w: no order reference at %s", ErrMalformed, joinPaths(v.orderPaths))
	}
	e.OrderID = orderID
	e.TransactionID = pe.ResourceID
	e.MerchantID = pe.MerchantID
	e.Reason = pe.Reason
	e.OccurredAt = ParseTime(pe.CreateTime, time.RFC3339Nano)
	if strings.HasPrefix(pe.EventType, "CHECKOUT.ORDER.") {
		// An order's payer is the buyer (a refund's "payer" is the merchant).
		e.Customer = NewCustomer(pe.PayerGivenName+" "+pe.PayerSurname, pe.PayerEmail, "", "")
	}
	if err := setPayPalAmount(&e, &pe); err != nil {
		return Event{}, err
	}
	e.Raw = compactValue(root) // compacted, as sent
	return e, nil
}

// setPayPalAmount takes the resource's amount (v2 value and currency_code,
// v1 total and currency), else a dispute's disputed_amount, else an
// order's first purchase unit's amount.
func setPayPalAmount(e *Event, pe *paypalEvent) error {
	candidates := [...]struct {
		field  string
		amount paypalAmount
	}{{"resource.amount", pe.Amount}, {"resource.disputed_amount", pe.DisputedAmount},
		{"resource.purchase_units.0.amount", pe.PurchaseUnitAmount}}
	n := 2
	if pe.PurchaseUnit {
		n = 3
	}
	for _, c := range candidates[:n] {
		switch {
		// A v1 refund or reversal (PAYMENT.SALE.REFUNDED) carries a
		// negative total: the amount is what was refunded.
		case c.amount.Value != "":
			return SetAmount(e, c.field+".value", strings.TrimPrefix(c.amount.Value, "-"), c.amount.CurrencyCode, MajorUnits)
		case c.amount.Total != "":
			return SetAmount(e, c.field+".total", strings.TrimPrefix(c.amount.Total, "-"), c.amount.Currency, MajorUnits)
		}
	}
	return nil
}

// Inquire implements Inquirer: PayPal's verify API is asked about the
// transmission (with an OAuth token, fetched or refreshed as needed), all
// within inquiry_timeout. SUCCESS confirms the stated event; FAILURE is
// ErrSignature; anything else is ErrInquiry.
func (v *PayPal) Inquire(ctx context.Context, r *Request, stated []Event) ([]Event, error) {
	t, err := readTransmission(r.Header)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, v.timeoutOrDefault())
	defer cancel()
	body := v.verifyRequest(t, r.Body)
	token, err := v.tokens.get(ctx, v.fetch, "")
	if err != nil {
		return nil, err
	}
	answer, err := v.askVerify(ctx, token, body)
	if err != nil {
		return nil, err
	}
	if answer.Status == http.StatusUnauthorized {
		// The token was revoked or expired early: one fresh token, unless
		// another notification fetched one already.
		if token, err = v.tokens.get(ctx, v.fetch, token); err != nil {
			return nil, err
		}
		if answer, err = v.askVerify(ctx, token, body); err != nil {
			return nil, err
		}
		if answer.Status == http.StatusUnauthorized {
			return nil, fmt.Errorf("%w: PayPal's verify API refused a new OAuth token (401): check client_id and client_secret", ErrInquiry)
		}
	}
	if answer.Status != http.StatusOK {
		return nil, paypalAPIError(answer, "PayPal's verify-webhook-signature API")
	}
	var verdict struct {
		Status *string `json:"verification_status"`
	}
	if err := json.Unmarshal(answer.Body, &verdict); err != nil || verdict.Status == nil {
		return nil, fmt.Errorf("%w: PayPal's verify-webhook-signature API answered 200 without a verification_status", ErrInquiry)
	}
	switch *verdict.Status {
	case "SUCCESS":
		paypalSeen.remember(v.webhookID+"\x00"+t.id, sha256.Sum256(r.Body), r.ReceivedAt.Add(2*v.tolerance()))
		return stated, nil
	case "FAILURE":
		return nil, fmt.Errorf("%w: PayPal's verify API answers verification_status FAILURE: the transmission's signature does not match "+
			"the event, the webhook_id or PayPal's certificate", ErrSignature)
	}
	return nil, fmt.Errorf("%w: PayPal's verify API answered a verification_status that is neither SUCCESS nor FAILURE", ErrInquiry)
}

// verifyRequest is the body of verify-webhook-signature: the transmission,
// the webhook id, and the event as received, embedded byte for byte (PayPal
// checks the CRC-32 of the event's bytes: a re-serialized event would fail).
func (v *PayPal) verifyRequest(t paypalTransmission, event []byte) []byte {
	var b bytes.Buffer
	b.Grow(len(event) + 768)
	for i, f := range []struct{ name, value string }{
		{"auth_algo", t.algo}, {"cert_url", t.certURL}, {"transmission_id", t.id}, {"transmission_sig", t.sig},
		{"transmission_time", t.time}, {"webhook_id", v.webhookID},
	} {
		if i == 0 {
			b.WriteString(`{"`)
		} else {
			b.WriteString(`,"`)
		}
		b.WriteString(f.name)
		b.WriteString(`":`)
		value, _ := json.Marshal(f.value) // a string marshals
		b.Write(value)
	}
	b.WriteString(`,"webhook_event":`)
	b.Write(event) // checked by CheckJSON in Notice
	b.WriteString("}")
	return b.Bytes()
}

func (v *PayPal) askVerify(ctx context.Context, token string, body []byte) (*Answer, error) {
	req, err := http.NewRequest(http.MethodPost, v.Endpoint("/v1/notifications/verify-webhook-signature", ""), bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInquiry, err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", JSONType)
	req.Header.Set("Accept", JSONType)
	return v.Do(ctx, req)
}

// fetchToken asks PayPal's OAuth endpoint for a token of the REST app
// (client credentials) and returns it with its lifetime.
func (v *PayPal) fetchToken(ctx context.Context, clientID, secret string) (string, time.Duration, error) {
	req, err := http.NewRequest(http.MethodPost, v.Endpoint("/v1/oauth2/token", ""), strings.NewReader("grant_type=client_credentials"))
	if err != nil {
		return "", 0, fmt.Errorf("%w: %v", ErrInquiry, err)
	}
	req.SetBasicAuth(clientID, secret)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", JSONType)
	answer, err := v.Do(ctx, req)
	if err != nil {
		return "", 0, err
	}
	switch answer.Status {
	case http.StatusOK:
	case http.StatusUnauthorized:
		return "", 0, fmt.Errorf("%w: PayPal's OAuth token endpoint refused the client credentials (401): check client_id and client_secret", ErrInquiry)
	default:
		return "", 0, paypalAPIError(answer, "PayPal's OAuth token endpoint")
	}
	var grant struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int64  `json:"expires_in"`
	}
	if err := json.Unmarshal(answer.Body, &grant); err != nil || grant.AccessToken == "" || !strings.EqualFold(grant.TokenType, "Bearer") ||
		strings.ContainsAny(grant.AccessToken, " \r\n") {
		return "", 0, fmt.Errorf("%w: PayPal's OAuth token endpoint answered 200 without a bearer access_token", ErrInquiry)
	}
	return grant.AccessToken, time.Duration(grant.ExpiresIn) * time.Second, nil
}

// paypalErrorName keeps what is safe to log of PayPal's error name.
var paypalErrorName = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

// paypalAPIError is the ErrInquiry of an unexpected answer, with PayPal's
// error name (REST "name", OAuth "error") and debug_id when it gives them:
// what PayPal's support asks for.
func paypalAPIError(a *Answer, what string) error {
	var e struct {
		Name    string `json:"name"`
		Error   string `json:"error"`
		DebugID string `json:"debug_id"`
	}
	_ = json.Unmarshal(a.Body, &e)
	name := e.Name
	if name == "" {
		name = e.Error
	}
	err := a.Unexpected(what)
	if !paypalErrorName.MatchString(name) {
		return err
	}
	if paypalErrorName.MatchString(e.DebugID) {
		return fmt.Errorf("%w (%s, debug_id %s)", err, name, e.DebugID)
	}
	return fmt.Errorf("%w (%s)", err, name)
}

// paypalTokens caches a REST app's OAuth token. One notification fetches
// it at a time, the others wait for its result, so that a burst of
// notifications costs one token call. It is shared by the provider
// instances of the same API and credentials (Caddy's config reloads make
// new instances).
type paypalTokens struct {
	fetching chan struct{} // one slot, held while fetching

	mu      sync.Mutex
	token   string
	renewAt time.Time // expiry less a safety margin
}

var paypalTokenCaches sync.Map // sharedKey → *paypalTokens

// sharedPayPalTokens is the token cache of an API base URL and client,
// keyed by a hash that keeps the secret out of memory dumps of the key.
func sharedPayPalTokens(base, clientID, secret string) *paypalTokens {
	sum := sha256.Sum256([]byte(base + "\x00" + clientID + "\x00" + secret))
	c, _ := paypalTokenCaches.LoadOrStore(hex.EncodeToString(sum[:]), &paypalTokens{fetching: make(chan struct{}, 1)})
	return c.(*paypalTokens)
}

// cached returns the token while it is good and is not stale.
func (c *paypalTokens) cached(stale string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.token != "" && c.token != stale && time.Now().Before(c.renewAt) {
		return c.token
	}
	return ""
}

// get returns a good token: the cached one unless it is stale (the one a
// verify call was refused with), else a fetched one.
func (c *paypalTokens) get(ctx context.Context, fetch func(context.Context) (string, time.Duration, error), stale string) (string, error) {
	if t := c.cached(stale); t != "" {
		return t, nil
	}
	select {
	case c.fetching <- struct{}{}:
	case <-ctx.Done():
		return "", fmt.Errorf("%w: no PayPal OAuth token within inquiry_timeout (another notification is fetching one)", ErrInquiry)
	}
	defer func() { <-c.fetching }()
	if t := c.cached(stale); t != "" { // fetched while this one waited
		return t, nil
	}
	token, lifetime, err := fetch(ctx)
	if err != nil {
		return "", err
	}
	// A token is renewed before PayPal expires it: a tenth of its life
	// early, at most five minutes.
	margin := min(lifetime/10, 5*time.Minute)
	c.mu.Lock()
	c.token, c.renewAt = token, time.Now().Add(lifetime-margin)
	c.mu.Unlock()
	return token, nil
}

// Example implements Signer.
func (v *PayPal) Example(order string, now time.Time) map[string]any {
	ref := strings.ToUpper(alnum(order))
	when := now.UTC().Format("2006-01-02T15:04:05.000Z")
	return map[string]any{
		"id": "WH-" + ref + "-" + fmt.Sprintf("%d", now.Unix()), "event_version": "1.0", "create_time": when,
		"resource_type": "capture", "resource_version": "2.0", "event_type": "PAYMENT.CAPTURE.COMPLETED",
		"summary": "Payment completed for USD 10.50",
		"resource": map[string]any{
			"id": "CAP" + ref, "status": "COMPLETED", "invoice_id": order, "final_capture": true,
			"amount":             map[string]any{"value": "10.50", "currency_code": "USD"},
			"supplementary_data": map[string]any{"related_ids": map[string]any{"order_id": "ORDER" + ref}},
			"payee":              map[string]any{"merchant_id": "MERCHANT01"},
			"create_time":        when, "update_time": when,
		},
	}
}

// paypalPlaceholderSig is the PAYPAL-TRANSMISSION-SIG of a test
// notification: only PayPal can sign, so PayPal's verify API (or a
// stand-in) answers FAILURE to it, unless a stand-in re-signs the
// transmission.
var paypalPlaceholderSig = base64.StdEncoding.EncodeToString([]byte("paynotify sign: a placeholder; only PayPal signs PayPal webhooks"))

// Sign implements Signer: the event with the five transmission headers,
// whose signature is a placeholder (see paypalPlaceholderSig).
func (v *PayPal) Sign(d Draft) (Notification, error) {
	body, err := MarshalCompact(d.Fields)
	if err != nil {
		return Notification{}, err
	}
	now := d.Now
	if now.IsZero() {
		now = time.Now()
	}
	sum := sha256.Sum256(body)
	n := newNotification(d.Path, JSONType, body)
	id := hex.EncodeToString(sum[:16])
	n.Header.Set("Paypal-Transmission-Id", id[:8]+"-"+id[8:12]+"-"+id[12:16]+"-"+id[16:20]+"-"+id[20:])
	n.Header.Set("Paypal-Transmission-Time", now.UTC().Format(time.RFC3339))
	n.Header.Set("Paypal-Transmission-Sig", paypalPlaceholderSig)
	n.Header.Set("Paypal-Auth-Algo", "SHA256withRSA")
	n.Header.Set("Paypal-Cert-Url", "https://api.sandbox.paypal.com/v1/notifications/certs/CERT-paynotify-sign-placeholder")
	return n, nil
}

// DefaultPayPalTolerance is how far a transmission's time may be from this
// clock unless tolerance says otherwise.
const DefaultPayPalTolerance = 5 * time.Minute

func (v *PayPal) tolerance() time.Duration {
	if v.Tolerance == 0 {
		return DefaultPayPalTolerance
	}
	return time.Duration(v.Tolerance)
}

// checkTransmission refuses a transmission that cannot be a fresh one
// from PayPal, before PayPal is asked:
//   - its time further than tolerance from this clock: PayPal's signature
//     covers the body only through its CRC-32, which anyone can match with
//     another body, so a captured transmission must not stay usable;
//   - a transmission this process saw verified with another body: the same
//     headers carrying an event rewritten to the genuine one's CRC-32.
func (v *PayPal) checkTransmission(t paypalTransmission, r *Request) error {
	sent, err := time.Parse(time.RFC3339, t.time)
	if err != nil {
		return fmt.Errorf("%w: PAYPAL-TRANSMISSION-TIME is not an RFC 3339 time", ErrSignature)
	}
	if err := CheckTimestamp("PAYPAL-TRANSMISSION-TIME", strconv.FormatInt(sent.Unix(), 10), r.ReceivedAt, v.tolerance()); err != nil {
		return err
	}
	if !paypalSeen.sameBody(v.webhookID+"\x00"+t.id, sha256.Sum256(r.Body), r.ReceivedAt) {
		return fmt.Errorf("%w: transmission %.64s was verified with another body: a replayed transmission carrying a rewritten event", ErrSignature, t.id)
	}
	return nil
}

// paypalSeen remembers, per webhook and transmission id, the SHA-256 of the
// body PayPal's verify API confirmed, for twice the tolerance. It is in
// this process only: another node of a cluster does not see it (the
// tolerance still bounds the window there).
var paypalSeen = &paypalTransmissions{sums: map[string]paypalSeenBody{}}

// maxPayPalTransmissions bounds paypalSeen; beyond it the oldest are
// forgotten first.
const maxPayPalTransmissions = 100_000

type paypalTransmissions struct {
	mu    sync.Mutex
	sums  map[string]paypalSeenBody
	order []string // keys in the order they were remembered
}

type paypalSeenBody struct {
	sum   [sha256.Size]byte
	until time.Time
}

// sameBody reports whether key was not seen, or was seen with sum.
func (p *paypalTransmissions) sameBody(key string, sum [sha256.Size]byte, now time.Time) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	seen, ok := p.sums[key]
	return !ok || now.After(seen.until) || seen.sum == sum
}

func (p *paypalTransmissions) remember(key string, sum [sha256.Size]byte, until time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.sums[key]; !ok {
		p.order = append(p.order, key)
	}
	p.sums[key] = paypalSeenBody{sum: sum, until: until}
	for len(p.order) > 0 {
		oldest := p.order[0]
		if len(p.order) <= maxPayPalTransmissions && !p.sums[oldest].until.Before(time.Now()) {
			break
		}
		delete(p.sums, oldest)
		p.order = p.order[1:]
	}
}
