package verifiers

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
)

func init() {
	caddy.RegisterModule(Oobit{})
}

// Oobit verifies the notifications of Oobit (the Coriunder platform, seed
// 004): a GET query or a POST form whose signature field is the base64
// SHA-256 of five values and the merchant hash key.
//
// With merchant_number, every new notification is confirmed by asking
// Oobit's getStatus.asp about its order (verify by inquiry): the signed
// values can be regrouped, the answer cannot.
type Oobit struct {
	// Secrets are the merchant hash keys.
	Secrets Secrets `json:"secrets,omitempty"`
	// MerchantNumber is the CompanyNum that getStatus.asp is asked with;
	// set, it turns inquiry on. {env.*} and {file.*} are resolved.
	MerchantNumber string `json:"merchant_number,omitempty"`
	// Inquiry: inquire (default OobitStatusURL when merchant_number is
	// set) and inquiry_timeout.
	Inquiry

	secrets    [][]byte
	companyNum string // resolved MerchantNumber; "" without inquiry
}

// OobitStatusURL is getStatus.asp, the default inquire of oobit.
const OobitStatusURL = "https://process.oobit.com/member/getStatus.asp"

// CaddyModule returns the Caddy module information.
func (Oobit) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: Namespace + ".oobit", New: func() caddy.Module { return new(Oobit) }}
}

// Options implements Provider.
func (v *Oobit) Options() []Option {
	return append([]Option{
		v.Secrets.Option("the merchant hash key"),
		StringOption("merchant_number", "<CompanyNum>", "your merchant number (CompanyNum): every new notification is then confirmed with getStatus.asp, and allow_ip is no longer required; {env.*} and {file.*} work", &v.MerchantNumber),
	}, v.Inquiry.Options("getStatus.asp's full URL (default "+OobitStatusURL+"; only with merchant_number)")...)
}

// CheckConfig implements Provider.
func (v *Oobit) CheckConfig() error {
	if err := v.Secrets.Check("oobit", "the merchant hash key"); err != nil {
		return err
	}
	if v.MerchantNumber == "" && v.Inquiry.Set() {
		return &OptionError{Option: "merchant_number", Msg: "required with inquire: getStatus.asp is asked with it"}
	}
	return v.Inquiry.CheckConfig(v.defaultInquire())
}

// defaultInquire is getStatus.asp when merchant_number is set: the default
// applies only when inquiry is on.
func (v *Oobit) defaultInquire() string {
	if v.MerchantNumber == "" {
		return ""
	}
	return OobitStatusURL
}

// About implements Provider.
func (v *Oobit) About() About {
	return About{
		Scheme:  "signature field: base64 SHA-256 of trans_id, trans_order, reply_code, trans_amount, trans_currency and the hash key, concatenated",
		AllowIP: "without merchant_number",
		Inquire: "with merchant_number: getStatus.asp (default " + OobitStatusURL + ") is asked about the order of every new notification; its reply code, amount and currency must agree",
	}
}

// Provision implements caddy.Provisioner.
func (v *Oobit) Provision(caddy.Context) (err error) {
	if err := v.CheckConfig(); err != nil {
		return err
	}
	if v.secrets, err = v.Secrets.Keys(); err != nil {
		return err
	}
	if v.companyNum, err = InquiryCredential("merchant_number", v.MerchantNumber, v.MerchantNumber != ""); err != nil {
		return err
	}
	return v.Inquiry.Provision(v.defaultInquire())
}

// Inquires implements Inquirer: with merchant_number.
func (v *Oobit) Inquires() bool { return v.MerchantNumber != "" }

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
var oobitFormats = []struct {
	name  string
	valid func(string) bool
}{
	{"reply_code", func(s string) bool { return len(s) == 3 && isDigits(s) }},
	{"trans_amount", isDecimal},
	{"trans_currency", func(s string) bool { return isLetters(s, 3, 3) }},
}

