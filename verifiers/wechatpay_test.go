package verifiers

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The golden requests of testdata/wechatpay are signed by
// testdata/gen_golden_wechatpay.py with the test key pairs of
// testdata/wechatpay/keys (not WeChat Pay's keys).
const (
	wechatpayTestSerial    = "PUB_KEY_ID_0112345678901234567890"
	wechatpayRotatedSerial = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1" // the serial of rotated-cert.pem
	wechatpayTestAPIv3Key  = "wechatpay-test-apiv3-key-32bytes"
)

func wechatpayTestFile(name string) string {
	b, err := os.ReadFile(filepath.Join("..", "testdata", "wechatpay", "keys", name))
	if err != nil {
		panic(err)
	}
	return string(b)
}

var (
	wechatpayTestPub     = wechatpayTestFile("test.pub")
	wechatpayRotatedCert = wechatpayTestFile("rotated-cert.pem")
	wechatpayConfig      = wechatpayOptions(
		WechatpayPublicKey{Serial: wechatpayTestSerial, Key: wechatpayTestPub},
		WechatpayPublicKey{Serial: wechatpayRotatedSerial, Key: wechatpayRotatedCert},
	)
)

func wechatpayOptions(keys ...WechatpayPublicKey) options {
	return options{Extra: map[string]any{"public_keys": keys, "apiv3_key": wechatpayTestAPIv3Key, "tolerance": "5m"}}
}

func wechatpayPrivateKey(t testing.TB, name string) *rsa.PrivateKey {
	key, err := ParsePrivateKey([]byte(wechatpayTestFile(name)))
	require.NoError(t, err)
	return key
}

// oneLineDER is a PEM public key as one line of base64 DER.
func oneLineDER(pemText string) string {
	block, _ := pem.Decode([]byte(pemText))
	return base64.StdEncoding.EncodeToString(block.Bytes)
}

func init() {
	completeOptions["wechatpay"] = "public_key " + wechatpayTestSerial + " " + oneLineDER(wechatpayTestPub) + "\napiv3_key " + wechatpayTestAPIv3Key
	key, err := ParsePrivateKey([]byte(wechatpayTestFile("test.pem")))
	if err != nil {
		panic(err)
	}
	completeKeys["wechatpay"] = key

	block, _ := pem.Decode([]byte(wechatpayTestPub))
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		panic(err)
	}
	benchCases = append(benchCases, benchCase{
		provider: "wechatpay", file: "wechatpay/success", config: wechatpayConfig, rsaKey: pub.(*rsa.PublicKey),
		signed: func(b *testing.B, req *Request) (signed, want []byte) {
			signed = []byte(req.Header.Get("Wechatpay-Timestamp") + "\n" + req.Header.Get("Wechatpay-Nonce") + "\n" + string(req.Body) + "\n")
			want, err := base64.StdEncoding.DecodeString(req.Header.Get("Wechatpay-Signature"))
			if err != nil {
				b.Fatal(err)
			}
			return signed, want
		},
	})
}

