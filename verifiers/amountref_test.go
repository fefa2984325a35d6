package verifiers

// SetAmount, parseDecimal and lookupCurrency as they were before the
// integer fast path, kept verbatim (renamed ref*) as the reference that
// amount_diff_test.go compares them with.

import (
	"fmt"
	"strings"

	"github.com/Rhymond/go-money"
	"github.com/shopspring/decimal"
)

// SetAmount fills currency, amount and amount_minor from the amount field
// named field, as the provider wrote it. The amount must be a plain unsigned
// decimal number (no sign, exponent or thousands separator); a minor-unit
// amount must be a whole number. An unknown currency leaves currency and
// amount_minor out, and amount too for a minor-unit amount, whose major value
// is then unknown (raw keeps what was sent). A major amount with more
// decimals than its currency has keeps its own digits and leaves amount_minor
// out rather than rounding money. Errors name the field, not its value: the
// value is not authenticated yet when some providers' formats are checked.
func refSetAmount(e *Event, field, value, currencyCode string, unit Unit) error {
	if value == "" {
		if cur := refLookupCurrency(currencyCode); cur != nil {
			e.Currency = cur.Code
		}
		return nil
	}
	d, err := refParseDecimal(value)
	if err != nil {
		return fmt.Errorf("%w: %s is not an unsigned decimal number", ErrMalformed, field)
	}
	if unit == MinorUnits && !d.IsInteger() {
		return fmt.Errorf("%w: %s is not a whole number of minor units", ErrMalformed, field)
	}
	cur := refLookupCurrency(currencyCode)
	if cur == nil {
		if unit == MajorUnits {
			e.Amount = value // already checked to be a plain decimal
		}
		return nil
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

// parseDecimal accepts digits without leading zeros and an optional
// fraction: what payment amounts look like. decimal.NewFromString alone would
// also take a sign, an exponent ("1e9") or padding ("07.23"), which no
// provider sends and which would let characters of a neighbouring field in
// a separator-less signed string pass for part of an amount.
func refParseDecimal(s string) (decimal.Decimal, error) {
	intPart, frac, hasDot := strings.Cut(s, ".")
	if intPart == "" || (hasDot && frac == "") || len(s) > 40 || (len(intPart) > 1 && intPart[0] == '0') {
		return decimal.Decimal{}, fmt.Errorf("not a decimal")
	}
	if !isDigits(intPart) || (hasDot && !isDigits(frac)) {
		return decimal.Decimal{}, fmt.Errorf("not a decimal")
	}
	return decimal.NewFromString(s)
}

// lookupCurrency resolves an ISO 4217 alpha ("hkd", "HKD") or numeric ("344")
// code. It returns nil for a code it does not know.
func refLookupCurrency(code string) *money.Currency {
	if len(code) != 3 {
		return nil
	}
	if isDigits(code) {
		return iso4217().numeric[code]
	}
	return iso4217().alpha[strings.ToUpper(code)]
}