// Provider implements Verifier.
func (v *Oobit) Provider() string { return "oobit" }

// Methods implements Verifier: the notification comes as a GET query or a POST form.
func (v *Oobit) Methods() []string { return []string{http.MethodGet, http.MethodPost} }

// ACK implements Verifier.
func (v *Oobit) ACK() ACK {
	return ACK{Status: http.StatusOK, ContentType: "text/plain; charset=utf-8", Body: "OK"}
}

// Verify implements Verifier: Notice, then, with merchant_number, Inquire.
func (v *Oobit) Verify(ctx context.Context, r *Request) ([]Event, error) {
	return VerifyByInquiry(ctx, v, r)
}

// Notice implements Inquirer: the notification's own checks (form,
// signature, formats) and its event, unconfirmed.
func (v *Oobit) Notice(r *Request) ([]Event, error) {
	var fields formFields
	var err error
	switch r.Method {
	case http.MethodGet:
		if len(r.Body) > 0 {
			// Unsigned; some app frameworks would read form fields from it.
			return nil, fmt.Errorf("%w: a GET notification with a body", ErrMalformed)
		}
		fields, err = parseFormFields("query parameter", r.RawQuery)
	case http.MethodPost:
		fields, err = parseFormBody(r.Header.Get("Content-Type"), r.Body)
		if err == nil {
			err = refuseShadowingForm(r.RawQuery, fields, oobitFields)
		}
	default:
		return nil, fmt.Errorf("%w: %s", ErrMethod, r.Method)
	}
	if err != nil {
		return nil, err
	}
	signed := oobitSignedFields(fields)
	if err := v.checkSignature(fields.Get("signature"), signed); err != nil {
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
// signature is the signature field's value; signed is oobitSignedFields
// of the fields.
func (v *Oobit) checkSignature(signature, signed string) error {
	given := strings.ReplaceAll(signature, " ", "+")
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

// oobitSignedFields is trans_id + trans_order + reply_code + trans_amount +
// trans_currency, as received, of sorted fields.
func oobitSignedFields(fields formFields) string {
	var values [len(oobitSigned)]string
	size := 0
	for i, name := range oobitSigned {
		values[i] = fields.Get(name)
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
// that carries a valid signature. With merchant_number, getStatus.asp
// confirms the five signed values, and allow_ip is not required.
func (v *Oobit) SourceCheck() (bool, string) {
	if v.MerchantNumber != "" {
		return false, ""
	}
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

// signed is oobitSignedFields of f.
func (v *Oobit) normalize(fields formFields, signed string, r *Request) (Event, error) {
	f := fields.Get
	for _, name := range []string{"trans_id", "trans_order", "reply_code"} {
		if f(name) == "" {
			return Event{}, fmt.Errorf("%w: mandatory field %s is missing", ErrMalformed, name)
		}
	}
	for _, format := range oobitFormats {
		if value := f(format.name); value != "" && !format.valid(value) {
			return Event{}, fmt.Errorf("%w: field %s is not well formed", ErrMalformed, format.name)
		}
	}
	e := NewEvent(v.Provider(), r)
	e.ProviderStatus = f("reply_code")
	e.ResponseCode = f("reply_code")
	e.Status = oobitStatus(e.ProviderStatus)
	e.Reason = f("reply_desc")
	e.OrderID = f("trans_order")
	e.TransactionID = f("trans_id")
	e.MerchantID = f("merchant_id")
	e.PaymentMethod = f("payment_details")
	e.OccurredAt = ParseTime(f("trans_date"), oobitTimeLayout)
	e.Customer = NewCustomer(f("client_fullname"), f("client_email"), f("client_phone"), "")
	if err := SetAmount(&e, "trans_amount", f("trans_amount"), f("trans_currency"), MajorUnits); err != nil {
		return Event{}, err
	}
	// The id is made of the signed string as a whole, so that changing an
	// unsigned field cannot pass a replay off as a new event, and of what
	// the event says, so that a copy whose signed values were regrouped into
	// another order, amount or reply code is another event: arriving first,
	// it cannot have the genuine notification acknowledged as its duplicate.
	e.ID = EventID(e.Provider, signed, string(e.Status), e.ProviderStatus, e.Amount, e.Currency,
		e.OrderID, e.TransactionID)

	e.Raw = marshalFields(fields, nil, nil) // json.Marshal of the fields, which cannot fail
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
	sum := sha256.Sum256([]byte(oobitSignedFields(fieldsOf(f)) + string(key)))
	f["signature"] = base64.StdEncoding.EncodeToString(sum[:])
	switch d.Method {
	case "", http.MethodGet:
		return Notification{Method: http.MethodGet, Path: d.Path + "?" + EncodeForm(f), Header: http.Header{}}, nil
	case http.MethodPost:
		return newNotification(d.Path, FormType, []byte(EncodeForm(f))), nil
	}
	return Notification{}, fmt.Errorf("oobit sends GET or POST, not %s", d.Method)
}

// Inquire implements Inquirer: it asks getStatus.asp for the transactions
// of the notification's order (GET ?Order=&CompanyNum=&signature=, the
// signature the base64 SHA-256 of CompanyNum + Order + the first hash key)
// and confirms the event when the transaction with the notification's
// trans_id has its reply code, amount and currency. The confirmed event
// takes reply_desc, trans_date, merchant_id and client_email from the
// answer, where it gives them: in the notification they are not signed.
func (v *Oobit) Inquire(ctx context.Context, r *Request, stated []Event) ([]Event, error) {
	if len(v.secrets) == 0 || v.companyNum == "" {
		return nil, fmt.Errorf("%w: oobit inquiry is not configured (is the provider provisioned?)", ErrInquiry)
	}
	return InquireEach(ctx, stated, v.inquireOne)
}

// oobitStatusAnswer is getStatus.asp's JSON answer (seed 004): error "0"
// and the order's transactions, several when the merchant used the order id
// more than once (a decline, then an approval).
type oobitStatusAnswer struct {
	Error   json.RawMessage              `json:"error"`
	Message json.RawMessage              `json:"message"`
	Data    []map[string]json.RawMessage `json:"data"`
}

func (v *Oobit) inquireOne(ctx context.Context, e Event) (Event, error) {
	sum := sha256.Sum256([]byte(v.companyNum + e.OrderID + string(v.secrets[0])))
	query := "Order=" + url.QueryEscape(e.OrderID) + "&CompanyNum=" + url.QueryEscape(v.companyNum) +
		"&signature=" + url.QueryEscape(base64.StdEncoding.EncodeToString(sum[:]))
	req, err := http.NewRequest(http.MethodGet, v.Inquiry.Endpoint("", query), nil)
	if err != nil {
		return Event{}, fmt.Errorf("%w: building the getStatus.asp request: %v", ErrInquiry, err)
	}
	req.Header.Set("Accept", "application/json")
	ans, err := v.Inquiry.Do(ctx, req)
	if err != nil {
		return Event{}, err
	}
	const what = "oobit's getStatus.asp"
	if ans.Status != http.StatusOK {
		return Event{}, ans.Unexpected(what)
	}
	var answer oobitStatusAnswer
	if err := CheckJSON(ans.Body); err != nil {
		return Event{}, fmt.Errorf("%w: %s answered something unreadable: %v", ErrInquiry, what, err)
	}
	if err := json.Unmarshal(ans.Body, &answer); err != nil {
		return Event{}, fmt.Errorf("%w: %s answered something unreadable: %v", ErrInquiry, what, err)
	}
	code, ok := jsonScalarText(answer.Error)
	if !ok {
		return Event{}, fmt.Errorf("%w: %s answered without an error code", ErrInquiry, what)
	}
	if code != "0" {
		message, _ := jsonScalarText(answer.Message)
		return Event{}, fmt.Errorf("%w: %s answered error %.10q (%.80q)", ErrInquiry, what, code, message)
	}
	if answer.Data == nil {
		return Event{}, fmt.Errorf("%w: %s answered without data", ErrInquiry, what)
	}
	var found map[string]string
	for _, raw := range answer.Data {
		item := make(map[string]string, len(raw))
		for k, val := range raw {
			if text, ok := jsonScalarText(val); ok {
				item[k] = text
			}
		}
		if item["trans_id"] != e.TransactionID {
			continue
		}
		if found != nil {
			return Event{}, fmt.Errorf("%w: %s lists transaction %.40q twice", ErrInquiry, what, e.TransactionID)
		}
		found = item
	}
	if found == nil {
		return Event{}, fmt.Errorf("%w: oobit does not know transaction %.40q of order %.40q (%d transactions listed)",
			ErrSignature, e.TransactionID, e.OrderID, len(answer.Data))
	}
	for _, name := range []string{"replyCode", "trans_amount", "trans_currency"} {
		if found[name] == "" {
			return Event{}, fmt.Errorf("%w: %s answered transaction %.40q without %s", ErrInquiry, what, e.TransactionID, name)
		}
	}
	if found["replyCode"] != e.ResponseCode {
		return Event{}, fmt.Errorf("%w: the API's replyCode is %.10q, the notification says reply_code %.10q",
			ErrSignature, found["replyCode"], e.ResponseCode)
	}
	var notified map[string]string // the notification's fields as received (Notice's raw)
	if err := json.Unmarshal(e.Raw, &notified); err != nil {
		return Event{}, fmt.Errorf("%w: the stated event's raw: %v", ErrInquiry, err)
	}
	same, err := seedSameDecimal(found["trans_amount"], notified["trans_amount"])
	if err != nil {
		return Event{}, fmt.Errorf("%w: %s answered a trans_amount that is not a decimal number", ErrInquiry, what)
	}
	if !same {
		return Event{}, fmt.Errorf("%w: the API's trans_amount is %.20q, the notification says %.20q",
			ErrSignature, found["trans_amount"], notified["trans_amount"])
	}
	if !strings.EqualFold(found["trans_currency"], notified["trans_currency"]) {
		return Event{}, fmt.Errorf("%w: the API's trans_currency is %.10q, the notification says %.10q",
			ErrSignature, found["trans_currency"], notified["trans_currency"])
	}
	// Confirmed: what the notification carries unsigned is taken from the
	// answer where the answer gives it.
	if desc := found["replyDesc"]; desc != "" {
		e.Reason = desc
	}
	if t := ParseTime(found["trans_date"], oobitTimeLayout); !t.IsZero() {
		e.OccurredAt = t
	}
	if m := found["merchantID"]; m != "" {
		e.MerchantID = m
	}
	if email := found["client_email"]; email != "" {
		if e.Customer == nil {
			e.Customer = &Customer{}
		} else {
			c := *e.Customer
			e.Customer = &c
		}
		e.Customer.Email = email
	}
	return e, nil
}

// jsonScalarText is a JSON string's content or a number's text; ok is
// false for anything else (null, an object, an array, a boolean).
func jsonScalarText(raw json.RawMessage) (string, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "", false
	}
	switch c := raw[0]; {
	case c == '"':
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return "", false
		}
		return s, true
	case c == '-' || c >= '0' && c <= '9':
		var n json.Number
		if json.Unmarshal(raw, &n) != nil {
			return "", false
		}
		return n.String(), true
	}
	return "", false
}

// seedSameDecimal compares two amounts as decimals ("1" equals "1.00");
// the error is for answer, which must be a plain decimal number.
func seedSameDecimal(answer, notified string) (bool, error) {
	a, err := parseDecimal(answer)
	if err != nil {
		return false, err
	}
	n, err := parseDecimal(notified)
	if err != nil {
		return false, nil
	}
	return a.Equal(n), nil
}
