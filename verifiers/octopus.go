package verifiers

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
)

func init() {
	caddy.RegisterModule(Octopus{})
}

// Octopus verifies the callbacks of the "Octopus" order API gateway (seed
// 003): a JSON POST to notify_url whose OC-Signature header is the HMAC-SHA256
// of the body's top-level fields, sorted by key and joined as k=v&k=v.
//
// With inquire, every new callback is confirmed by asking the gateway's
// order/get ("Order Inquiry") about its merchant_order_id (verify by
// inquiry): a callback's signed string can be regrouped, the answer cannot.
type Octopus struct {
	// Secrets are the API secrets.
	Secrets Secrets `json:"secrets,omitempty"`
	// Key is the value the OC-Key header must equal; empty: not checked.
	// With inquire it is required: order/get is asked with it.
	Key string `json:"key,omitempty"`
	// Inquiry: inquire (order/get's full URL, no default) and
	// inquiry_timeout.
	Inquiry

	macs   *HMACKeys // HMAC-SHA256 keyed with each secret
	key    Credential
	apiKey string // the resolved key, sent as OC-Key to order/get; "" without inquiry
}

// CaddyModule returns the Caddy module information.
func (Octopus) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: Namespace + ".octopus", New: func() caddy.Module { return new(Octopus) }}
}

// Options implements Provider.
func (v *Octopus) Options() []Option {
	return append([]Option{
		v.Secrets.Option("the API secret"),
		StringOption("key", "<value>", "the value the OC-Key header must equal, and the OC-Key order/get is asked with (required with inquire); {env.*} and {file.*} work", &v.Key),
	}, v.Inquiry.Options("order/get's full URL, e.g. https://DOMAIN/octopus/api/order/get (no default: the gateway's domain is per deployment)")...)
}

// CheckConfig implements Provider.
func (v *Octopus) CheckConfig() error {
	if err := v.Secrets.Check("octopus", "the API secret"); err != nil {
		return err
	}
	if v.Inquiry.Set() && v.Key == "" {
		return &OptionError{Option: "key", Msg: "required with inquire: order/get is asked with it as OC-Key"}
	}
	return v.Inquiry.CheckConfig("")
}

// About implements Provider.
func (v *Octopus) About() About {
	return About{
		Scheme:  "OC-Signature header: hex HMAC-SHA256 of the top-level fields sorted by name, k=v joined by &; OC-Key header equal to key, when set",
		Inquire: "with inquire: order/get is asked about the merchant_order_id of every new callback; its payment_status, currency and final_amount (else amount) must agree",
	}
}

// Provision implements caddy.Provisioner.
func (v *Octopus) Provision(caddy.Context) (err error) {
	if err := v.CheckConfig(); err != nil {
		return err
	}
	if v.macs, err = v.Secrets.HMAC(sha256.New); err != nil {
		return err
	}
	if v.key, err = NewCredential("key", v.Key); err != nil {
		return err
	}
	if v.Inquiry.Set() {
		if v.apiKey, err = InquiryCredential("key", v.Key, true); err != nil {
			return err
		}
	}
	return v.Inquiry.Provision("")
}

// Inquires implements Inquirer: with inquire.
func (v *Octopus) Inquires() bool { return v.Inquiry.Set() }

// The fields. signature_key is redacted from raw.
const octopusRedacted = "signature_key"

// octopusFields are the documented fields of an order (seed 003) and those
// Verify reads; a query parameter may not shadow them.
var octopusFields = map[string]bool{}

func init() {
	for _, name := range strings.Fields(`from from_name from_bank_name to to_name to_bank_name amount final_amount
		currency country transaction_type accounting_type merchant_order_id merchant_uid merchant_name channel
		payment_status payment_fail_reason payment response_type ip user_agent distribute_rules payment_uid
		order_uid redirect_url notify_url notify_status notify_fail_reason accounting_status
		accounting_fail_reason signature_key`) {
		octopusFields[name] = true
	}
}

