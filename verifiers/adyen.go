package verifiers

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
)

func init() {
	caddy.RegisterModule(Adyen{})
}

// Adyen verifies Adyen's standard (payments) webhooks: a JSON POST of a
// batch, {"live":"false","notificationItems":[{"NotificationRequestItem":
// {...}}, ...]}, in which every item carries its own signature in
// additionalData.hmacSignature: the base64 HMAC-SHA256, keyed with the
// hex-decoded HMAC key, of
//
//	pspReference:originalReference:merchantAccountCode:merchantReference:value:currency:eventCode:success
//
// (Adyen's hmacvalidator). Every item must verify, or the whole request is
// refused; each item becomes one event. The Balance Platform and Management
// webhooks, signed over the body in an HmacSignature header, are another
// scheme and are not handled here.
type Adyen struct {
	// Secrets are the HMAC keys of the webhook, in hex as the Customer Area
	// shows them.
	Secrets Secrets `json:"secrets,omitempty"`

	macs *HMACKeys // HMAC-SHA256 keyed with each hex-decoded secret
}

// CaddyModule returns the Caddy module information.
func (Adyen) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: Namespace + ".adyen", New: func() caddy.Module { return new(Adyen) }}
}

const adyenSecretDoc = "the webhook's HMAC key, in hex as the Customer Area shows it"

// Options implements Provider.
func (v *Adyen) Options() []Option {
	return []Option{v.Secrets.Option(adyenSecretDoc)}
}

// CheckConfig implements Provider. A literal secret must be hex already;
// one from a placeholder is checked once resolved, at provision.
func (v *Adyen) CheckConfig() error {
	if err := v.Secrets.Check("adyen", adyenSecretDoc); err != nil {
		return err
	}
	for i, s := range v.Secrets {
		if !strings.Contains(s, "{") {
			if _, err := adyenKey(i, s); err != nil {
				return err
			}
		}
	}
	return nil
}

// adyenKey decodes the i-th secret. The error names the option and the
// secret's position, never its text.
func adyenKey(i int, secret string) ([]byte, error) {
	key, err := hex.DecodeString(secret)
	if err != nil || len(key) == 0 {
		return nil, &OptionError{Option: "secret", Msg: fmt.Sprintf("secret %d is not an even-length hex string (Adyen's HMAC key is given in hex)", i+1)}
	}
	return key, nil
}

// About implements Provider.
func (v *Adyen) About() About {
	return About{Scheme: "every notificationItems[] item: additionalData.hmacSignature = base64 HMAC-SHA256 (key: the hex-decoded secret) of pspReference:originalReference:merchantAccountCode:merchantReference:value:currency:eventCode:success; one event per item, ACK once every item was delivered"}
}

// Provision implements caddy.Provisioner.
func (v *Adyen) Provision(caddy.Context) error {
	if err := v.CheckConfig(); err != nil {
		return err
	}
	resolved, err := v.Secrets.Keys()
	if err != nil {
		return err
	}
	keys := make([][]byte, len(resolved))
	for i, s := range resolved {
		if keys[i], err = adyenKey(i, string(s)); err != nil {
			return err
		}
	}
	v.macs = NewHMACKeys(sha256.New, keys)
	return nil
}

// The fields of a NotificationRequestItem (Sign decodes into it; Verify
// reads the body with readAdyenItems).
type adyenItem struct {
	// Signed, in this order.
	PspReference        string       `json:"pspReference"`      // the payment's or the modification's reference
	OriginalReference   string       `json:"originalReference"` // the payment a modification (refund, capture) is of
	MerchantAccountCode string       `json:"merchantAccountCode"`
	MerchantReference   string       `json:"merchantReference"` // the merchant's order
	Amount              *adyenAmount `json:"amount"`
	EventCode           string       `json:"eventCode"`
	Success             string       `json:"success"` // "true" or "false"
	// Not signed.
	EventDate      string `json:"eventDate"`
	Reason         string `json:"reason"`
	PaymentMethod  string `json:"paymentMethod"`
	AdditionalData struct {
		HmacSignature string `json:"hmacSignature"`
	} `json:"additionalData"`
}

type adyenAmount struct {
	Value    json.Number `json:"value"` // minor units
	Currency string      `json:"currency"`
}

