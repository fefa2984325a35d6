package verifiers

import (
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"fmt"
	"hash"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

func init() {
	caddy.RegisterModule(Octo3{})
	caddy.RegisterModule(TheDAO{})
}

// Octo3 verifies the asynchronous notifications of the Octo3 e-Commerce
// Payment Service (seed 000): a form POST whose secure_hash field signs every
// other field.
type Octo3 struct {
	// Secrets are the merchant's secure hash secrets.
	Secrets Secrets `json:"secrets,omitempty"`
	// Algorithm is the HMAC: "hmac-sha1" (default) or "hmac-sha256".
	Algorithm string `json:"algorithm,omitempty"`
	// AmountUnit says whether amounts are in "major" (default) or "minor"
	// units of the currency.
	AmountUnit string `json:"amount_unit,omitempty"`
	// SignatureOff accepts notifications without secure_hash. The handler
	// refuses it unless allow_ip is set.
	SignatureOff bool `json:"signature_off,omitempty"`

	provider string    // octo3 or thedao, set by CheckConfig
	macs     *HMACKeys // nil with signature off
	newHash  func() hash.Hash
	unit     Unit
}

// TheDAO verifies the notifications of The DAO (seed 001), which runs on the
// Octo3 platform: the same scheme, options and fields as Octo3.
type TheDAO struct {
	Octo3
}

// CaddyModule returns the Caddy module information.
func (Octo3) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: Namespace + ".octo3", New: func() caddy.Module { return new(Octo3) }}
}

// CaddyModule returns the Caddy module information.
func (TheDAO) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: Namespace + ".thedao", New: func() caddy.Module { return new(TheDAO) }}
}

// CheckConfig implements Provider.
func (v *TheDAO) CheckConfig() error {
	v.provider = "thedao"
	return v.Octo3.CheckConfig()
}

// Provision implements caddy.Provisioner.
func (v *TheDAO) Provision(ctx caddy.Context) error {
	v.provider = "thedao"
	return v.Octo3.Provision(ctx)
}

// Options implements Provider.
func (v *Octo3) Options() []Option {
	return []Option{
		v.Secrets.Option("the secure hash secret"),
		StringOption("algorithm", "hmac-sha1 | hmac-sha256", "the HMAC of secure_hash (default hmac-sha1)", &v.Algorithm),
		StringOption("amount_unit", "major | minor", "whether amounts are sent in major (default) or minor units", &v.AmountUnit),
		{Name: "signature", Args: "off", Doc: "accept notifications without secure_hash; requires allow_ip", Parse: func(d *caddyfile.Dispenser) error {
			var value string
			if !d.Args(&value) || d.NextArg() {
				return d.Errf("signature: the only value is off")
			}
			if value != "off" {
				return d.Errf("signature: the only value is off, got %q", value)
			}
			v.SignatureOff = true
			return nil
		}},
	}
}

// CheckConfig implements Provider.
func (v *Octo3) CheckConfig() error {
	if v.provider == "" {
		v.provider = "octo3"
	}
	switch v.Algorithm {
	case "", "hmac-sha1", "hmac-sha256":
	default:
		return &OptionError{Option: "algorithm", Msg: fmt.Sprintf("%q is not hmac-sha1 or hmac-sha256", v.Algorithm)}
	}
	switch v.AmountUnit {
	case "", "major", "minor":
	default:
		return &OptionError{Option: "amount_unit", Msg: fmt.Sprintf("%q is not major or minor", v.AmountUnit)}
	}
	if v.SignatureOff {
		if len(v.Secrets) > 0 {
			return &OptionError{Option: "signature", Msg: "off and a secret together: remove one of them"}
		}
		return nil
	}
	return v.Secrets.Check(v.provider, "")
}

// About implements Provider.
func (v *Octo3) About() About {
	return About{
		Scheme:  "secure_hash field: hex HMAC-SHA1 (or HMAC-SHA256, algorithm) of the other non-empty values, in the order of their lower-cased names",
		AllowIP: "with signature off",
	}
}

