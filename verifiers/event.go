package verifiers

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/Rhymond/go-money"
	"github.com/shopspring/decimal"
)

// Schema is the value of every event's "schema" member.
const Schema = "paynotify.v1"

// Status is the provider-neutral payment status.
type Status string

// The statuses of paynotify.v1.
const (
	StatusPending    Status = "pending"
	StatusAuthorized Status = "authorized"
	StatusSucceeded  Status = "succeeded"
	StatusFailed     Status = "failed"
	StatusCancelled  Status = "cancelled"
	StatusRefunded   Status = "refunded"
	StatusExpired    Status = "expired"
	// StatusDisputed: a chargeback or dispute was opened against the payment.
	StatusDisputed Status = "disputed"
	StatusUnknown  Status = "unknown"
)

// Statuses lists every status of paynotify.v1, in the schema's order.
var Statuses = []Status{StatusPending, StatusAuthorized, StatusSucceeded, StatusFailed, StatusCancelled,
	StatusRefunded, StatusExpired, StatusDisputed, StatusUnknown}

// Event is one normalized notification, the paynotify.v1 schema. Optional
// members are omitted when empty.
type Event struct {
	Schema         string          `json:"schema"`
	ID             string          `json:"id"`
	Provider       string          `json:"provider"`
	Status         Status          `json:"status"`
	ProviderStatus string          `json:"provider_status,omitempty"`
	OrderID        string          `json:"order_id,omitempty"`
	TransactionID  string          `json:"transaction_id,omitempty"`
	MerchantID     string          `json:"merchant_id,omitempty"`
	Amount         string          `json:"amount,omitempty"`
	AmountMinor    *int64          `json:"amount_minor,omitempty"`
	Currency       string          `json:"currency,omitempty"`
	OccurredAt     time.Time       `json:"occurred_at,omitzero"`
	ReceivedAt     time.Time       `json:"received_at"`
	Reason         string          `json:"reason,omitempty"`
	ResponseCode   string          `json:"response_code,omitempty"`
	PaymentMethod  string          `json:"payment_method,omitempty"`
	Customer       *Customer       `json:"customer,omitempty"`
	SourceIP       string          `json:"source_ip,omitempty"`
	Raw            json.RawMessage `json:"raw"`

	// ReplayKey, when set, is what the event is deduplicated by instead of
	// ID. A provider whose event id is not covered by the signature
	// (Razorpay's X-Razorpay-Event-Id, an hmac event_id header the template
	// does not sign) sets it from the signed content (BodyReplayKey), so
	// that a captured notification resent under another id is still a
	// duplicate. It is not part of paynotify.v1.
	ReplayKey string `json:"-"`
}

// BodyReplayKey is the ReplayKey of a notification whose signed content is
// its body: the provider's retries send the same bytes.
func BodyReplayKey(provider string, body []byte) string {
	sum := sha256.Sum256(body)
	return EventID(provider, "body", hex.EncodeToString(sum[:]))
}

// Customer is who paid, as far as the provider tells.
type Customer struct {
	Name  string `json:"name,omitempty"`
	Email string `json:"email,omitempty"`
	Phone string `json:"phone,omitempty"`
	IP    string `json:"ip,omitempty"`
}

// NewCustomer returns nil when the provider told nothing about the customer,
// so that the member is omitted.
func NewCustomer(name, email, phone, ip string) *Customer {
	c := Customer{Name: strings.TrimSpace(name), Email: email, Phone: phone, IP: ip}
	if c == (Customer{}) {
		return nil
	}
	return &c
}

// NewEvent fills the members every provider sets the same way.
func NewEvent(provider string, r *Request) Event {
	e := Event{Schema: Schema, Provider: provider, ReceivedAt: r.ReceivedAt.UTC()}
	if r.ClientIP.IsValid() {
		e.SourceIP = r.ClientIP.Unmap().String()
	}
	return e
}

// EventID derives a stable id from the fields that identify one payment
// event. Retry counters must not be among them, or every retry would look
// like a new event. The parts are length-prefixed so that no two different
// lists hash alike.
//
// Each part is framed as its decimal byte length, ':', the part and ';'
// (what fmt's "%d:%s;" wrote), into a stack buffer that append moves to the
// heap only for unusually long parts.
func EventID(parts ...string) string {
	var stack [512]byte
	framed := stack[:0]
	for _, p := range parts {
		framed = strconv.AppendInt(framed, int64(len(p)), 10)
		framed = append(framed, ':')
		framed = append(framed, p...)
		framed = append(framed, ';')
	}
	sum := sha256.Sum256(framed)
	const prefix = "pn_"
	var id [len(prefix) + 2*16]byte
	copy(id[:], prefix)
	hex.Encode(id[len(prefix):], sum[:16])
	return string(id[:])
}

// Unit says whether an amount is sent in major units (12.50) or in the
// currency's minor units (1250).
type Unit int

// The units of SetAmount.
const (
	MajorUnits Unit = iota
	MinorUnits
)