func TestWechatpay(t *testing.T) {
	testProvider(t, "wechatpay", wechatpayConfig, []string{
		"success", "transaction_refund", "refund_success", "refund_abnormal", "notpay", "closed", "payerror",
		"payscore", "rotated_key", "lowercase_serial", "no_signature_type", "usd", "no_currency",
	}, []rejectCase{
		// The signature: WeChat Pay's probes are signed wrongly on purpose.
		{"probe", nil, ErrSignature, "Wechatpay-Signature header does not verify"},
		{"zero_signature", nil, ErrSignature, "Wechatpay-Signature header does not verify"},
		{"tampered_body", nil, ErrSignature, "Wechatpay-Signature header does not verify"},
		{"wrong_key", nil, ErrSignature, "Wechatpay-Signature header does not verify"},
		{"tampered_timestamp", nil, ErrSignature, "Wechatpay-Signature header does not verify"},
		{"tampered_nonce", nil, ErrSignature, "Wechatpay-Signature header does not verify"},
		{"unknown_serial", nil, ErrSignature, "Wechatpay-Serial header names PUB_KEY_ID_0199999999999999999999, which is no configured public_key"},
		{"old", nil, ErrSignature, "Wechatpay-Timestamp header is 5m2s old"},
		{"future", nil, ErrSignature, "Wechatpay-Timestamp header is 5m2s in the future"},
		{"no_signature", nil, ErrSignature, "no Wechatpay-Signature header"},
		{"no_serial", nil, ErrSignature, "no Wechatpay-Serial header"},
		{"no_timestamp", nil, ErrSignature, "no Wechatpay-Timestamp header"},
		{"no_nonce", nil, ErrSignature, "no Wechatpay-Nonce header"},
		{"two_serials", nil, ErrSignature, "Wechatpay-Serial header given 2 times"},
		{"other_signature_type", nil, ErrSignature, "Wechatpay-Signature-Type header is not WECHATPAY2-SHA256-RSA2048"},
		// The resource, signed correctly: only decryption catches these.
		{"tampered_ciphertext", nil, ErrSignature, "resource does not decrypt under apiv3_key"},
		{"tampered_aad", nil, ErrSignature, "resource does not decrypt under apiv3_key"},
		{"tampered_resource_nonce", nil, ErrSignature, "resource does not decrypt under apiv3_key"},
		{"other_apiv3_key", nil, ErrSignature, "resource does not decrypt under apiv3_key"},
		{"ciphertext_not_base64", nil, ErrSignature, "resource.ciphertext is not base64"},
		{"other_algorithm", nil, ErrSignature, "resource.algorithm is not AEAD_AES_256_GCM"},
		// Signed and decrypted, but malformed.
		{"duplicate_key_plaintext", nil, ErrMalformed, `decrypted resource: ` + ErrMalformed.Error() + `: JSON key "trade_state" given twice`},
		{"case_folded_key_plaintext", nil, ErrMalformed, `JSON key "trade_state" given twice`},
		{"plaintext_not_json", nil, ErrMalformed, "decrypted resource: " + ErrMalformed.Error() + ": body is not a JSON object"},
		{"duplicate_key_body", nil, ErrMalformed, `JSON key "id" given twice`},
		{"no_out_trade_no", nil, ErrMalformed, "no order reference at out_trade_no of the transaction"},
		{"no_trade_state", nil, ErrMalformed, "mandatory field trade_state of the transaction is missing"},
		{"no_id", nil, ErrMalformed, "mandatory field id is missing"},
		{"other_resource_type", nil, ErrMalformed, "resource_type is not encrypt-resource"},
		{"fractional_total", nil, ErrMalformed, "amount.total is not a whole number of minor units"},
		{"form_content_type", nil, ErrMalformed, "content type"},
	})
}