// Provision implements caddy.Provisioner.
func (v *Octo3) Provision(caddy.Context) (err error) {
	if err := v.CheckConfig(); err != nil {
		return err
	}
	v.newHash, v.unit = sha1.New, MajorUnits
	if v.Algorithm == "hmac-sha256" {
		v.newHash = sha256.New
	}
	if v.AmountUnit == "minor" {
		v.unit = MinorUnits
	}
	if v.SignatureOff {
		return nil
	}
	v.macs, err = v.Secrets.HMAC(v.newHash)
	return err
}

// The fields.
const (
	octo3Hash    = "secure_hash"
	octo3CardNum = "card_num"
	octo3DRCount = "dr_count" // delivery attempt counter: never part of the event id
)

// octo3Mandatory are the fields marked M in The DAO's field list.
var octo3Mandatory = []string{
	"version", "action", "merch_order_id", "merch_id", "term_id",
	"currency", "txn_time", "txn_status", "txn_response_code", octo3DRCount,
}

// octo3Fields is the platform's documented field list (The DAO's list, with
// the underscores its integrations send). secure_hash signs the values but
// not the names, so a field the list does not name is refused: otherwise
// whoever holds one genuine notification could rename a field (say
// captured_amount to an unknown name, making the event fall back to
// authorized_amount) without breaking the signature.
var octo3Fields = map[string]bool{}

func init() {
	for _, name := range strings.Fields(`version action merch_order_id merch_id term_id pay_type currency
		card_num merch_txn_id locale merch_data secure_hash
		bill_to_first_name bill_to_last_name bill_to_company bill_to_street bill_to_street2 bill_to_city
		bill_to_state_code bill_to_postal_code bill_to_country_code
		ship_to_first_name ship_to_last_name ship_to_company ship_to_street ship_to_street2 ship_to_city
		ship_to_state_code ship_to_postal_code ship_to_country_code
		pay_item txn_time txn_status txn_response_code dr_count txn_message txn_no batch_no
		acq_response_code auth_id receipt_no authorized_amount captured_amount refunded_amount
		original_amount vat_rate vat_amount accept_time bill_to_email_address customer_ip_address`) {
		octo3Fields[name] = true
	}
}