// iso4217 indexes go-money's currency table by alpha and by numeric code.
// It is built once, by asking go-money for every three-letter code, because
// go-money exposes no listing and its own numeric lookup walks a map, so a
// numeric code shared by two currencies (532: ANG and XCG) would resolve to
// either at random. Such a code is left out, as are entries without a numeric
// code, which are not ISO 4217 (GGP, IMP, JEP) or long withdrawn.
var iso4217 = sync.OnceValue(func() (idx struct{ alpha, numeric map[string]*money.Currency }) {
	idx.alpha = map[string]*money.Currency{}
	idx.numeric = map[string]*money.Currency{}
	ambiguous := map[string]bool{}
	code := []byte("AAA")
	for a := byte('A'); a <= 'Z'; a++ {
		for b := byte('A'); b <= 'Z'; b++ {
			for c := byte('A'); c <= 'Z'; c++ {
				code[0], code[1], code[2] = a, b, c
				cur := money.GetCurrency(string(code))
				if cur == nil || cur.NumericCode == "" {
					continue
				}
				idx.alpha[cur.Code] = cur
				if _, dup := idx.numeric[cur.NumericCode]; dup {
					ambiguous[cur.NumericCode] = true
				}
				idx.numeric[cur.NumericCode] = cur
			}
		}
	}
	for n := range ambiguous {
		delete(idx.numeric, n)
	}
	return idx
})

// lookupCurrency resolves an ISO 4217 alpha ("hkd", "HKD") or numeric ("344")
// code. It returns nil for a code it does not know.
func lookupCurrency(code string) *money.Currency {
	if len(code) != 3 {
		return nil
	}
	if isDigits(code) {
		return iso4217().numeric[code]
	}
	// strings.ToUpper, without its allocation for a lower-case ASCII code;
	// a code with a byte beyond ASCII is left to strings.ToUpper itself.
	var upper [3]byte
	for i := 0; i < 3; i++ {
		c := code[i]
		if c >= 0x80 {
			return iso4217().alpha[strings.ToUpper(code)]
		}
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		upper[i] = c
	}
	return iso4217().alpha[string(upper[:])]
}

func isDecimal(s string) bool { return isPlainDecimal(s) }

// isAlnum reports whether s is min to max ASCII letters, digits or underscores.
func isAlnum(s string, min, max int) bool {
	if len(s) < min || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// isLetters reports whether s is min to max ASCII letters or underscores.
func isLetters(s string, min, max int) bool {
	return isAlnum(s, min, max) && !strings.ContainsAny(s, "0123456789")
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// SetAmount fills currency, amount and amount_minor from the amount field
// named field, as the provider wrote it. The amount must be a plain unsigned
// decimal number (no sign, exponent or thousands separator); a minor-unit
// amount must be a whole number. An unknown currency leaves currency and
// amount_minor out, and amount too for a minor-unit amount, whose major value
// is then unknown (raw keeps what was sent). A major amount with more
// decimals than its currency has keeps its own digits and leaves amount_minor
// out rather than rounding money. Errors name the field, not its value: the
// value is not authenticated yet when some providers' formats are checked.
func SetAmount(e *Event, field, value, currencyCode string, unit Unit) error {
	if value == "" {
		if cur := lookupCurrency(currencyCode); cur != nil {
			e.Currency = cur.Code
		}
		return nil
	}
	if !isPlainDecimal(value) {
		return fmt.Errorf("%w: %s is not an unsigned decimal number", ErrMalformed, field)
	}
	if m, scale, ok := smallDecimal(value); ok {
		return setSmallAmount(e, field, value, m, scale, lookupCurrency(currencyCode), unit)
	}
	// More digits than an int64 holds: in decimal arithmetic.
	if unit == MinorUnits {
		if d, err := decimal.NewFromString(value); err != nil || !d.IsInteger() {
			return fmt.Errorf("%w: %s is not a whole number of minor units", ErrMalformed, field)
		}
	}
	cur := lookupCurrency(currencyCode)
	if cur == nil {
		if unit == MajorUnits {
			e.Amount = value // already checked to be a plain decimal
		}
		return nil
	}
	return setBigAmount(e, field, value, cur, unit)
}

// pow10 are the powers of ten an int64 holds.
var pow10 = [...]int64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18}

// smallDecimal reads a plain decimal (isPlainDecimal) of at most 18 digits
// as m·10^-scale; ok is false for a longer one, which SetAmount leaves to
// shopspring/decimal.
func smallDecimal(s string) (m int64, scale int, ok bool) {
	digits := 0
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '.' {
			scale = len(s) - i - 1
		} else {
			m = m*10 + int64(c-'0')
			if digits++; digits > 18 {
				return 0, 0, false
			}
		}
	}
	return m, scale, true
}