// Provider implements Verifier.
func (v *Octopus) Provider() string { return "octopus" }

// SourceCheck implements SourceChecker. With inquire the gateway confirms
// what the event says; the JSON types and null members of the rest of the
// body stay unbound by the signature.
func (v *Octopus) SourceCheck() (bool, string) {
	if v.Inquiry.Set() {
		return false, "order/get confirms payment_status, currency and the amount; the rest of the callback is signed in a way that does not bind JSON types"
	}
	return false, "a string value can carry the k=v pairs that follow it, so a signed callback can be regrouped into other fields"
}

// CredentialHeaders implements CredentialHeaderer.
func (v *Octopus) CredentialHeaders() []string { return []string{"Oc-Signature", "Oc-Key"} }

// Methods implements Verifier.
func (v *Octopus) Methods() []string { return []string{http.MethodPost} }

// ACK implements Verifier.
func (v *Octopus) ACK() ACK {
	return ACK{Status: http.StatusOK, ContentType: "text/plain; charset=utf-8", Body: "success"}
}

// Verify implements Verifier: Notice, then, with inquire, Inquire.
func (v *Octopus) Verify(ctx context.Context, r *Request) ([]Event, error) {
	return VerifyByInquiry(ctx, v, r)
}

// Notice implements Inquirer: the callback's own checks (signature,
// OC-Key, the local refusal of regrouped callbacks) and its event,
// unconfirmed. The local refusal stays with inquire, as defence in depth:
// it costs nothing and needs no answer.
func (v *Octopus) Notice(r *Request) ([]Event, error) {
	if r.Method != http.MethodPost {
		return nil, fmt.Errorf("%w: %s", ErrMethod, r.Method)
	}
	if err := CheckContentType(r.Header.Get("Content-Type"), JSONType); err != nil {
		return nil, err
	}
	d, err := readJSONDoc(r.Body)
	if err != nil {
		return nil, err
	}
	defer d.release()
	if err := refuseShadowingJSONDoc(r.RawQuery, d, octopusFields); err != nil {
		return nil, err
	}
	var stack [48]octopusField
	fields, err := readOctopusFields(stack[:0], d.root())
	if err != nil {
		return nil, err
	}
	signed := octopusStringToSign(make([]byte, 0, len(r.Body)), fields)
	// OC-Signature is the hex HMAC-SHA256 of the string to sign, keyed with
	// the API secret.
	if err := CheckHexHMAC("OC-Signature header", firstHeader(r.Header, "Oc-Signature"), v.macs, signed); err != nil {
		return nil, err
	}
	if v.key.Set() && !v.key.Equal(firstHeader(r.Header, "Oc-Key")) {
		return nil, fmt.Errorf("%w: the OC-Key header is missing or is not the configured value", ErrForbidden)
	}
	if err := octopusRefuseSwallowed(fields); err != nil {
		return nil, err
	}
	e, err := v.normalize(fields, signed, r)
	if err != nil {
		return nil, err
	}
	return []Event{e}, nil
}

// octopusField is a top-level field of a callback as it is signed: a
// string as its content, a number or boolean as its JSON text exactly as
// sent (99.50 stays 99.50), an object or array as compact JSON; a null
// field is not present.
type octopusField struct {
	name, value string
	present     bool
	raw         jsonValue
}

// readOctopusFields appends the top-level fields of a callback to dst,
// sorted by name, each rendered as it is signed.
func readOctopusFields(dst []octopusField, root jsonValue) ([]octopusField, error) {
	for name, raw := range root.Members {
		f := octopusField{name: name, raw: raw, present: true}
		switch raw.Kind() {
		case 'n':
			f.present = false
		case '"':
			f.value = raw.Str()
		case '{', '[':
			f.value = string(raw.appendCompact(nil, false))
		default: // a number, true or false
			f.value, _ = raw.Text(nil)
		}
		dst = append(dst, f)
	}
	sortOctopusFields(dst)
	for _, f := range dst {
		// A key with '=' or '&' (or anything but a plain name) would let one
		// k=v&k=v string be read as other fields.
		if !isAlnum(f.name, 1, 64) {
			return nil, fmt.Errorf("%w: field name %.40q is not a plain name", ErrMalformed, f.name)
		}
	}
	return dst, nil
}