// adyenFields are the top-level members of a notification; a query
// parameter may not shadow them.
var adyenFields = map[string]bool{"live": true, "notificationItems": true}

// Provider implements Verifier.
func (v *Adyen) Provider() string { return "adyen" }

// Methods implements Verifier.
func (v *Adyen) Methods() []string { return []string{http.MethodPost} }

// ACK implements Verifier: Adyen's documented reply, which the current
// docs' "any 2xx" also accepts. The handler sends it only once every item
// was delivered.
func (v *Adyen) ACK() ACK {
	return ACK{Status: http.StatusOK, ContentType: "text/plain; charset=utf-8", Body: "[accepted]"}
}

// Verify implements Verifier. Every item is authenticated before any event
// is returned: one item with a missing or wrong signature refuses the whole
// request (401), one malformed item the whole request (400).
func (v *Adyen) Verify(_ context.Context, r *Request) ([]Event, error) {
	if r.Method != http.MethodPost {
		return nil, fmt.Errorf("%w: %s", ErrMethod, r.Method)
	}
	if err := CheckContentType(r.Header.Get("Content-Type"), JSONType); err != nil {
		return nil, err
	}
	// The signatures are inside the body: it is read before anything is
	// authenticated, so strictly (CheckJSON's rules), and nothing of it is
	// trusted until its item verified.
	d, err := readJSONDoc(r.Body)
	if err != nil {
		return nil, err
	}
	defer d.release()
	items, err := readAdyenItems(d.root())
	if err != nil {
		return nil, err
	}
	for i := range items {
		if err := v.checkSignature(i, &items[i].adyenItem); err != nil {
			return nil, err
		}
	}
	if err := refuseShadowingJSONDoc(r.RawQuery, d, adyenFields); err != nil {
		return nil, err
	}
	events := make([]Event, len(items))
	for i := range items {
		e, err := v.normalize(i, &items[i].adyenItem, r)
		if err != nil {
			return nil, err
		}
		e.Raw = compactValue(items[i].raw) // the item, compacted, as sent
		events[i] = e
	}
	return events, nil
}

// adyenRead is an item as read from the body, and its value there.
type adyenRead struct {
	adyenItem
	raw jsonValue
}

// readAdyenItems reads the batch as encoding/json read it into a struct and
// each NotificationRequestItem into adyenItem: every member of the wrong
// JSON type refuses the body (ErrMalformed), before any signature is
// checked; an item that is null reads as an item without fields.
func readAdyenItems(root jsonValue) ([]adyenRead, error) {
	var f docFields
	f.str(root, "live", "live")
	list := f.arr(root, "notificationItems", "notificationItems")
	for w := range list.Elements {
		if k := w.Kind(); k != '{' && k != 'n' {
			f.refuse("notificationItems[]", "an object")
		}
	}
	if f.err != nil {
		return nil, f.err
	}
	if err := checkBatchSize("notificationItems", list.Len()); err != nil {
		return nil, err
	}
	items := make([]adyenRead, list.Len())
	f.list = "notificationItems"
	i := 0
	for w := range list.Elements {
		f.index = i
		raw := w.Get("NotificationRequestItem")
		if !raw.Exists() {
			return nil, fmt.Errorf("%w: notificationItems[%d] has no NotificationRequestItem", ErrMalformed, i)
		}
		it := &items[i]
		it.raw = raw
		switch raw.Kind() {
		case 'n': // an item without fields
		case '{':
			it.PspReference = f.str(raw, "pspReference", "pspReference")
			it.OriginalReference = f.str(raw, "originalReference", "originalReference")
			it.MerchantAccountCode = f.str(raw, "merchantAccountCode", "merchantAccountCode")
			it.MerchantReference = f.str(raw, "merchantReference", "merchantReference")
			if amount := f.obj(raw, "amount", "amount"); amount.Exists() {
				it.Amount = &adyenAmount{
					Value:    json.Number(f.num(amount, "value", "amount.value")),
					Currency: f.str(amount, "currency", "amount.currency"),
				}
			}
			it.EventCode = f.str(raw, "eventCode", "eventCode")
			it.Success = f.str(raw, "success", "success")
			it.EventDate = f.str(raw, "eventDate", "eventDate")
			it.Reason = f.str(raw, "reason", "reason")
			it.PaymentMethod = f.str(raw, "paymentMethod", "paymentMethod")
			additional := f.obj(raw, "additionalData", "additionalData")
			it.AdditionalData.HmacSignature = f.str(additional, "hmacSignature", "additionalData.hmacSignature")
		default:
			f.refuse("NotificationRequestItem", "an object")
		}
		if f.err != nil {
			return nil, f.err
		}
		i++
	}
	return items, nil
}

