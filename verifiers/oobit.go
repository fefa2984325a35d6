package verifiers

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"github.com/caddyserver/caddy/v2"
	"net/http"
	"strings"
	"time"
)

func init() {
	caddy.RegisterModule(Oobit{})
}

// Oobit verifies the notifications of Oobit (the Coriunder platform, seed
// 004): a GET query or a POST form whose signature field is the base64
// SHA-256 of five values and the merchant hash key.
type Oobit struct {
	// Secrets are the merchant hash keys.
	Secrets Secrets `json:"secrets,omitempty"`

	secrets [][]byte
}

// CaddyModule returns the Caddy module information.
func (Oobit) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: Namespace + ".oobit", New: func() caddy.Module { return new(Oobit) }}
}

// Options implements Provider.
func (v *Oobit) Options() []Option { return []Option{v.Secrets.Option("the merchant hash key")} }

// CheckConfig implements Provider.
func (v *Oobit) CheckConfig() error { return v.Secrets.Check("oobit", "the merchant hash key") }

// About implements Provider.
func (v *Oobit) About() About {
	return About{
		Scheme:  "signature field: base64 SHA-256 of trans_id, trans_order, reply_code, trans_amount, trans_currency and the hash key, concatenated",
		AllowIP: "always",
	}
}

// Provision implements caddy.Provisioner.
func (v *Oobit) Provision(caddy.Context) (err error) {
	if err := v.CheckConfig(); err != nil {
		return err
	}
	v.secrets, err = v.Secrets.Keys()
	return err
}

// The fields. Only the five signed fields are authenticated: reply_desc,
// trans_date, merchant_id, payment_details and the client_* fields are not.
var oobitSigned = [...]string{"trans_id", "trans_order", "reply_code", "trans_amount", "trans_currency"}

// oobitFields are the documented notification fields.
var oobitFields = map[string]bool{
	"reply_code": true, "reply_desc": true, "trans_id": true, "trans_date": true, "trans_amount": true,
	"trans_currency": true, "trans_order": true, "payment_details": true, "merchant_id": true,
	"client_fullname": true, "client_phone": true, "client_email": true, "signature": true,
}

// oobitFormats pin the signed fields that have a known shape. The five values
// are concatenated without separators; these checks narrow how they can be
// regrouped but cannot stop digits moving between an order id that ends in
// digits, the reply code and the amount (see SourceCheck).
var oobitFormats = map[string]func(string) bool{
	"reply_code":     func(s string) bool { return len(s) == 3 && isDigits(s) },
	"trans_amount":   isDecimal,
	"trans_currency": func(s string) bool { return isLetters(s, 3, 3) },
}

// Provider implements Verifier.
func (v *Oobit) Provider() string { return "oobit" }

// Methods implements Verifier: the notification comes as a GET query or a POST form.
func (v *Oobit) Methods() []string { return []string{http.MethodGet, http.MethodPost} }

// ACK implements Verifier.
func (v *Oobit) ACK() ACK {
	return ACK{Status: http.StatusOK, ContentType: "text/plain; charset=utf-8", Body: "OK"}
}

// Verify implements Verifier.
func (v *Oobit) Verify(_ context.Context, r *Request) ([]Event, error) {
	var fields map[string]string
	var err error
	switch r.Method {
	case http.MethodGet:
		if len(r.Body) > 0 {
			// Unsigned; some app frameworks would read form fields from it.
			return nil, fmt.Errorf("%w: a GET notification with a body", ErrMalformed)
		}
		fields, err = parseURLEncoded("query parameter", r.RawQuery)
	case http.MethodPost:
		fields, err = ParseForm(r.Header.Get("Content-Type"), r.Body)
		if err == nil {
			err = RefuseShadowingQuery(r.RawQuery, fields, oobitFields)
		}
	default:
		return nil, fmt.Errorf("%w: %s", ErrMethod, r.Method)
	}
	if err != nil {
		return nil, err
	}
	signed := oobitSignedString(fields)
	if err := v.checkSignature(fields, signed); err != nil {
		return nil, err
	}
	e, err := v.normalize(fields, signed, r)
	if err != nil {
		return nil, err
	}
	return []Event{e}, nil
}

// checkSignature: signature is the standard base64 of the raw SHA-256 digest
// of trans_id + trans_order + reply_code + trans_amount + trans_currency +
// the merchant hash key, values exactly as received. Sent unencoded in a
// query, the base64 '+' arrives as a space after form decoding; it is put back.
// signed is oobitSignedString(fields).
func (v *Oobit) checkSignature(fields map[string]string, signed string) error {
	given := strings.ReplaceAll(fields["signature"], " ", "+")
	if given == "" {
		return fmt.Errorf("%w: no signature field", ErrSignature)
	}
	digest, err := oobitBase64.DecodeString(given)
	if err != nil || len(digest) != sha256.Size {
		return fmt.Errorf("%w: signature is not the base64 of a SHA-256 digest", ErrSignature)
	}
	// signed + secret, in a stack buffer that append moves to the heap
	// only for long values.
	var stack [256]byte
	message := append(stack[:0], signed...)
	for _, secret := range v.secrets {
		message = append(message[:len(signed)], secret...)
		sum := sha256.Sum256(message)
		if hmac.Equal(sum[:], digest) {
			return nil
		}
	}
	return fmt.Errorf("%w: signature matches none of the %d configured secrets", ErrSignature, len(v.secrets))
}