// octo3Formats constrain every field whose shape is known. Because the signed
// string has no separators, characters could otherwise be moved from one
// field's value into its neighbour's (say "12.50" into action, or a digit from
// merch_txn_id onto the front of original_amount). Free-text fields (names,
// addresses, merch_data, txn_message) cannot be constrained, so this narrows
// the attack without closing it; see the README.
var octo3Formats = map[string]func(string) bool{
	"authorized_amount": isDecimal,
	"captured_amount":   isDecimal,
	"refunded_amount":   isDecimal,
	"original_amount":   isDecimal,
	"vat_amount":        isDecimal,
	"vat_rate":          isDecimal,
	"dr_count":          func(s string) bool { return isDigits(s) && len(s) <= 6 },
	"currency":          func(s string) bool { return lookupCurrency(s) != nil || isAlnum(s, 3, 3) },
	"action":            func(s string) bool { return isLetters(s, 1, 32) },
	"txn_status":        func(s string) bool { return isLetters(s, 1, 32) },
	"txn_response_code": func(s string) bool { return isAlnum(s, 1, 16) },
	// An acquirer response code is two characters (ISO 8583 field 39), three
	// on some acquirers. Longer, it could hide a whole action moved out of
	// the field that follows it in the signed string (REFUND, VOID, CANCEL).
	"acq_response_code": func(s string) bool { return isAlnum(s, 1, 3) && !strings.Contains(s, "_") },
	// An authorization code is exactly six characters (ISO 8583 field 38):
	// shorter or longer, digits of the amount that follows it could be
	// moved into it or out of it.
	"auth_id": func(s string) bool { return isAlnum(s, 6, 6) && !strings.Contains(s, "_") },
	"version": func(s string) bool { return len(s) <= 16 && strings.Trim(s, "0123456789.") == "" },
	"locale": func(s string) bool {
		return len(s) <= 16 && strings.Trim(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_-") == ""
	},
	"card_num":            isCardNumber,
	"txn_time":            isTimestampText,
	"accept_time":         isTimestampText,
	"customer_ip_address": func(s string) bool { _, err := netip.ParseAddr(s); return err == nil },
}

// octo3Known are octo3Fields with their formats (nil for free text), for
// one lookup per field.
var octo3Known = map[string]struct{ valid func(string) bool }{}

func init() {
	for name := range octo3Fields {
		octo3Known[name] = struct{ valid func(string) bool }{octo3Formats[name]}
	}
}

// octo3Amounts are the amount fields, in their signed order.
var octo3Amounts = []string{"authorized_amount", "captured_amount", "original_amount", "refunded_amount", "vat_amount"}

// octo3SameDecimals refuses a notification whose amounts are not all written
// with the same number of decimal places, as the platform writes them. In
// the signed string an amount's last digits can otherwise be moved onto the
// front of the next amount (authorized 12.50 and captured 12.50 signing like
// 12.501 and 2.50), or the first digits of a card number onto its end.
func octo3SameDecimals(fields formFields) error {
	places := -1
	for _, name := range octo3Amounts {
		value := fields.Get(name)
		if value == "" {
			continue
		}
		n := 0
		if _, frac, ok := strings.Cut(value, "."); ok {
			n = len(frac)
		}
		if places >= 0 && n != places {
			return fmt.Errorf("%w: field %s has %d decimal places and another amount %d", ErrMalformed, name, n, places)
		}
		places = n
	}
	return nil
}

// isCardNumber accepts a card number as the platform sends it: masked
// (411111******1111, ************1111, 4111 11** **** 1111), its last four
// digits shown, or whole, 12 to 19 digits with a valid Luhn check digit.
// Both pin where the number ends: card_num sorts just before currency, and
// digits taken from its end would otherwise make another currency code
// (411111******0|840 instead of 411111******0840|344).
func isCardNumber(s string) bool {
	if len(s) > 32 || strings.Trim(s, "0123456789*xX -") != "" {
		return false
	}
	var buf [32]byte
	digits := buf[:0] // s without its spaces and dashes
	for i := 0; i < len(s); i++ {
		if c := s[i]; c != ' ' && c != '-' {
			digits = append(digits, c)
		}
	}
	if masked := bytes.LastIndexAny(digits, "*xX"); masked >= 0 {
		last := digits[masked+1:]
		return len(last) == 4 && isDigits(string(last))
	}
	if len(digits) < 12 || len(digits) > 19 {
		return false
	}
	sum := 0
	for i := range len(digits) {
		d := int(digits[len(digits)-1-i] - '0')
		if i%2 == 1 {
			if d *= 2; d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return sum%10 == 0
}

// isTimestampText: digits and the separators of the layouts below.
func isTimestampText(s string) bool {
	return len(s) <= 40 && strings.Trim(s, "0123456789-/: T.+Z") == ""
}

// octo3TimeLayouts are the txn_time formats seen on the platform's
// integrations; a time in none of them is left out of occurred_at.
var octo3TimeLayouts = []string{
	"20060102150405",
	"2006-01-02 15:04:05",
	"2006-01-02T15:04:05",
	"2006/01/02 15:04:05",
	"2006-01-02T15:04:05Z07:00",
}

// parseOcto3Time is parseTime(s, octo3TimeLayouts...) without the attempts
// that cannot succeed, each of which costs a *time.ParseError. Every layout
// starts with 2006, which time.Parse reads as exactly four bytes, so what
// follows the year in s must be what follows it in the layout: a digit (the
// month of 20060102150405, a two-digit field) or the same separator ('-' or
// '/'). The layouts that remain are tried in their order, so the result is
// the one of parseTime.
func parseOcto3Time(s string) time.Time {
	if len(s) <= 4 {
		return ParseTime(s, octo3TimeLayouts...)
	}
	for _, layout := range octo3TimeLayouts {
		if isASCIIDigit(layout[4]) != isASCIIDigit(s[4]) || !isASCIIDigit(s[4]) && layout[4] != s[4] {
			continue // cannot match: see above
		}
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC()
		}
	}
	return time.Time{}
}

func isASCIIDigit(c byte) bool { return '0' <= c && c <= '9' }

// Provider implements Verifier.
func (v *Octo3) Provider() string { return v.provider }

// SourceCheck implements SourceChecker: with signature off nothing but the
// source address authenticates a notification; with it, the signature covers
// the values but not the field names.
func (v *Octo3) SourceCheck() (bool, string) {
	if v.SignatureOff {
		return true, "signature off leaves the source address as the only check"
	}
	return false, "secure_hash does not cover field names, so a signed notification can be regrouped into other fields"
}

// Methods implements Verifier: the platform only POSTs.
func (v *Octo3) Methods() []string { return []string{http.MethodPost} }

// ACK implements Verifier: the platform retries until it reads the plain text "ACK".
func (v *Octo3) ACK() ACK {
	return ACK{Status: http.StatusOK, ContentType: "text/plain; charset=utf-8", Body: "ACK"}
}

// Verify implements Verifier.
func (v *Octo3) Verify(_ context.Context, r *Request) ([]Event, error) {
	if r.Method != http.MethodPost {
		return nil, fmt.Errorf("%w: %s", ErrMethod, r.Method)
	}
	fields, err := parseFormBody(r.Header.Get("Content-Type"), r.Body)
	if err != nil {
		return nil, err
	}
	for _, p := range fields {
		known, ok := octo3Known[p.name]
		if !ok {
			return nil, fmt.Errorf("%w: unknown field %.40q (field names are not signed, so only documented fields are accepted)", ErrMalformed, p.name)
		}
		if valid := known.valid; valid != nil && p.value != "" && !valid(p.value) {
			return nil, fmt.Errorf("%w: field %s is not well formed", ErrMalformed, p.name)
		}
	}
	if err := octo3SameDecimals(fields); err != nil {
		return nil, err
	}
	if err := refuseShadowingForm(r.RawQuery, fields, octo3Fields); err != nil {
		return nil, err
	}
	if !v.SignatureOff {
		if err := v.checkSignature(fields); err != nil {
			return nil, err
		}
	}
	e, err := v.normalize(fields, r)
	if err != nil {
		return nil, err
	}
	return []Event{e}, nil
}

// checkSignature: secure_hash is the hex HMAC, keyed by the secret, of the
// values of every other non-empty field, concatenated with no separator, in
// the order of the fields' lower-cased names.
func (v *Octo3) checkSignature(fields formFields) error {
	// In a pooled buffer (timedsig.go's): the hash keeps none of the bytes.
	buf := signedBuffers.Get().(*[]byte)
	signed := octo3AppendStringToSign((*buf)[:0], fields)
	err := CheckHexHMAC(octo3Hash+" field", fields.Get(octo3Hash), v.macs, signed)
	if cap(signed) <= 64<<10 { // keep the pool's buffers small
		*buf = signed
		signedBuffers.Put(buf)
	}
	return err
}

// octo3AppendStringToSign appends octo3StringToSign(fields) to dst. The
// fields are sorted by name: when every name is lower-case ASCII, as every
// documented one is, that is the order of their lower-cased names.
func octo3AppendStringToSign(dst []byte, fields formFields) []byte {
	for _, p := range fields {
		if !isLowerASCII(p.name) {
			return append(dst, octo3StringToSign(fields.Map())...)
		}
	}
	for _, p := range fields {
		if p.name != octo3Hash {
			dst = append(dst, p.value...)
		}
	}
	return dst
}

func octo3StringToSign(fields map[string]string) []byte {
	names := make([]string, 0, len(fields))
	size := 0
	plain := true // every name is ASCII without an upper-case letter
	for name, value := range fields {
		if name == octo3Hash || value == "" {
			continue
		}
		names = append(names, name)
		size += len(value)
		if plain && !isLowerASCII(name) {
			plain = false
		}
	}
	if plain {
		// strings.ToLower leaves such names unchanged, so the order below
		// is plain byte order. Verify only signs documented names, all of
		// them lower-case ASCII.
		slices.Sort(names)
	} else {
		slices.SortFunc(names, func(a, b string) int {
			if c := strings.Compare(strings.ToLower(a), strings.ToLower(b)); c != 0 {
				return c
			}
			return strings.Compare(a, b)
		})
	}
	signed := make([]byte, 0, size)
	for _, name := range names {
		signed = append(signed, fields[name]...)
	}
	return signed
}

// isLowerASCII reports whether s is ASCII without an upper-case letter.
func isLowerASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 0x80 || 'A' <= c && c <= 'Z' {
			return false
		}
	}
	return true
}