// TestWechatpayEvents: what the app gets of each notification, read from
// the decrypted resource.
func TestWechatpayEvents(t *testing.T) {
	v := mustNew(t, "wechatpay", wechatpayConfig)
	for file, want := range map[string]struct {
		status          Status
		providerStatus  string
		order, amount   string
		minor           int64
		currency, since string
	}{
		"success":            {StatusSucceeded, "SUCCESS", "1217752501201407033233368018", "1.00", 100, "CNY", "2024-05-01T10:20:25Z"},
		"transaction_refund": {StatusRefunded, "REFUND", "1217752501201407033233368018", "1.00", 100, "CNY", "2024-05-01T10:20:25Z"},
		"refund_success":     {StatusRefunded, "SUCCESS", "1217752501201407033233368018", "0.40", 40, "CNY", "2024-05-01T10:20:20Z"},
		"refund_abnormal":    {StatusUnknown, "ABNORMAL", "1217752501201407033233368018", "0.40", 40, "CNY", "2024-05-01T10:20:28Z"},
		"notpay":             {StatusPending, "NOTPAY", "1217752501201407033233368018", "1.00", 100, "CNY", "2024-05-01T10:20:28Z"},
		"closed":             {StatusCancelled, "CLOSED", "1217752501201407033233368018", "1.00", 100, "CNY", "2024-05-01T10:20:28Z"},
		"payerror":           {StatusFailed, "PAYERROR", "1217752501201407033233368018", "1.00", 100, "CNY", "2024-05-01T10:20:28Z"},
		"usd":                {StatusSucceeded, "SUCCESS", "1217752501201407033233368018", "10.50", 1050, "USD", "2024-05-01T10:20:25Z"},
		"no_currency":        {StatusSucceeded, "SUCCESS", "1217752501201407033233368018", "1.00", 100, "CNY", "2024-05-01T10:20:25Z"},
	} {
		e := verifyGolden(t, v, "wechatpay/"+file)
		assert.Equal(t, "EV-2018022511223320873", e.ID, file)
		assert.Equal(t, want.status, e.Status, file)
		assert.Equal(t, want.providerStatus, e.ProviderStatus, file)
		assert.Equal(t, want.order, e.OrderID, file)
		assert.Equal(t, want.amount, e.Amount, file)
		if assert.NotNil(t, e.AmountMinor, file) {
			assert.Equal(t, want.minor, *e.AmountMinor, file)
		}
		assert.Equal(t, want.currency, e.Currency, file)
		assert.Equal(t, want.since, e.OccurredAt.Format(time.RFC3339), file)
		assert.Equal(t, "1900000109", e.MerchantID, file)
		assert.Equal(t, "4200002210202405011234567890", e.TransactionID, file)
		// raw is the decrypted resource: the app never needs the APIv3 key.
		var raw map[string]any
		require.NoError(t, json.Unmarshal(e.Raw, &raw), file)
		assert.Equal(t, want.order, raw["out_trade_no"], file)
		assert.NotContains(t, string(e.Raw), "ciphertext", file)
	}
	// Another product (payscore): forwarded as unknown, without an order.
	e := verifyGolden(t, v, "wechatpay/payscore")
	assert.Equal(t, StatusUnknown, e.Status)
	assert.Equal(t, "PAYSCORE.USER_OPEN_SERVICE", e.ProviderStatus)
	assert.Empty(t, e.OrderID)
	assert.Empty(t, e.Amount)
	assert.Contains(t, string(e.Raw), `"out_contract_code":"21640bdbd08e473e828f3206a2741c6e"`)
}

// The official vector of wechatpay-go core/notify/notify_test.go
// (TestHandler_ParseNotifyRequest), copied from NOTES.md 11.9.
const (
	wechatpayVectorTime      = 1624523846
	wechatpayVectorNonce     = "EcZ9Cmy4Xyx1i6RlJQzLcCyEqDa26NBz"
	wechatpayVectorSerial    = "D7CE59D1F522D701"
	wechatpayVectorAPIv3Key  = "testMchAPIv3Key0" // 16 bytes: the SDK's test builds AES-128-GCM
	wechatpayVectorPlaintext = `{"mchid":"1234567890","appid":"054aa7d7a2a54ab5898df65bd96f001c","create_time":"2020-06-30T12:12:00+08:00","out_contract_code":"21640bdbd08e473e828f3206a2741c6e"}`
)

func wechatpayVectorRequest(t *testing.T) (*Request, string) {
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join("..", "testdata", "vectors", name))
		require.NoError(t, err)
		return b
	}
	body := read("wechat_notify_body.json")
	sig := strings.TrimSpace(string(read("wechat_signature.b64")))
	return &Request{Method: http.MethodPost, Body: body, ReceivedAt: time.Unix(wechatpayVectorTime, 0),
		Header: http.Header{
			"Content-Type":        {"application/json"},
			"Wechatpay-Timestamp": {"1624523846"},
			"Wechatpay-Nonce":     {wechatpayVectorNonce},
			"Wechatpay-Serial":    {wechatpayVectorSerial},
			"Wechatpay-Signature": {sig},
		}}, string(read("wechat_platform_cert.pem"))
}

