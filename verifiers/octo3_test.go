package verifiers

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	octo3Secret    = "octo3-test-secret"
	octo3OldSecret = "octo3-old-secret"
)

var octo3Config = options{Secrets: []string{octo3Secret, octo3OldSecret}}

func TestOcto3Golden(t *testing.T) {
	cases := []struct {
		file     string
		provider string
		config   options
	}{
		{"accepted", "octo3", octo3Config},
		{"accepted_retry", "octo3", octo3Config},
		{"accepted_upper_hex", "octo3", octo3Config},
		{"accepted_old_secret", "octo3", octo3Config},
		{"declined", "octo3", octo3Config},
		{"voided", "octo3", octo3Config},
		{"unknown_status", "octo3", octo3Config},
		{"refund", "octo3", octo3Config},
		{"sha256", "octo3", options{Secrets: []string{octo3Secret}, Algorithm: "hmac-sha256"}},
		{"minor_numeric_currency", "octo3", options{Secrets: []string{octo3Secret}, AmountUnit: "minor"}},
		{"jpy", "octo3", octo3Config},
		{"kwd", "octo3", octo3Config},
		{"unknown_currency", "octo3", octo3Config},
		{"extra_decimals", "octo3", octo3Config},
		{"no_optional", "octo3", octo3Config},
		{"refund_regrouped_short", "octo3", octo3Config},
		{"thedao", "thedao", octo3Config},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			dir := "octo3"
			if tc.provider == "thedao" {
				dir = "thedao"
			}
			name := filepath.Join(dir, tc.file)
			e := verifyGolden(t, mustNew(t, tc.provider, tc.config), name)
			checkGolden(t, name, []Event{e})
		})
	}
}

func TestOcto3Rejects(t *testing.T) {
	cases := []struct {
		file   string
		config options
		want   error
		reason string
	}{
		{"tampered_amount", octo3Config, ErrSignature, "matches none of the 2 configured secrets"},
		{"wrong_secret", octo3Config, ErrSignature, "matches none"},
		{"unsigned", octo3Config, ErrSignature, "no secure_hash field"},
		{"bad_hex", octo3Config, ErrSignature, "not a hex HMAC of the configured algorithm"},
		{"short_hash", octo3Config, ErrSignature, "not a hex HMAC of the configured algorithm"},
		{"accepted", options{Secrets: []string{octo3Secret}, Algorithm: "hmac-sha256"}, ErrSignature, "not a hex HMAC of the configured algorithm"},
		{"sha256", octo3Config, ErrSignature, "not a hex HMAC of the configured algorithm"},
		{"missing_mandatory", octo3Config, ErrMalformed, "mandatory field txn_status is missing"},
		{"bad_amount", octo3Config, ErrMalformed, "field captured_amount is not well formed"},
		{"exponent_amount", octo3Config, ErrMalformed, "field captured_amount is not well formed"},
		{"negative_amount", octo3Config, ErrMalformed, "field captured_amount is not well formed"},
		{"renamed_field", octo3Config, ErrMalformed, `unknown field "captured_amountx"`},
		{"shifted_boundary", octo3Config, ErrMalformed, "field original_amount is not well formed"},
		{"shift_into_action", octo3Config, ErrMalformed, "field action is not well formed"},
		{"refund_regrouped", octo3Config, ErrMalformed, "field acq_response_code is not well formed"},
		{"shift_between_amounts", octo3Config, ErrMalformed, "decimal places"},
		{"unknown_field", octo3Config, ErrMalformed, `unknown field "x_note"`},
		{"query_shadows_field", octo3Config, ErrMalformed, `query parameter "txn_status" would shadow the field "txn_status"`},
		{"overflow_amount", octo3Config, ErrMalformed, "out of range"},
		{"duplicate_field", octo3Config, ErrMalformed, `form field "captured_amount" given 2 times`},
		{"json_content_type", octo3Config, ErrMalformed, "content type"},
		{"get_method", octo3Config, ErrMethod, "GET"},
		{"accepted", options{Secrets: []string{octo3Secret}, AmountUnit: "minor"}, ErrMalformed, "captured_amount is not a whole number of minor units"},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			v := mustNew(t, "octo3", tc.config)
			events, err := v.Verify(context.Background(), goldenRequest(t, filepath.Join("octo3", tc.file)))
			require.ErrorIs(t, err, tc.want)
			assert.Contains(t, err.Error(), tc.reason)
			assert.Empty(t, events)
			for _, s := range tc.config.Secrets {
				assert.NotContains(t, err.Error(), s, "a secret in an error message")
			}
			for _, value := range []string{"12,50", "1e9", "-12.50", "12.50V", "PAY12.50", "4111111111111111"} {
				assert.NotContains(t, err.Error(), value, "a field's value in an error message")
			}
		})
	}
}

