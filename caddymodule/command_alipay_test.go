package caddymodule

import (
	"encoding/base64"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSignAlipay: caddy paynotify sign alipay signs with --private-key,
// which must be the private half of a public_key given with --option; what
// it sends is accepted (ACK success) with the fields changed by --field.
func TestSignAlipay(t *testing.T) {
	keys := filepath.Join("..", "testdata", "alipay", "keys")
	text, err := os.ReadFile(filepath.Join(keys, "test.pub"))
	require.NoError(t, err)
	block, _ := pem.Decode(text)
	der := base64.StdEncoding.EncodeToString(block.Bytes) // one line, as Alipay's console shows it
	const app = "2021004100000001"
	p := newProvider(t, "alipay", `{"public_keys":["`+der+`"],"app_ids":["`+app+`"]}`)
	args := []string{"sign", "alipay", "--option", "public_key " + der, "--option", "app_id " + app,
		"--order", "ORD-A1", "--field", "total_amount=66.60", "--field", "subject=会员年费"}

	stdout, stderr, err := run(t, append(args, "--private-key", filepath.Join(keys, "test.pem"), "--url", p.URL+"/notify")...)
	require.NoError(t, err, stdout+stderr)
	assert.Contains(t, stdout, "200")
	events := p.take()
	require.Len(t, events, 1)
	assert.Equal(t, "ORD-A1", events[0].OrderID)
	assert.Equal(t, "66.60", events[0].Amount)
	assert.Equal(t, "CNY", events[0].Currency)
	assert.Contains(t, string(events[0].Raw), `"subject":"会员年费"`)
	assert.Contains(t, string(events[0].Raw), `"app_id":"`+app+`"`)
	assert.NotContains(t, stdout+stderr, "PRIVATE KEY")

	// In GBK, as a merchant who chose it is sent.
	_, _, err = run(t, append(args, "--field", "charset=gbk", "--private-key", filepath.Join(keys, "test.pem"), "--url", p.URL+"/notify")...)
	require.NoError(t, err)
	events = p.take()
	require.Len(t, events, 1)
	assert.Contains(t, string(events[0].Raw), `"subject":"会员年费"`)

	// Without --private-key, or with a key that is not public_key's half.
	_, _, err = run(t, append(args, "--url", p.URL+"/notify")...)
	assert.ErrorContains(t, err, "--private-key is required to sign alipay notifications")
	_, _, err = run(t, append(args, "--private-key", filepath.Join(keys, "other.pem"), "--url", p.URL+"/notify")...)
	assert.ErrorContains(t, err, "--private-key is not the private half of a configured public_key")
	assert.Empty(t, p.take())

	// The demo pair of Caddyfile.example, as README's example command
	// gives it (public_key from the .pub file).
	demo := filepath.Join("..", "examples", "keys")
	text, err = os.ReadFile(filepath.Join(demo, "alipay-demo.pub"))
	require.NoError(t, err)
	block, _ = pem.Decode(text)
	d := newProvider(t, "alipay", `{"public_keys":["`+base64.StdEncoding.EncodeToString(block.Bytes)+`"],"app_ids":["2021000000000000"]}`)
	_, _, err = run(t, "sign", "alipay", "--private-key", filepath.Join(demo, "alipay-demo.pem"),
		"--option", "public_key {file."+filepath.Join(demo, "alipay-demo.pub")+"}", "--option", "app_id 2021000000000000",
		"--url", d.URL+"/notify/alipay")
	require.NoError(t, err)
	require.Len(t, d.take(), 1)

	// Without --url: a curl command with the form.
	stdout, _, err = run(t, append(args, "--private-key", filepath.Join(keys, "test.pem"))...)
	require.NoError(t, err)
	assert.Contains(t, stdout, "application/x-www-form-urlencoded")
	assert.Contains(t, stdout, "sign_type=RSA2")
	assert.Contains(t, stdout, "out_trade_no=ORD-A1")
}