// oobitSignedString is trans_id + trans_order + reply_code + trans_amount +
// trans_currency, as received.
func oobitSignedString(fields map[string]string) string {
	var values [len(oobitSigned)]string
	size := 0
	for i, name := range oobitSigned {
		values[i] = fields[name]
		size += len(values[i])
	}
	var signed strings.Builder
	signed.Grow(size)
	for _, value := range values {
		signed.WriteString(value)
	}
	return signed.String()
}

// oobitBase64 is the strict standard base64 of the signature, made once:
// Strict returns a new Encoding on every call.
var oobitBase64 = base64.StdEncoding.Strict()

// SourceCheck implements SourceChecker: the signed values have no
// separators, and a reply code and an order id ending in digits cannot be
// told apart, so a genuine decline (whose signed values also travel through
// the customer's browser) can be regrouped into an approval of another order
// that carries a valid signature.
func (v *Oobit) SourceCheck() (bool, string) {
	return true, "its signature cannot tell where trans_order ends and reply_code begins, so a signed decline can be regrouped into an approval"
}

// oobitStatus maps reply_code: 000 approved, 553 pending, anything else a decline.
func oobitStatus(replyCode string) Status {
	switch replyCode {
	case "000":
		return StatusSucceeded
	case "553":
		return StatusPending
	default:
		return StatusFailed
	}
}

// oobitTimeLayout is trans_date's dd/MM/yyyy HH:mm:ss, in GMT.
const oobitTimeLayout = "02/01/2006 15:04:05"

// signed is oobitSignedString(f).
func (v *Oobit) normalize(f map[string]string, signed string, r *Request) (Event, error) {
	for _, name := range []string{"trans_id", "trans_order", "reply_code"} {
		if f[name] == "" {
			return Event{}, fmt.Errorf("%w: mandatory field %s is missing", ErrMalformed, name)
		}
	}
	for name, valid := range oobitFormats {
		if f[name] != "" && !valid(f[name]) {
			return Event{}, fmt.Errorf("%w: field %s is not well formed", ErrMalformed, name)
		}
	}
	e := NewEvent(v.Provider(), r)
	e.ProviderStatus = f["reply_code"]
	e.ResponseCode = f["reply_code"]
	e.Status = oobitStatus(e.ProviderStatus)
	e.Reason = f["reply_desc"]
	e.OrderID = f["trans_order"]
	e.TransactionID = f["trans_id"]
	e.MerchantID = f["merchant_id"]
	e.PaymentMethod = f["payment_details"]
	e.OccurredAt = ParseTime(f["trans_date"], oobitTimeLayout)
	e.Customer = NewCustomer(f["client_fullname"], f["client_email"], f["client_phone"], "")
	if err := SetAmount(&e, "trans_amount", f["trans_amount"], f["trans_currency"], MajorUnits); err != nil {
		return Event{}, err
	}
	// The id is made of the signed string as a whole, so that changing an
	// unsigned field cannot pass a replay off as a new event, and of what
	// the event says, so that a copy whose signed values were regrouped into
	// another order, amount or reply code is another event: arriving first,
	// it cannot have the genuine notification acknowledged as its duplicate.
	e.ID = EventID(e.Provider, signed, string(e.Status), e.ProviderStatus, e.Amount, e.Currency,
		e.OrderID, e.TransactionID)

	e.Raw = marshalStringMap(f, nil) // json.Marshal(f), which cannot fail
	return e, nil
}

// Example implements Signer.
func (v *Oobit) Example(order string, now time.Time) map[string]any {
	return map[string]any{
		"reply_code": "000", "reply_desc": "SUCCESS", "trans_id": "9" + digitsOf(order) + "0", "trans_order": order,
		"trans_amount": "7.23", "trans_currency": "USD", "trans_date": now.UTC().Format(oobitTimeLayout),
	}
}

// Sign implements Signer: a GET query (the default) or, with Method POST, a
// form.
func (v *Oobit) Sign(d Draft) (Notification, error) {
	if len(v.secrets) == 0 {
		return Notification{}, &OptionError{Option: "secret", Msg: "required to sign (is the provider provisioned?)"}
	}
	key := v.secrets[0]
	f, err := FlatFields(d.Fields)
	if err != nil {
		return Notification{}, err
	}
	sum := sha256.Sum256([]byte(oobitSignedString(f) + string(key)))
	f["signature"] = base64.StdEncoding.EncodeToString(sum[:])
	switch d.Method {
	case "", http.MethodGet:
		return Notification{Method: http.MethodGet, Path: d.Path + "?" + EncodeForm(f), Header: http.Header{}}, nil
	case http.MethodPost:
		return newNotification(d.Path, FormType, []byte(EncodeForm(f))), nil
	}
	return Notification{}, fmt.Errorf("oobit sends GET or POST, not %s", d.Method)
}