// sortOctopusFields sorts fields by name: by insertion while they are as
// few as a callback has (and already in order, as a gateway often sends
// them, in one pass), else by slices.SortFunc.
func sortOctopusFields(fields []octopusField) {
	if len(fields) > 48 {
		slices.SortFunc(fields, func(a, b octopusField) int { return strings.Compare(a.name, b.name) })
		return
	}
	for i := 1; i < len(fields); i++ {
		if fields[i-1].name < fields[i].name {
			continue
		}
		f := fields[i]
		j := i
		for ; j > 0 && fields[j-1].name > f.name; j-- {
			fields[j] = fields[j-1]
		}
		fields[j] = f
	}
}

// firstHeader is h.Get(key) for a key already canonical (Oc-Signature for
// OC-Signature), without canonicalizing it on every request.
func firstHeader(h http.Header, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// octopusStringToSign appends the fields, sorted by name, to dst as k=v
// joined with &, leaving the null ones out.
func octopusStringToSign(dst []byte, fields []octopusField) []byte {
	first := true
	for _, f := range fields {
		if !f.present {
			continue
		}
		if !first {
			dst = append(dst, '&')
		}
		first = false
		dst = append(append(append(dst, f.name...), '='), f.value...)
	}
	return dst
}

// octopusMeaning are the fields the event's status, amount, currency and ids
// come from.
var octopusMeaning = map[string]bool{
	"merchant_order_id": true, "payment_status": true, "currency": true, "final_amount": true, "amount": true,
	"order_uid": true, "payment_uid": true, "merchant_uid": true,
}

// octopusRefuseSwallowed refuses a callback that could be a regrouped copy
// of another one: "currency":"php&final_amount=99.50" signs exactly like
// currency and final_amount apart, and a field after payment_status can
// swallow the genuine "&payment_status=failed…" while a copy sets
// payment_status itself. Two rules make every callback that passes them
// mean what any other reading of the same signed string means:
//   - no value contains "&name=" where name is a field the event is made of
//     (octopusMeaning): then each such field starts at the same place in
//     every reading that passes;
//   - no value of such a field contains "&name=" for any plain name: then
//     it also ends at the same place.
//
// So a copy can neither change the event nor, by arriving first, stand in
// for the genuine one. A genuine value rarely holds such a pair: a
// notify_url whose query names one of those fields (?payment_status=…) or a
// note that does is refused, the rest of a query is not.
func octopusRefuseSwallowed(fields []octopusField) error {
	for _, f := range fields {
		if !f.present {
			continue
		}
		for rest := f.value; ; {
			amp := strings.IndexByte(rest, '&')
			if amp < 0 {
				break
			}
			rest = rest[amp+1:]
			name, _, found := strings.Cut(rest, "=")
			if !found || !isAlnum(name, 1, 64) {
				continue
			}
			if octopusMeaning[f.name] || octopusMeaning[name] {
				return fmt.Errorf("%w: field %s carries the pair %.40s=…, which signs like a separate field: a regrouped callback", ErrMalformed, f.name, name)
			}
		}
	}
	return nil
}

// octopusValue renders one field as it is signed, as readOctopusFields
// does; present is false for null. The inquiry reads the answer's and the
// stated event's fields with it.
func octopusValue(raw json.RawMessage) (value string, present bool, err error) {
	raw = bytes.TrimSpace(raw)
	switch raw[0] {
	case 'n':
		return "", false, nil
	case '"':
		if len(raw) >= 2 && raw[len(raw)-1] == '"' && bytes.IndexByte(raw, '\\') < 0 {
			// Without an escape a string is its content: CheckJSON has
			// refused control characters and invalid UTF-8 already.
			return string(raw[1 : len(raw)-1]), true, nil
		}
		var s string
		err := json.Unmarshal(raw, &s)
		return s, true, err
	case '{', '[':
		var b bytes.Buffer
		err := json.Compact(&b, raw)
		return b.String(), true, err
	default: // a number, true or false: its text as sent
		return string(raw), true, nil
	}
}

// octopusStatuses maps payment_status; other values are StatusUnknown.
var octopusStatuses = map[string]Status{
	"none":       StatusPending,
	"pending":    StatusPending,
	"processing": StatusPending,
	"completed":  StatusSucceeded,
	"failed":     StatusFailed,
	"reject":     StatusFailed,
	"refund":     StatusRefunded,
	"overdue":    StatusExpired,
}

func (v *Octopus) normalize(fields []octopusField, signed []byte, r *Request) (Event, error) {
	f := func(name string) string {
		if i, ok := slices.BinarySearchFunc(fields, name, func(f octopusField, name string) int { return strings.Compare(f.name, name) }); ok {
			return fields[i].value
		}
		return ""
	}
	for _, name := range []string{"merchant_order_id", "payment_status", "currency"} {
		if f(name) == "" {
			return Event{}, fmt.Errorf("%w: mandatory field %s is missing", ErrMalformed, name)
		}
	}
	if f("final_amount") == "" && f("amount") == "" {
		return Event{}, fmt.Errorf("%w: mandatory field final_amount or amount is missing", ErrMalformed)
	}
	e := NewEvent(v.Provider(), r)
	e.ProviderStatus = f("payment_status")
	e.Status = octopusStatuses[e.ProviderStatus]
	if e.Status == "" {
		e.Status = StatusUnknown
	}
	e.OrderID = f("merchant_order_id")
	e.MerchantID = f("merchant_uid")
	e.TransactionID = f("order_uid")
	if e.TransactionID == "" {
		e.TransactionID = f("payment_uid")
	}
	e.Reason = f("payment_fail_reason")
	e.PaymentMethod = f("payment")
	e.Customer = NewCustomer("", "", "", f("ip"))
	amountField := "final_amount"
	if f(amountField) == "" {
		amountField = "amount"
	}
	if err := SetAmount(&e, amountField, f(amountField), f("currency"), MajorUnits); err != nil {
		return Event{}, err
	}
	// The callback carries no event id or retry counter: the id is the
	// signed string as a whole, the same on every retry, and what the event
	// says, so that a copy regrouped into another meaning (a value can
	// swallow "&key=value" pairs) is another event and cannot, by arriving
	// first, have the genuine callback acknowledged as its duplicate.
	e.ID = EventID(e.Provider, string(signed), string(e.Status), e.ProviderStatus, e.Amount, e.Currency,
		e.OrderID, e.TransactionID, e.MerchantID)

	e.Raw = octopusRaw(fields)
	return e, nil
}

// octopusRaw is the callback as the event keeps it: its fields sorted by
// name, each compacted as json.Marshal compacts a raw value, and
// signature_key redacted (json.Marshal of the fields as a map, as it was).
func octopusRaw(fields []octopusField) []byte {
	size := 2
	for _, f := range fields {
		size += len(f.name) + len(f.raw.Raw()) + 4
	}
	raw := append(make([]byte, 0, size), '{')
	for i, f := range fields {
		if i > 0 {
			raw = append(raw, ',')
		}
		raw = append(append(append(raw, '"'), f.name...), '"', ':') // a plain name
		if f.name == octopusRedacted {
			raw = append(raw, `"[redacted]"`...)
			continue
		}
		raw = f.raw.appendCompact(raw, true)
	}
	return append(raw, '}')
}

// Example implements Signer.
func (v *Octopus) Example(order string, _ time.Time) map[string]any {
	return map[string]any{
		"transaction_type": "income", "merchant_uid": "MUID-7781", "amount": "100.00", "final_amount": json.Number("99.50"),
		"currency": "php", "merchant_order_id": order, "payment_status": "completed", "order_uid": "OUID-" + alnum(order),
	}
}

// Sign implements Signer.
func (v *Octopus) Sign(d Draft) (Notification, error) {
	body, err := MarshalCompact(d.Fields)
	if err != nil {
		return Notification{}, err
	}
	doc, err := readJSONDoc(body)
	if err != nil {
		return Notification{}, err
	}
	defer doc.release()
	fields, err := readOctopusFields(nil, doc.root())
	if err != nil {
		return Notification{}, err
	}
	sig, err := signHex(v.macs, octopusStringToSign(nil, fields))
	if err != nil {
		return Notification{}, err
	}
	n := newNotification(d.Path, JSONType, body)
	n.Header.Set("OC-Signature", sig)
	if v.Key != "" {
		key, err := ResolveSecret(v.Key)
		if err != nil {
			return Notification{}, err
		}
		n.Header.Set("OC-Key", key)
	}
	return n, nil
}

// Inquire implements Inquirer: it asks order/get about the callback's
// merchant_order_id (POST {"merchant_order_id":…}, OC-Key the key,
// OC-Signature the hex HMAC-SHA256 of "merchant_order_id=<id>" under the
// first secret, as seed 003 signs its requests) and confirms the event when
// the order's payment_status, currency and final_amount (else amount) are
// the callback's. The confirmed event takes payment_fail_reason and payment
// from the answer where it gives them.
//
// The seed documents no answer of its own for an unknown order: the gateway
// answers its errors as {"result":"error","data":…}, and PRODUCT.md makes
// that a failed inquiry (503, the gateway retries), which is also right for
// an order order/get does not show yet. A success whose data is null is an
// order the gateway does not know (401).
func (v *Octopus) Inquire(ctx context.Context, r *Request, stated []Event) ([]Event, error) {
	if v.macs == nil || v.apiKey == "" {
		return nil, fmt.Errorf("%w: octopus inquiry is not configured (is the provider provisioned?)", ErrInquiry)
	}
	return InquireEach(ctx, stated, v.inquireOne)
}

func (v *Octopus) inquireOne(ctx context.Context, e Event) (Event, error) {
	const what = "octopus' order/get"
	body, err := json.Marshal(map[string]string{"merchant_order_id": e.OrderID})
	if err != nil {
		return Event{}, fmt.Errorf("%w: %v", ErrInquiry, err)
	}
	req, err := http.NewRequest(http.MethodPost, v.Inquiry.Endpoint("", ""), bytes.NewReader(body))
	if err != nil {
		return Event{}, fmt.Errorf("%w: building the order/get request: %v", ErrInquiry, err)
	}
	req.Header.Set("Content-Type", JSONType)
	req.Header.Set("Accept", JSONType)
	req.Header.Set("OC-Key", v.apiKey)
	req.Header.Set("OC-Signature", hex.EncodeToString(v.macs.Sum([]byte("merchant_order_id="+e.OrderID))))
	ans, err := v.Inquiry.Do(ctx, req)
	if err != nil {
		return Event{}, err
	}
	if ans.Status != http.StatusOK {
		return Event{}, ans.Unexpected(what)
	}
	order, err := octopusAnsweredOrder(ans.Body)
	if err != nil {
		return Event{}, err
	}
	if order == nil {
		return Event{}, fmt.Errorf("%w: the gateway does not know order %.40q", ErrSignature, e.OrderID)
	}
	answered := func(name string) string {
		raw, ok := order[name]
		if !ok || len(bytes.TrimSpace(raw)) == 0 {
			return ""
		}
		value, _, err := octopusValue(raw)
		if err != nil {
			return ""
		}
		return value
	}
	if got := answered("merchant_order_id"); got != e.OrderID {
		return Event{}, fmt.Errorf("%w: %s answered about another order (merchant_order_id %.40q)", ErrInquiry, what, got)
	}
	var notified map[string]json.RawMessage // the callback's fields (Notice's raw)
	if err := json.Unmarshal(e.Raw, &notified); err != nil {
		return Event{}, fmt.Errorf("%w: the stated event's raw: %v", ErrInquiry, err)
	}
	said := func(name string) string {
		raw, ok := notified[name]
		if !ok {
			return ""
		}
		value, _, _ := octopusValue(raw) // rendered by Notice already
		return value
	}
	for _, name := range []string{"payment_status", "currency"} {
		if answered(name) == "" {
			return Event{}, fmt.Errorf("%w: %s answered without %s", ErrInquiry, what, name)
		}
	}
	if answered("payment_status") != said("payment_status") {
		return Event{}, fmt.Errorf("%w: the API's payment_status is %.20q, the callback says %.20q",
			ErrSignature, answered("payment_status"), said("payment_status"))
	}
	if !strings.EqualFold(answered("currency"), said("currency")) {
		return Event{}, fmt.Errorf("%w: the API's currency is %.10q, the callback says %.10q",
			ErrSignature, answered("currency"), said("currency"))
	}
	amountField := func(get func(string) string) (string, string) {
		if value := get("final_amount"); value != "" {
			return "final_amount", value
		}
		return "amount", get("amount")
	}
	apiField, apiAmount := amountField(answered)
	ourField, ourAmount := amountField(said)
	if apiAmount == "" {
		return Event{}, fmt.Errorf("%w: %s answered without final_amount or amount", ErrInquiry, what)
	}
	same, err := seedSameDecimal(apiAmount, ourAmount)
	if err != nil {
		return Event{}, fmt.Errorf("%w: %s answered a %s that is not a decimal number", ErrInquiry, what, apiField)
	}
	if !same {
		return Event{}, fmt.Errorf("%w: the API's %s is %.20q, the callback's %s is %.20q",
			ErrSignature, apiField, apiAmount, ourField, ourAmount)
	}
	if reason, ok := jsonScalarText(order["payment_fail_reason"]); ok && reason != "" {
		e.Reason = reason
	}
	if method, ok := jsonScalarText(order["payment"]); ok && method != "" {
		e.PaymentMethod = method
	}
	return e, nil
}

// octopusAnsweredOrder reads order/get's answer: the order object at the
// top level or under "data". nil, nil: a success whose data is null (no
// such order). "result":"error", or anything else, is ErrInquiry.
func octopusAnsweredOrder(body []byte) (map[string]json.RawMessage, error) {
	const what = "octopus' order/get"
	unreadable := func(why string) error {
		return fmt.Errorf("%w: %s answered something unreadable: %s", ErrInquiry, what, why)
	}
	if err := CheckJSON(body); err != nil {
		return nil, unreadable(err.Error())
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil || top == nil {
		return nil, unreadable("not a JSON object")
	}
	result, hasResult := top["result"]
	if hasResult {
		text, _ := jsonScalarText(result)
		switch text {
		case "success":
		case "error":
			detail := ""
			if data, ok := top["data"]; ok {
				if s, ok := jsonScalarText(data); ok {
					detail = s
				} else {
					var compact bytes.Buffer
					if json.Compact(&compact, data) == nil {
						detail = compact.String()
					}
				}
			}
			return nil, fmt.Errorf("%w: %s answered an error (%.80q)", ErrInquiry, what, detail)
		default:
			return nil, unreadable("result is neither success nor error")
		}
	}
	data, hasData := top["data"]
	if !hasData {
		if !hasResult {
			return top, nil // the order itself
		}
		return nil, unreadable("a success without data")
	}
	data = bytes.TrimSpace(data)
	if string(data) == "null" {
		return nil, nil
	}
	var order map[string]json.RawMessage
	if len(data) == 0 || data[0] != '{' || json.Unmarshal(data, &order) != nil {
		return nil, unreadable("data is not an order object")
	}
	return order, nil
}

// StorageRisk implements StorageRisker: with key, the OC-Key header is this
// config's credential.
func (v *Octopus) StorageRisk() string {
	if v.Key == "" {
		return ""
	}
	return "its OC-Key header is this config's key credential, which the normalized event leaves out"
}