// TestWechatpayOfficialVector: WeChat Pay's own signature verifies with its
// test platform certificate through the verifier's signature check, and a
// one-byte change does not; its resource decrypts to the documented
// plaintext with its APIv3key.
func TestWechatpayOfficialVector(t *testing.T) {
	req, certPEM := wechatpayVectorRequest(t)
	pk, err := ParsePublicKey("public_key", certPEM)
	require.NoError(t, err)
	require.NotNil(t, pk.Cert)
	assert.True(t, wechatpayCertSerial(wechatpayVectorSerial, pk.Cert.SerialNumber), "the certificate's serial is the Wechatpay-Serial")

	// A 32-byte APIv3 key, as the option requires; not the vector's.
	v := mustNew(t, "wechatpay", options{Extra: map[string]any{
		"public_keys": []WechatpayPublicKey{{Serial: wechatpayVectorSerial, Key: certPEM}}, "apiv3_key": wechatpayTestAPIv3Key,
	}}).(*Wechatpay)
	require.NoError(t, v.authenticate(req), "the official signature verifies")

	// The full Verify passes the signature and fails the decryption, whose
	// key is another: 401.
	_, err = v.Verify(t.Context(), req)
	require.ErrorIs(t, err, ErrSignature)
	assert.Contains(t, err.Error(), "resource does not decrypt under apiv3_key")

	for _, i := range []int{0, len(req.Body) / 2, len(req.Body) - 1} {
		changed := *req
		changed.Body = []byte(string(req.Body))
		changed.Body[i] ^= 0x01
		err := v.authenticate(&changed)
		require.ErrorIs(t, err, ErrSignature, "byte %d changed", i)
		assert.Contains(t, err.Error(), "does not verify")
	}
	changed := *req
	changed.Header = req.Header.Clone()
	changed.Header.Set("Wechatpay-Nonce", "X"+wechatpayVectorNonce[1:])
	assert.ErrorIs(t, v.authenticate(&changed), ErrSignature, "the nonce is signed")
	changed.Header = req.Header.Clone()
	changed.ReceivedAt = time.Unix(wechatpayVectorTime+301, 0)
	assert.ErrorContains(t, v.authenticate(&changed), "old, over the tolerance")

	var n refWechatpayNotification
	require.NoError(t, json.Unmarshal(req.Body, &n))
	plaintext, err := WechatpayDecrypt([]byte(wechatpayVectorAPIv3Key), n.Resource.Nonce, n.Resource.Ciphertext, n.Resource.AssociatedData)
	require.NoError(t, err)
	assert.Equal(t, wechatpayVectorPlaintext, string(plaintext))
	_, err = WechatpayDecrypt([]byte(wechatpayVectorAPIv3Key), n.Resource.Nonce, n.Resource.Ciphertext, "transaction")
	assert.ErrorIs(t, err, ErrSignature, "the associated data is authenticated")
	_, err = WechatpayDecrypt([]byte("testMchAPIv3Key1"), n.Resource.Nonce, n.Resource.Ciphertext, n.Resource.AssociatedData)
	assert.ErrorIs(t, err, ErrSignature, "another key")
}

