package caddymodule

import (
	"encoding/json"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestProvidersCommandShowsSeedInquiry: `caddy paynotify providers` shows
// oobit's and octopus' inquiry options and when they ask.
func TestProvidersCommandShowsSeedInquiry(t *testing.T) {
	stdout, _, err := run(t, "providers")
	require.NoError(t, err)
	for _, want := range []string{
		"merchant_number <CompanyNum>", "allow_ip  required without merchant_number",
		"inquire   with merchant_number: getStatus.asp (default https://process.oobit.com/member/getStatus.asp)",
		"inquire   with inquire: order/get is asked about the merchant_order_id",
		"inquiry_timeout <duration>",
	} {
		assert.Contains(t, stdout, want)
	}
	stdout, _, err = run(t, "providers", "--json")
	require.NoError(t, err)
	var infos []providerInfo
	require.NoError(t, json.Unmarshal([]byte(stdout), &infos))
	options := map[string][]string{}
	for _, p := range infos {
		for _, o := range p.Options {
			options[p.Name] = append(options[p.Name], o.Name)
		}
	}
	assert.Equal(t, []string{"secret", "merchant_number", "inquire", "inquiry_timeout"}, options["oobit"])
	assert.Equal(t, []string{"secret", "key", "inquire", "inquiry_timeout"}, options["octopus"])
}

// TestSeedInquiryCaddyfile: oobit with merchant_number loads without
// allow_ip; the inquiry options are refused where they cannot work, at the
// option's line, and merchant_number is never echoed.
func TestSeedInquiryCaddyfile(t *testing.T) {
	var h Handler
	require.NoError(t, h.UnmarshalCaddyfile(caddyfile.NewTestDispenser("paynotify oobit {\n secret s\n merchant_number 5722306\n}")))
	require.NoError(t, h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(
		"paynotify octopus {\n secret s\n key k\n inquire https://gw.example/octopus/api/order/get\n inquiry_timeout 5s\n}")))
	for input, want := range map[string]string{
		"paynotify oobit {\n secret s\n inquire https://process.oobit.com/member/getStatus.asp\n allow_ip 10.0.0.1\n}": "merchant_number: required with inquire",
		"paynotify oobit {\n secret s\n inquiry_timeout 5s\n allow_ip 10.0.0.1\n}":                                     "inquiry_timeout: applies only with inquire, at Testfile:3",
		"paynotify oobit {\n secret s\n merchant_number 5722306\n inquire http://oobit.example/x\n}":                   "inquire: http is only for a stand-in on a loopback address, and oobit.example is not one",
		"paynotify octopus {\n secret s\n inquire https://gw.example/octopus/api/order/get\n}":                         "key: required with inquire",
		"paynotify octopus {\n secret s\n key k\n inquiry_timeout 5s\n}":                                               "inquiry_timeout: applies only with inquire",
	} {
		var h Handler
		err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(input))
		require.Error(t, err, input)
		assert.Contains(t, err.Error(), want)
		assert.NotContains(t, err.Error(), "5722306", "merchant_number echoed")
	}
}