// octo3Statuses maps txn_status; anything else is StatusUnknown.
var octo3Statuses = map[string]Status{
	"ACCEPTED":  StatusSucceeded,
	"FAILED":    StatusFailed,
	"REJECTED":  StatusFailed,
	"DECLINED":  StatusFailed,
	"ERROR":     StatusFailed,
	"VOIDED":    StatusCancelled,
	"CANCELLED": StatusCancelled,
}

// octo3Accepted is what an ACCEPTED txn_status means for each known action.
// The list is closed: the values are signed without separators, so the
// leading letters of action can be moved into the field before it
// (acq_response_code) and a genuine REFUND arrive as UND; an action that is
// not exactly one of these is never a payment.
var octo3Accepted = map[string]Status{
	"PAY":    StatusSucceeded,
	"REFUND": StatusRefunded,
	"VOID":   StatusCancelled,
	"CANCEL": StatusCancelled,
}

// octo3Status maps action and txn_status, which says whether the action went
// through, not what the action was: an accepted refund is a refund and an
// accepted void or cancellation a cancellation, never a successful payment.
// An action or a txn_status that is not exactly a known value is
// StatusUnknown.
func octo3Status(action, txnStatus string) Status {
	status, ok := octo3Statuses[strings.ToUpper(txnStatus)]
	accepted, known := octo3Accepted[strings.ToUpper(action)]
	if !ok || !known {
		return StatusUnknown
	}
	if status == StatusSucceeded {
		return accepted
	}
	return status
}