// TestWechatpayOptionsRefused: a configuration that could never verify a
// notification fails at load, naming the option and quoting no key.
func TestWechatpayOptionsRefused(t *testing.T) {
	pub := WechatpayPublicKey{Serial: wechatpayTestSerial, Key: wechatpayTestPub}
	t.Setenv("WECHATPAY_SHORT_KEY", "testMchAPIv3Key0")
	t.Setenv("WECHATPAY_KEY", wechatpayTestAPIv3Key)
	for name, c := range map[string]struct {
		extra  map[string]any
		option string
		msg    string
	}{
		"16-byte apiv3_key": {map[string]any{"public_keys": []WechatpayPublicKey{pub}, "apiv3_key": "testMchAPIv3Key0"},
			"apiv3_key", "16 bytes; an APIv3 key is 32 characters"},
		"16-byte apiv3_key from the environment": {map[string]any{"public_keys": []WechatpayPublicKey{pub}, "apiv3_key": "{env.WECHATPAY_SHORT_KEY}"},
			"apiv3_key", "16 bytes; an APIv3 key is 32 characters"},
		"no apiv3_key":  {map[string]any{"public_keys": []WechatpayPublicKey{pub}}, "apiv3_key", "required"},
		"no public_key": {map[string]any{"apiv3_key": wechatpayTestAPIv3Key}, "public_key", "required"},
		"serial of another certificate": {map[string]any{"apiv3_key": wechatpayTestAPIv3Key, "public_keys": []WechatpayPublicKey{
			{Serial: "5157F09EFDC096DE15EBE81A47057A7232F1B8E2", Key: wechatpayRotatedCert}}},
			"public_key", "the certificate's serial is 5157F09EFDC096DE15EBE81A47057A7232F1B8E1"},
		"a certificate under a public key id": {map[string]any{"apiv3_key": wechatpayTestAPIv3Key, "public_keys": []WechatpayPublicKey{
			{Serial: wechatpayTestSerial, Key: wechatpayRotatedCert}}},
			"public_key", "the certificate's serial is"},
		"serial given twice": {map[string]any{"apiv3_key": wechatpayTestAPIv3Key, "public_keys": []WechatpayPublicKey{pub, pub}},
			"public_key", "serial " + wechatpayTestSerial + " given twice"},
		"hex serial given twice in two cases": {map[string]any{"apiv3_key": wechatpayTestAPIv3Key, "public_keys": []WechatpayPublicKey{
			{Serial: wechatpayRotatedSerial, Key: wechatpayRotatedCert}, {Serial: strings.ToLower(wechatpayRotatedSerial), Key: wechatpayRotatedCert}}},
			"public_key", "given twice"},
		"private key": {map[string]any{"apiv3_key": wechatpayTestAPIv3Key, "public_keys": []WechatpayPublicKey{
			{Serial: wechatpayTestSerial, Key: wechatpayTestFile("test.pem")}}},
			"public_key", "this is a private key"},
		"key and serial swapped": {map[string]any{"apiv3_key": wechatpayTestAPIv3Key, "public_keys": []WechatpayPublicKey{
			{Serial: oneLineDER(wechatpayTestPub), Key: wechatpayTestSerial}}},
			"public_key", "neither a certificate serial (hex) nor a public key id"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := newVerifier("wechatpay", options{Extra: c.extra})
			var oe *OptionError
			require.ErrorAs(t, err, &oe)
			assert.Equal(t, c.option, oe.Option)
			assert.Contains(t, oe.Msg, c.msg)
			for _, secret := range []string{"testMchAPIv3Key0", wechatpayTestAPIv3Key, oneLineDER(wechatpayTestPub)[:40], "MIIE"} {
				assert.NotContains(t, err.Error(), secret)
			}
		})
	}
	// Accepted: the APIv3 key from the environment; the certificate's
	// serial in lower case.
	_, err := newVerifier("wechatpay", options{Extra: map[string]any{"apiv3_key": "{env.WECHATPAY_KEY}", "public_keys": []WechatpayPublicKey{
		{Serial: strings.ToLower(wechatpayRotatedSerial), Key: wechatpayRotatedCert}, pub}}})
	require.NoError(t, err)

	// The Caddyfile: public_key takes exactly a serial and a key.
	for config, want := range map[string]string{
		"public_key " + wechatpayTestSerial:                "public_key needs a serial and a key",
		"public_key " + wechatpayTestSerial + " key extra": "too many arguments",
	} {
		v := new(Wechatpay)
		d := caddyfile.NewTestDispenser(config)
		d.Next()
		err := ParseOption(d, v.Options()[0])
		require.Error(t, err, config)
		assert.Contains(t, err.Error(), want, config)
		assert.NotContains(t, err.Error(), "extra")
	}
}

