package caddymodule

import (
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSignWechatpay: caddy paynotify sign wechatpay encrypts the
// transaction with apiv3_key and signs it with --private-key under the
// serial of the public_key it is the private half of; paynotify accepts it,
// and the fields given on the command line are the event's. The APIv3 key
// is never printed; a missing or foreign private key is refused.
func TestSignWechatpay(t *testing.T) {
	const (
		serial   = "PUB_KEY_ID_0112345678901234567890"
		apiv3Key = "wechatpay-test-apiv3-key-32bytes"
		keys     = "../testdata/wechatpay/keys/"
	)
	pub, err := os.ReadFile(keys + "test.pub")
	require.NoError(t, err)
	block, _ := pem.Decode(pub)
	der := base64.StdEncoding.EncodeToString(block.Bytes)
	cfg, err := json.Marshal(map[string]any{"apiv3_key": apiv3Key,
		"public_keys": []map[string]string{{"serial": serial, "key": string(pub)}}})
	require.NoError(t, err)
	p := newProvider(t, "wechatpay", string(cfg))

	options := []string{"--option", "public_key " + serial + " {file." + keys + "test.pub}", "--option", "apiv3_key " + apiv3Key}
	for _, c := range []struct {
		args             []string
		status, currency string
		amount           string
	}{
		{nil, "succeeded", "CNY", "10.50"},
		{[]string{"--field", "trade_state=CLOSED", "--field", "amount.total=2000"}, "cancelled", "CNY", "20.00"},
		{[]string{"--field", "amount.currency=hkd"}, "succeeded", "HKD", "10.50"},
	} {
		args := append([]string{"sign", "wechatpay", "--private-key", keys + "test.pem", "--order", "ORD-77", "--url", p.URL + "/notify"}, options...)
		stdout, stderr, err := run(t, append(args, c.args...)...)
		require.NoError(t, err, stdout+stderr)
		assert.Contains(t, stderr, "acknowledged")
		assert.NotContains(t, stdout+stderr, apiv3Key)
		events := p.take()
		require.Len(t, events, 1, c.args)
		assert.Equal(t, "ORD-77", events[0].OrderID)
		assert.EqualValues(t, c.status, events[0].Status, c.args)
		assert.Equal(t, c.amount, events[0].Amount, c.args)
		assert.Equal(t, c.currency, events[0].Currency, c.args)
		assert.Contains(t, string(events[0].Raw), `"out_trade_no":"ORD-77"`, "raw is the decrypted transaction")
	}

	// The public key inline, as one line of base64 DER; printed as curl.
	stdout, stderr, err := run(t, "sign", "wechatpay", "--private-key", keys+"test.pem", "--order", "ORD-78",
		"--option", "public_key "+serial+" "+der, "--option", "apiv3_key "+apiv3Key)
	require.NoError(t, err, stderr)
	for _, h := range []string{"Wechatpay-Timestamp", "Wechatpay-Nonce", "Wechatpay-Signature", "Wechatpay-Serial: " + serial, "ciphertext"} {
		assert.Contains(t, stdout, h)
	}
	assert.NotContains(t, stdout, "ORD-78", "the transaction is encrypted")
	assert.NotContains(t, stdout+stderr, apiv3Key)

	// Refused: no private key, a private key that is not the public_key's
	// (the demo pair), a 16-byte APIv3 key.
	_, _, err = run(t, append([]string{"sign", "wechatpay"}, options...)...)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "--private-key is required to sign wechatpay notifications")
	_, _, err = run(t, append([]string{"sign", "wechatpay", "--private-key", "../examples/keys/wechatpay-demo.pem"}, options...)...)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "--private-key is not the private half of a configured public_key")
	_, _, err = run(t, "sign", "wechatpay", "--private-key", keys+"test.pem", "--option", "public_key "+serial+" "+der,
		"--option", "apiv3_key testMchAPIv3Key0")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "apiv3_key: 16 bytes")
	assert.NotContains(t, err.Error(), "testMchAPIv3Key0")
}