// octo3Read are the fields normalize reads, sorted (formFields.lookup),
// and o3* their positions.
var octo3Read = [...]string{
	"action", "authorized_amount", "bill_to_email_address", "bill_to_first_name", "bill_to_last_name",
	"captured_amount", "currency", "customer_ip_address", "dr_count", "merch_id", "merch_order_id",
	"merch_txn_id", "original_amount", "pay_type", "refunded_amount", "term_id", "txn_message", "txn_no",
	"txn_response_code", "txn_status", "txn_time", "version",
}

const (
	o3Action = iota
	o3AuthorizedAmount
	o3BillToEmail
	o3BillToFirstName
	o3BillToLastName
	o3CapturedAmount
	o3Currency
	o3CustomerIP
	o3DRCount
	o3MerchID
	o3MerchOrderID
	o3MerchTxnID
	o3OriginalAmount
	o3PayType
	o3RefundedAmount
	o3TermID
	o3TxnMessage
	o3TxnNo
	o3TxnResponseCode
	o3TxnStatus
	o3TxnTime
	o3Version
	o3Read // the number of fields read
)

// octo3MandatoryRead are octo3Mandatory's positions in octo3Read.
var octo3MandatoryRead = [...]int{o3Version, o3Action, o3MerchOrderID, o3MerchID, o3TermID,
	o3Currency, o3TxnTime, o3TxnStatus, o3TxnResponseCode, o3DRCount}