// value is the amount's value and currency as signed: the integer as sent;
// both "" for an item without an amount (Adyen sends one on every payment
// event; its Go library would sign such an item's value as 0, which has
// not been seen in Adyen's material).
func (it *adyenItem) value() (value, currency string) {
	if it.Amount == nil {
		return "", ""
	}
	return it.Amount.Value.String(), it.Amount.Currency
}

// adyenStringToSign appends the signed string of it to dst: the eight
// fields joined by colons, empty ones left empty.
func adyenStringToSign(dst []byte, it *adyenItem) []byte {
	value, currency := it.value()
	for i, f := range [...]string{it.PspReference, it.OriginalReference, it.MerchantAccountCode, it.MerchantReference,
		value, currency, it.EventCode, it.Success} {
		if i > 0 {
			dst = append(dst, ':')
		}
		dst = append(dst, f...)
	}
	return dst
}

func (v *Adyen) checkSignature(i int, it *adyenItem) error {
	given := it.AdditionalData.HmacSignature
	if given == "" {
		return fmt.Errorf("%w: notificationItems[%d] has no additionalData.hmacSignature", ErrSignature, i)
	}
	var buf [sha256.Size + 2]byte
	sig, ok := decodeMAC(buf[:], given, sha256.Size, true)
	if !ok {
		return fmt.Errorf("%w: notificationItems[%d] additionalData.hmacSignature is not a base64 HMAC-SHA256", ErrSignature, i)
	}
	var stack [256]byte
	if !v.macs.Match(adyenStringToSign(stack[:0], it), sig) {
		return fmt.Errorf("%w: notificationItems[%d] additionalData.hmacSignature matches none of the %d configured secrets", ErrSignature, i, v.macs.Secrets())
	}
	return nil
}

// adyenStatus maps eventCode and success. A code listed without a
// qualifier maps only when success is "true": with "false" the operation
// (a cancellation, a refund) did not happen, and the payment's state is
// unchanged.
func adyenStatus(eventCode, success string) Status {
	ok := success == "true"
	switch eventCode {
	case "AUTHORISATION":
		if ok {
			return StatusAuthorized
		}
		return StatusFailed
	case "CAPTURE":
		if ok {
			return StatusSucceeded
		}
		return StatusFailed
	case "CAPTURE_FAILED":
		return StatusFailed
	}
	if !ok {
		return StatusUnknown
	}
	switch eventCode {
	case "CANCELLATION":
		return StatusCancelled
	case "REFUND":
		return StatusRefunded
	case "CHARGEBACK", "NOTIFICATION_OF_CHARGEBACK", "SECOND_CHARGEBACK":
		return StatusDisputed
	case "OFFER_CLOSED":
		return StatusExpired
	case "PENDING":
		return StatusPending
	}
	return StatusUnknown
}

