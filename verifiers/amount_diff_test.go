package verifiers

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// amountCurrencies cover every fraction ISO 4217 uses (JPY 0, USD 2, BHD 3,
// CLF 4), unknown and malformed codes, case and a numeric code.
var amountCurrencies = []string{"", "USD", "usd", "Usd", "JPY", "BHD", "CLF", "HKD", "344", "840", "XXX", "ZZZ", "US", "USDD",
	"uſd", "\u212aWD", "ıdr", "IDR", "kwd"}

// checkSameAmount compares SetAmount with the reference for one input.
func checkSameAmount(t *testing.T, value, currency string, unit Unit) {
	t.Helper()
	var got, want Event
	err := SetAmount(&got, "amount", value, currency, unit)
	refErr := refSetAmount(&want, "amount", value, currency, unit)
	what := fmt.Sprintf("SetAmount(%q, %q, unit %d)", value, currency, unit)
	if refErr != nil {
		require.Error(t, err, what)
		require.Equal(t, refErr.Error(), err.Error(), what)
		return
	}
	require.NoError(t, err, what)
	require.Equal(t, want, got, what)
	_, refDecErr := refParseDecimal(value)
	require.Equal(t, refDecErr == nil, isDecimal(value), "isDecimal(%q)", value)
	if refDecErr == nil {
		d, err := parseDecimal(value)
		require.NoError(t, err)
		ref, _ := refParseDecimal(value)
		require.True(t, d.Equal(ref))
	}
	require.Equal(t, refLookupCurrency(currency), lookupCurrency(currency), "lookupCurrency(%q)", currency)
}

func amountSeeds() []string {
	s := []string{"", "0", "00", "0.0", "0.00", "0.000", "0.0001", "1", "1.", ".5", "1.5", "12.50", "12.5", "12.500", "12.505",
		"12.5000", "7.23", "100", "1000000", "01", "1e3", "-1", "+1", "1,000", " 1", "1 ", "1.2.3", "١", "12.50\x00",
		"999999999999999999", "9999999999999999.99", "99999999999999999.9", "9223372036854775807", "9223372036854775808",
		"922337203685477580.7", "92233720368547758.07", "9223372036854775.807", "92233720368547758.08", "922337203685477.5807",
		"1000000000000000000", "123456789012345678", "12345678901234567.8", "1234567890123456789.5", "0.000000000000000001",
		"0.0000000000000000001", "5.0000000000000000000", strings.Repeat("9", 40), strings.Repeat("9", 41), "1." + strings.Repeat("0", 38),
		"1." + strings.Repeat("1", 38), "1." + strings.Repeat("0", 17), "1." + strings.Repeat("0", 18)}
	return s
}

func TestSetAmountMatchesDecimal(t *testing.T) {
	for _, value := range amountSeeds() {
		for _, currency := range amountCurrencies {
			for _, unit := range []Unit{MajorUnits, MinorUnits} {
				checkSameAmount(t, value, currency, unit)
			}
		}
	}
	// The fast path is taken, and writes what decimal's formatting writes.
	var e Event
	require.NoError(t, SetAmount(&e, "amount", "12.5", "usd", MajorUnits))
	require.Equal(t, "12.50", e.Amount)
	require.Equal(t, int64(1250), *e.AmountMinor)
	require.Equal(t, "USD", e.Currency)
	e = Event{}
	require.NoError(t, SetAmount(&e, "amount", "5", "BHD", MinorUnits))
	require.Equal(t, "0.005", e.Amount)
	e = Event{}
	require.NoError(t, SetAmount(&e, "amount", "12.505", "USD", MajorUnits))
	require.Equal(t, "12.505", e.Amount)
	require.Nil(t, e.AmountMinor, "more decimals than the currency has: no minor units, no rounding")
	e = Event{}
	require.ErrorContains(t, SetAmount(&e, "amount", "92233720368547758.08", "USD", MajorUnits), "amount is out of range")
}

// FuzzSetAmount: SetAmount (with its integer fast path) writes the same
// amount, minor units and currency as the decimal reference, and refuses
// the same values with the same error.
func FuzzSetAmount(f *testing.F) {
	for i, value := range amountSeeds() {
		f.Add(value, amountCurrencies[i%len(amountCurrencies)], i%2 == 0)
	}
	f.Fuzz(func(t *testing.T, value, currency string, minor bool) {
		unit := MajorUnits
		if minor {
			unit = MinorUnits
		}
		checkSameAmount(t, value, currency, unit)
	})
}