// TestWechatpaySign: the test signer encrypts the fields with apiv3_key and
// signs with the private half of a configured public_key, under its serial;
// any other key is refused.
func TestWechatpaySign(t *testing.T) {
	v := mustNew(t, "wechatpay", wechatpayConfig).(*Wechatpay)
	now := time.Now()
	fields := v.Example("ORD-9", now)
	_, err := v.Sign(Draft{Fields: fields, Path: "/n", Now: now})
	assert.EqualError(t, err, "--private-key is required to sign wechatpay notifications")
	demo, err := os.ReadFile(filepath.Join("..", "examples", "keys", "wechatpay-demo.pem"))
	require.NoError(t, err)
	other, err := ParsePrivateKey(demo) // a key pair, but not a configured public_key's
	require.NoError(t, err)
	_, err = v.Sign(Draft{Fields: fields, Path: "/n", Now: now, PrivateKey: other})
	assert.EqualError(t, err, "--private-key is not the private half of a configured public_key")

	n, err := v.Sign(Draft{Fields: fields, Path: "/n", Now: now, PrivateKey: wechatpayPrivateKey(t, "rotated.pem")})
	require.NoError(t, err)
	assert.Equal(t, wechatpayRotatedSerial, n.Header.Get("Wechatpay-Serial"))
	assert.Equal(t, "WECHATPAY2-SHA256-RSA2048", n.Header.Get("Wechatpay-Signature-Type"))
	assert.NotContains(t, string(n.Body), "ORD-9", "the transaction is encrypted")
	events, err := v.Verify(t.Context(), &Request{Method: n.Method, Header: n.Header, Body: n.Body, ReceivedAt: now})
	require.NoError(t, err)
	require.Len(t, events, 1)
	assert.Equal(t, "ORD-9", events[0].OrderID)
	assert.Equal(t, StatusSucceeded, events[0].Status)
	assert.Equal(t, "10.50", events[0].Amount)
	assert.Equal(t, "CNY", events[0].Currency)

	// A refund: the fields have refund_status.
	refund := map[string]any{"out_trade_no": "ORD-9", "out_refund_no": "RF-9", "refund_status": "SUCCESS",
		"amount": map[string]any{"total": json.Number("1050"), "refund": json.Number("500")}}
	n, err = v.Sign(Draft{Fields: refund, Path: "/n", Now: now, PrivateKey: wechatpayPrivateKey(t, "test.pem")})
	require.NoError(t, err)
	assert.Equal(t, wechatpayTestSerial, n.Header.Get("Wechatpay-Serial"))
	assert.Contains(t, string(n.Body), `"event_type":"REFUND.SUCCESS"`)
	events, err = v.Verify(t.Context(), &Request{Method: n.Method, Header: n.Header, Body: n.Body, ReceivedAt: now})
	require.NoError(t, err)
	assert.Equal(t, StatusRefunded, events[0].Status)
	assert.Equal(t, "5.00", events[0].Amount)
}

// BenchmarkWechatpayAESGCM is what the decryption of the resource adds to
// the signature floor (BenchmarkCryptoFloor/wechatpay): the AES-256-GCM
// open of the golden transaction.
func BenchmarkWechatpayAESGCM(b *testing.B) {
	req := goldenRequest(b, "wechatpay/success")
	var n refWechatpayNotification
	require.NoError(b, json.Unmarshal(req.Body, &n))
	aead, err := wechatpayAEAD([]byte(wechatpayTestAPIv3Key))
	require.NoError(b, err)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := wechatpayOpen(aead, n.Resource.Nonce, n.Resource.Ciphertext, n.Resource.AssociatedData); err != nil {
			b.Fatal(err)
		}
	}
}

func FuzzWechatpay(f *testing.F) {
	fuzzVerifier(f, "wechatpay", wechatpayConfig, func(r *Request) string {
		return r.Header.Get("Wechatpay-Timestamp") + "\n" + r.Header.Get("Wechatpay-Nonce") + "\n" + string(r.Body) + "\n"
	})
}