// TestOcto3SchemeAttacksCarryValidSignatures proves that the renamed-field and
// shifted-boundary cases are refused for their content, not their signature:
// their secure_hash is the provider's own.
func TestOcto3SchemeAttacksCarryValidSignatures(t *testing.T) {
	v := mustNew(t, "octo3", octo3Config).(*Octo3)
	for _, name := range []string{"renamed_field", "shifted_boundary", "shift_into_action", "query_shadows_field",
		"refund_regrouped", "refund_regrouped_short", "shift_between_amounts"} {
		req := goldenRequest(t, "octo3/"+name)
		fields, err := parseFormBody(req.Header.Get("Content-Type"), req.Body)
		require.NoError(t, err)
		require.NoError(t, v.checkSignature(fields), name)
	}
}

func TestOcto3EventIdentity(t *testing.T) {
	v := mustNew(t, "octo3", octo3Config)
	first := verifyGolden(t, v, "octo3/accepted")
	retry := verifyGolden(t, v, "octo3/accepted_retry")
	assert.Equal(t, first.ID, retry.ID, "a retry (dr_count 2) must carry the id of the first delivery")

	for _, other := range []string{"octo3/declined", "octo3/refund", "octo3/voided"} {
		assert.NotEqual(t, first.ID, verifyGolden(t, v, other).ID, "%s is another event than the payment", other)
	}
	dao := verifyGolden(t, mustNew(t, "thedao", octo3Config), "thedao/thedao")
	assert.NotEqual(t, first.ID, dao.ID, "the same fields from another provider are another event")
}

// TestOcto3RegroupedRefundIsNotAPayment: a genuine accepted REFUND whose
// first letters were moved into acq_response_code (same secure_hash) is
// refused when the code gets too long, and is not a payment otherwise.
func TestOcto3RegroupedRefundIsNotAPayment(t *testing.T) {
	v := mustNew(t, "octo3", octo3Config)
	e := verifyGolden(t, v, "octo3/refund_regrouped_short")
	assert.Equal(t, StatusUnknown, e.Status, "action FUND is not a documented action")
	assert.Equal(t, "ACCEPTED", e.ProviderStatus)
	assert.NotEqual(t, verifyGolden(t, v, "octo3/refund").ID, e.ID)
	assert.NotEqual(t, verifyGolden(t, v, "octo3/accepted").ID, e.ID)
}

func TestOcto3NeverShowsTheCardNumber(t *testing.T) {
	raw, err := os.ReadFile("../testdata/octo3/accepted.http")
	require.NoError(t, err)
	require.Contains(t, string(raw), "4111111111111111")

	e := verifyGolden(t, mustNew(t, "octo3", octo3Config), "octo3/accepted")
	assert.NotContains(t, string(e.Raw), "4111111111111111")
	assert.Contains(t, string(e.Raw), `"card_num":"************1111"`)
}

func TestOcto3SignatureOff(t *testing.T) {
	v := mustNew(t, "octo3", options{SignatureOff: true})
	e := verifyGolden(t, v, "octo3/unsigned")
	assert.Equal(t, StatusSucceeded, e.Status)
	// Without a signature the fields still have to be complete.
	_, err := v.Verify(context.Background(), goldenRequest(t, "octo3/missing_mandatory"))
	require.ErrorIs(t, err, ErrMalformed)
}