func (v *Octo3) normalize(fields formFields, r *Request) (Event, error) {
	var f [o3Read]string
	fields.lookup(octo3Read[:], f[:])
	for i, slot := range octo3MandatoryRead {
		if f[slot] == "" {
			return Event{}, fmt.Errorf("%w: mandatory field %s is missing", ErrMalformed, octo3Mandatory[i])
		}
	}
	e := NewEvent(v.provider, r)
	e.ProviderStatus = f[o3TxnStatus]
	e.Status = octo3Status(f[o3Action], e.ProviderStatus)
	e.OrderID = f[o3MerchOrderID]
	e.TransactionID = f[o3TxnNo]
	e.MerchantID = f[o3MerchID]
	e.ResponseCode = f[o3TxnResponseCode]
	e.Reason = f[o3TxnMessage]
	e.PaymentMethod = f[o3PayType]
	e.OccurredAt = parseOcto3Time(f[o3TxnTime])
	e.Customer = NewCustomer(f[o3BillToFirstName]+" "+f[o3BillToLastName],
		f[o3BillToEmail], "", f[o3CustomerIP])

	// The first amount given, in this order (a refund's own first).
	amounts := [...]int{o3RefundedAmount, o3CapturedAmount, o3AuthorizedAmount, o3OriginalAmount}
	from := 1
	if e.Status == StatusRefunded {
		from = 0
	}
	for _, slot := range amounts[from:] {
		if f[slot] != "" {
			if err := SetAmount(&e, octo3Read[slot], f[slot], f[o3Currency], v.unit); err != nil {
				return Event{}, err
			}
			break
		}
	}

	// The id names one payment event and stays the same on every retry:
	// dr_count, the attempt counter, is left out. The action and the amounts
	// are in, so that a refund, or a second partial capture of an order
	// without txn_no, is not mistaken for a retry of an earlier event.
	transaction := f[o3TxnNo]
	if transaction == "" {
		transaction = f[o3MerchTxnID]
	}
	// The currency is in too: moved across a boundary (from the end of
	// card_num, into customer_ip_address or dr_count) it makes another
	// event, which must not stand in for the genuine one by arriving first.
	e.ID = EventID(v.provider, f[o3MerchID], f[o3MerchOrderID], transaction, f[o3Action], e.ProviderStatus,
		f[o3CapturedAmount], f[o3AuthorizedAmount], f[o3OriginalAmount], f[o3RefundedAmount], f[o3Currency])

	// json.Marshal of the fields with card_num masked, which cannot fail.
	e.Raw = marshalFields(fields, nil, octo3RawValue)
	return e, nil
}

// octo3RawValue is the value of a field as raw keeps it: card_num masked.
func octo3RawValue(name, value string) string {
	if name == octo3CardNum {
		return maskPAN(value)
	}
	return value
}

// Example implements Signer.
func (v *Octo3) Example(order string, now time.Time) map[string]any {
	return map[string]any{
		"version": "2.0", "action": "PAY", "merch_order_id": order, "merch_id": "M100200", "term_id": "T01",
		"currency": "HKD", "txn_time": now.UTC().Format(time.DateTime), "txn_status": "ACCEPTED",
		"txn_response_code": "00", "dr_count": "1", "txn_no": "TXN" + alnum(order), "captured_amount": "12.50",
		"pay_type": "VISA", "txn_message": "Approved",
	}
}

// Sign implements Signer: with signature off, no secure_hash.
func (v *Octo3) Sign(d Draft) (Notification, error) {
	f, err := FlatFields(d.Fields)
	if err != nil {
		return Notification{}, err
	}
	if !v.SignatureOff {
		delete(f, octo3Hash)
		if f[octo3Hash], err = signHex(v.macs, octo3StringToSign(f)); err != nil {
			return Notification{}, err
		}
	}
	return newNotification(d.Path, FormType, []byte(EncodeForm(f))), nil
}

// StorageRisk implements StorageRisker: card_num may hold the full card
// number (it is masked in the normalized event).
func (v *Octo3) StorageRisk() string {
	return "its notifications may carry the full card number (card_num), which the normalized event masks"
}