func (v *Adyen) normalize(i int, it *adyenItem, r *Request) (Event, error) {
	for _, m := range []struct{ name, value string }{
		{"pspReference", it.PspReference}, {"eventCode", it.EventCode}, {"success", it.Success},
	} {
		if m.value == "" {
			return Event{}, fmt.Errorf("%w: notificationItems[%d]: mandatory field %s is missing", ErrMalformed, i, m.name)
		}
	}
	if it.Success != "true" && it.Success != "false" {
		return Event{}, fmt.Errorf("%w: notificationItems[%d]: success is neither \"true\" nor \"false\"", ErrMalformed, i)
	}
	value, currency := it.value()
	// The signed fields are joined by colons: a colon inside one of them
	// would let a copy of a genuine item move a field boundary (the
	// merchant account's tail into the order reference) under the same
	// signature. Only merchantReference, the merchant's own text, may hold
	// colons; with every other field free of them the split is unique.
	for _, f := range []struct{ name, value string }{
		{"pspReference", it.PspReference}, {"originalReference", it.OriginalReference},
		{"merchantAccountCode", it.MerchantAccountCode}, {"amount.value", value},
		{"amount.currency", currency}, {"eventCode", it.EventCode},
	} {
		if strings.Contains(f.value, ":") {
			return Event{}, fmt.Errorf("%w: notificationItems[%d]: %s contains a colon, the separator of the signed fields", ErrMalformed, i, f.name)
		}
	}
	e := NewEvent(v.Provider(), r)
	// Adyen has no event id, and retries an item unchanged. The id is made
	// of signed fields only, so that a copy with an altered eventDate or
	// reason (not signed) is the same event to dedup.
	e.ID = EventID(v.Provider(), it.MerchantAccountCode, it.PspReference, it.OriginalReference, it.EventCode, it.Success)
	e.ProviderStatus = it.EventCode + ":" + it.Success
	e.Status = adyenStatus(it.EventCode, it.Success)
	e.OrderID = it.MerchantReference
	if e.OrderID == "" && e.Status != StatusUnknown {
		return Event{}, fmt.Errorf("%w: notificationItems[%d]: merchantReference (the order) is missing", ErrMalformed, i)
	}
	e.TransactionID = it.PspReference
	e.MerchantID = it.MerchantAccountCode
	e.Reason = it.Reason
	e.PaymentMethod = it.PaymentMethod
	e.OccurredAt = ParseTime(it.EventDate, time.RFC3339Nano)
	if SetAmount(&e, "amount.value", value, currency, MinorUnits) != nil {
		// Again, for a refusal that names the item (the name is only
		// built for a refusal).
		return Event{}, SetAmount(&e, fmt.Sprintf("notificationItems[%d].amount.value", i), value, currency, MinorUnits)
	}
	return e, nil
}

// Example implements Signer: one authorised payment in a batch of one.
func (v *Adyen) Example(order string, now time.Time) map[string]any {
	psp := fmt.Sprintf("%016d", now.UnixNano()%1e16)
	return map[string]any{
		"live": "false",
		"notificationItems": []any{map[string]any{"NotificationRequestItem": map[string]any{
			"additionalData":      map[string]any{},
			"amount":              map[string]any{"currency": "EUR", "value": json.Number("1050")},
			"eventCode":           "AUTHORISATION",
			"eventDate":           now.UTC().Format(time.RFC3339),
			"merchantAccountCode": "PaynotifyDemoECOM",
			"merchantReference":   order,
			"originalReference":   "",
			"paymentMethod":       "visa",
			"pspReference":        psp,
			"reason":              "012345:1111:03/2030",
			"success":             "true",
		}}},
	}
}

// Sign implements Signer: every item of notificationItems gets its
// additionalData.hmacSignature under the first secret.
func (v *Adyen) Sign(d Draft) (Notification, error) {
	if v.macs == nil || v.macs.Secrets() == 0 {
		return Notification{}, &OptionError{Option: "secret", Msg: "required to sign (is the provider provisioned?)"}
	}
	items, _ := d.Fields["notificationItems"].([]any)
	for i, wrapper := range items {
		w, _ := wrapper.(map[string]any)
		fields, ok := w["NotificationRequestItem"].(map[string]any)
		if !ok {
			return Notification{}, fmt.Errorf("notificationItems[%d] has no NotificationRequestItem object", i)
		}
		var it adyenItem
		raw, err := json.Marshal(fields)
		if err != nil {
			return Notification{}, err
		}
		if err := json.Unmarshal(raw, &it); err != nil {
			return Notification{}, fmt.Errorf("notificationItems[%d]: %v", i, err)
		}
		additional, _ := fields["additionalData"].(map[string]any)
		if additional == nil {
			additional = map[string]any{}
			fields["additionalData"] = additional
		}
		additional["hmacSignature"] = base64.StdEncoding.EncodeToString(v.macs.Sum(adyenStringToSign(nil, &it)))
	}
	body, err := MarshalCompact(d.Fields)
	if err != nil {
		return Notification{}, err
	}
	return newNotification(d.Path, JSONType, body), nil
}