func TestProvisionRefusesMisconfiguration(t *testing.T) {
	cases := []struct {
		provider string
		config   options
		option   string
		msg      string
	}{
		{"octo4", octo3Config, "provider", `unknown provider "octo4"`},
		{"octo3", options{}, "secret", `required for provider "octo3"`},
		{"thedao", options{}, "secret", `required for provider "thedao"`},
		{"octo3", options{Secrets: []string{""}}, "secret", "empty secret"},
		{"octo3", options{Secrets: []string{"{env.PAYNOTIFY_TEST_UNSET}"}}, "secret", "secret 1:"},
		{"octo3", options{Secrets: []string{"s"}, Algorithm: "md5"}, "algorithm", `"md5"`},
		{"octo3", options{Secrets: []string{"s"}, AmountUnit: "cents"}, "amount_unit", `"cents"`},
		{"octo3", options{Secrets: []string{"s"}, SignatureOff: true}, "signature", "off and a secret"},
		{"checkout", options{}, "secret", `required for provider "checkout"`},
		{"checkout", options{Secrets: []string{"s"}, Authorization: "{env:X}"}, "authorization", "a typo?"},
		{"octopus", options{}, "secret", `required for provider "octopus"`},
		{"octopus", options{Secrets: []string{"s"}, Key: "{ENV.X}"}, "key", "a typo?"},
		{"oobit", options{}, "secret", `required for provider "oobit"`},
	}
	for _, tc := range cases {
		t.Run(tc.provider+"/"+tc.option, func(t *testing.T) {
			_, err := newVerifier(tc.provider, tc.config)
			var oe *OptionError
			require.ErrorAs(t, err, &oe)
			assert.Equal(t, tc.option, oe.Option)
			assert.Contains(t, oe.Msg, tc.msg)
			assert.True(t, strings.HasPrefix(err.Error(), tc.option+": "))
		})
	}
}

// An option of another provider is an unknown field of this provider's
// module, which Caddy refuses when it loads the JSON.
func TestOptionsOfAnotherProviderAreUnknownFields(t *testing.T) {
	cases := []struct {
		provider string
		config   options
		field    string
	}{
		{"octo3", options{Secrets: []string{"s"}, Authorization: "x"}, "authorization"},
		{"thedao", options{Secrets: []string{"s"}, Key: "x"}, "key"},
		{"checkout", options{Secrets: []string{"s"}, Key: "x"}, "key"},
		{"checkout", options{Secrets: []string{"s"}, Algorithm: "hmac-sha256"}, "algorithm"},
		{"octopus", options{Secrets: []string{"s"}, Authorization: "x"}, "authorization"},
		{"octopus", options{Secrets: []string{"s"}, AmountUnit: "minor"}, "amount_unit"},
		{"oobit", options{Secrets: []string{"s"}, SignatureOff: true}, "signature_off"},
		{"oobit", options{Secrets: []string{"s"}, Key: "x"}, "key"},
	}
	for _, tc := range cases {
		t.Run(tc.provider+"/"+tc.field, func(t *testing.T) {
			_, err := newVerifier(tc.provider, tc.config)
			require.Error(t, err)
			assert.Contains(t, err.Error(), `unknown field "`+tc.field+`"`)
		})
	}
}

// normalize reads its fields by position: the positions name them.
func TestOcto3ReadPositions(t *testing.T) {
	require.True(t, slices.IsSorted(octo3Read[:]), "formFields.lookup walks sorted names")
	for _, c := range []struct {
		slot int
		name string
	}{
		{o3Action, "action"}, {o3AuthorizedAmount, "authorized_amount"}, {o3BillToEmail, "bill_to_email_address"},
		{o3BillToFirstName, "bill_to_first_name"}, {o3BillToLastName, "bill_to_last_name"},
		{o3CapturedAmount, "captured_amount"}, {o3Currency, "currency"}, {o3CustomerIP, "customer_ip_address"},
		{o3DRCount, "dr_count"}, {o3MerchID, "merch_id"}, {o3MerchOrderID, "merch_order_id"},
		{o3MerchTxnID, "merch_txn_id"}, {o3OriginalAmount, "original_amount"}, {o3PayType, "pay_type"},
		{o3RefundedAmount, "refunded_amount"}, {o3TermID, "term_id"}, {o3TxnMessage, "txn_message"},
		{o3TxnNo, "txn_no"}, {o3TxnResponseCode, "txn_response_code"}, {o3TxnStatus, "txn_status"},
		{o3TxnTime, "txn_time"}, {o3Version, "version"},
	} {
		require.Equal(t, c.name, octo3Read[c.slot])
		require.True(t, octo3Fields[c.name], "%s is documented", c.name)
	}
	require.Len(t, octo3MandatoryRead, len(octo3Mandatory))
	for i, slot := range octo3MandatoryRead {
		require.Equal(t, octo3Mandatory[i], octo3Read[slot])
	}
	// lookup finds each name, and "" for an absent one.
	f := fieldsOf(map[string]string{"action": "PAY", "currency": "HKD", "zz": "1", "a": "2"})
	var values [o3Read]string
	f.lookup(octo3Read[:], values[:])
	require.Equal(t, "PAY", values[o3Action])
	require.Equal(t, "HKD", values[o3Currency])
	require.Equal(t, "", values[o3Version])
}