// setSmallAmount is SetAmount of value, a plain decimal m·10^-scale of at
// most 18 digits (so that m < 10^18), in integer arithmetic; cur is the
// currency, nil when unknown. It writes what SetAmount's decimal
// arithmetic writes, byte for byte (TestSetAmountMatchesDecimal,
// FuzzSetAmount).
func setSmallAmount(e *Event, field, value string, m int64, scale int, cur *money.Currency, unit Unit) error {
	if unit == MinorUnits && m%pow10[scale] != 0 {
		return fmt.Errorf("%w: %s is not a whole number of minor units", ErrMalformed, field)
	}
	if cur == nil {
		if unit == MajorUnits {
			e.Amount = value // already checked to be a plain decimal
		}
		return nil
	}
	exp := cur.Fraction
	if exp < 0 || exp > 18 {
		return setBigAmount(e, field, value, cur, unit) // no ISO 4217 currency
	}
	e.Currency = cur.Code
	if unit == MinorUnits {
		scale += exp // the amount is m·10^-(scale+exp) in major units
	}
	// The amount in minor units, m·10^(exp-scale), when it is whole.
	var minor int64
	switch {
	case scale <= exp:
		p := pow10[exp-scale]
		if m > math.MaxInt64/p {
			return fmt.Errorf("%w: %s is out of range", ErrMalformed, field)
		}
		minor = m * p
	case scale-exp <= 18 && m%pow10[scale-exp] == 0:
		minor = m / pow10[scale-exp]
	default:
		// Not a whole number of minor units: the amount keeps its own
		// digits, without trailing zeros (decimal's String).
		var buf [48]byte
		b := appendScaled(buf[:0], m, scale)
		if scale > 0 {
			b = bytes.TrimRight(b, "0")
			b = bytes.TrimSuffix(b, []byte("."))
		}
		e.Amount = string(b)
		return nil
	}
	e.AmountMinor = &minor
	var buf [48]byte
	e.Amount = string(appendScaled(buf[:0], minor, exp)) // decimal's StringFixed(exp)
	return nil
}

// appendScaled appends n·10^-scale with exactly scale decimals (none and
// no point when scale is 0).
func appendScaled(dst []byte, n int64, scale int) []byte {
	var digits [20]byte
	d := strconv.AppendInt(digits[:0], n, 10)
	if scale == 0 {
		return append(dst, d...)
	}
	if len(d) <= scale { // 0.0…
		dst = append(dst, '0', '.')
		for range scale - len(d) {
			dst = append(dst, '0')
		}
		return append(dst, d...)
	}
	dst = append(dst, d[:len(d)-scale]...)
	dst = append(dst, '.')
	return append(dst, d[len(d)-scale:]...)
}

// setBigAmount is SetAmount in decimal arithmetic, for a currency whose
// fraction is outside what setSmallAmount handles.
func setBigAmount(e *Event, field, value string, cur *money.Currency, unit Unit) error {
	d, err := decimal.NewFromString(value)
	if err != nil {
		return fmt.Errorf("%w: %s is not an unsigned decimal number", ErrMalformed, field)
	}
	e.Currency = cur.Code
	exp := int32(cur.Fraction)
	if unit == MinorUnits {
		d = d.Shift(-exp)
	}
	e.Amount = d.String()
	minorUnits := d.Shift(exp)
	if !minorUnits.IsInteger() {
		return nil
	}
	if !minorUnits.BigInt().IsInt64() {
		return fmt.Errorf("%w: %s is out of range", ErrMalformed, field)
	}
	n := minorUnits.IntPart()
	e.AmountMinor = &n
	e.Amount = d.StringFixed(exp)
	return nil
}

// isPlainDecimal reports whether s is what parseDecimal accepts: digits
// without leading zeros and an optional fraction, at most 40 bytes.
func isPlainDecimal(s string) bool {
	intPart, frac, hasDot := strings.Cut(s, ".")
	if intPart == "" || (hasDot && frac == "") || len(s) > 40 || (len(intPart) > 1 && intPart[0] == '0') {
		return false
	}
	return isDigits(intPart) && (!hasDot || isDigits(frac))
}

// errNotDecimal is parseDecimal's error.
var errNotDecimal = errors.New("not a decimal")

// parseDecimal accepts digits without leading zeros and an optional
// fraction: what payment amounts look like. decimal.NewFromString alone would
// also take a sign, an exponent ("1e9") or padding ("07.23"), which no
// provider sends and which would let characters of a neighbouring field in
// a separator-less signed string pass for part of an amount.
func parseDecimal(s string) (decimal.Decimal, error) {
	if !isPlainDecimal(s) {
		return decimal.Decimal{}, errNotDecimal
	}
	return decimal.NewFromString(s)
}

// ParseTime reads a provider timestamp in one of the layouts providers use.
// A layout without a zone is read as UTC. It returns the zero time (the
// member is then omitted) when the text matches none of them.
func ParseTime(s string, layouts ...string) time.Time {
	for _, layout := range layouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC()
		}
	}
	return time.Time{}
}

// maskPAN keeps the last four digits of a card number and masks every other
// digit, so that a full card number never reaches the app or a log.
func maskPAN(s string) string {
	b := []byte(s)
	keep := 4
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < '0' || b[i] > '9' {
			continue
		}
		if keep > 0 {
			keep--
			continue
		}
		b[i] = '*'
	}
	return string(b)
}
