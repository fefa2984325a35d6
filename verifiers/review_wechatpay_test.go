package verifiers

// Adversarial review of the wechatpay provider. Each test reproduces one
// defect found in review and fails until it is fixed.

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// reviewWxNotification is a notification of plaintext (a resource of
// originalType), encrypted with v's APIv3 key and signed at now with priv
// under serial, as WeChat Pay sends it.
func reviewWxNotification(t *testing.T, v *Wechatpay, priv *rsa.PrivateKey, serial, eventType, originalType, plaintext string, now time.Time) *Request {
	t.Helper()
	const nonce = "fdasflkja484"
	sealed := v.aead.Seal(nil, []byte(nonce), []byte(plaintext), []byte(originalType))
	body, err := json.Marshal(map[string]any{
		"id": "EV-review-" + strconv.FormatInt(now.UnixNano(), 10), "create_time": now.In(chinaStandardTime).Format(time.RFC3339),
		"resource_type": "encrypt-resource", "event_type": eventType, "summary": "支付成功",
		"resource": map[string]any{"original_type": originalType, "algorithm": "AEAD_AES_256_GCM",
			"associated_data": originalType, "nonce": nonce, "ciphertext": base64.StdEncoding.EncodeToString(sealed)},
	})
	require.NoError(t, err)
	ts := strconv.FormatInt(now.Unix(), 10)
	sig, err := SignSHA256RSA(priv, []byte(ts+"\n"+"5K8264ILTKCH16CQ2502SI8ZNMTM67VS"+"\n"+string(body)+"\n"))
	require.NoError(t, err)
	return &Request{Method: http.MethodPost, Body: body, ReceivedAt: now, Header: http.Header{
		"Content-Type":             {"application/json"},
		"Wechatpay-Timestamp":      {ts},
		"Wechatpay-Nonce":          {"5K8264ILTKCH16CQ2502SI8ZNMTM67VS"},
		"Wechatpay-Serial":         {serial},
		"Wechatpay-Signature":      {sig},
		"Wechatpay-Signature-Type": {"WECHATPAY2-SHA256-RSA2048"},
	}}
}

// reviewWxCert is a self-signed platform certificate for the key of
// testdata/wechatpay/keys/test.pem, with serial and notAfter.
func reviewWxCert(t *testing.T, serial *big.Int, notAfter time.Time) string {
	t.Helper()
	priv := wechatpayPrivateKey(t, "test.pem")
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: "Tenpay.com Root CA test"},
		NotBefore: notAfter.Add(-5 * 365 * 24 * time.Hour), NotAfter: notAfter}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	require.NoError(t, err)
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

// TestReviewWechatpayCombinedPayment: a combined payment (合单支付) is
// notified as TRANSACTION.SUCCESS with original_type "transaction", but its
// decrypted resource carries combine_out_trade_no and sub_orders[] (each
// with its own trade_state), no top-level trade_state. The provider answers
// 400 to this genuine, correctly signed notification, at every one of
// WeChat Pay's 15 retries: the app never learns that it was paid. It should
// be forwarded (as unknown, like payscore, or mapped from sub_orders).
func TestReviewWechatpayCombinedPayment(t *testing.T) {
	v := mustNew(t, "wechatpay", wechatpayConfig).(*Wechatpay)
	plaintext := `{"combine_appid":"wxd678efh567hg6787","combine_mchid":"1900000109","combine_out_trade_no":"P20150806125346",` +
		`"scene_info":{"device_id":"POS1:123"},"sub_orders":[{"mchid":"1900000109","trade_type":"JSAPI","trade_state":"SUCCESS",` +
		`"bank_type":"CMC","attach":"深圳分店","success_time":"2015-05-20T13:29:35+08:00","transaction_id":"1009660380201506130728806387",` +
		`"out_trade_no":"20150806125346","sub_mchid":"1900000109","amount":{"total_amount":10,"currency":"CNY","payer_amount":10,"payer_currency":"CNY"}}],` +
		`"combine_payer_info":{"openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}}`
	req := reviewWxNotification(t, v, wechatpayPrivateKey(t, "test.pem"), wechatpayTestSerial, "TRANSACTION.SUCCESS", "transaction", plaintext, time.Now())
	events, err := v.Verify(t.Context(), req)
	require.NoError(t, err, "a genuine combined-payment notification is refused (400), so WeChat Pay retries for 24h and gives up")
	require.Len(t, events, 1)
	assert.Contains(t, string(events[0].Raw), `"combine_out_trade_no":"P20150806125346"`)
}

// TestReviewWechatpayCertSerialLeadingZero: WeChat Pay (and its SDK,
// utils.GetCertificateSerialNumber = fmt.Sprintf("%X", serial.Bytes())) writes
// a platform certificate's serial byte by byte, so a serial whose first byte
// is under 0x10 starts with "0". Provision compares the configured serial
// with the certificate's as numbers, and its own error message prints the
// serial without that zero (%X of the big.Int); but the Wechatpay-Serial
// header is then looked up as a string. A configuration that loaded, with
// the serial that paynotify itself suggested, refuses every notification
// with 401 "names no configured public_key".
func TestReviewWechatpayCertSerialLeadingZero(t *testing.T) {
	serial := new(big.Int).SetBytes([]byte{0x0A, 0x1B, 0x2C, 0x3D, 0x4E, 0x5F, 0x60, 0x71, 0x82, 0x93,
		0xA4, 0xB5, 0xC6, 0xD7, 0xE8, 0xF9, 0x01, 0x12, 0x23, 0x34})
	cert := reviewWxCert(t, serial, time.Now().Add(5*365*24*time.Hour))
	sdkForm := fmt.Sprintf("%X", serial.Bytes()) // 0A1B2C…, what Wechatpay-Serial carries
	require.True(t, strings.HasPrefix(sdkForm, "0A"))

	// A wrong serial: the message names the certificate's serial, without its leading zero.
	_, err := newVerifier("wechatpay", options{Extra: map[string]any{"apiv3_key": wechatpayTestAPIv3Key,
		"public_keys": []WechatpayPublicKey{{Serial: "ABCDEF", Key: cert}}}})
	require.Error(t, err)
	// (Fixed: the message names the serial as WeChat Pay writes it.)
	require.Contains(t, err.Error(), "the certificate's serial is "+sdkForm)

	// The operator copies it, or the number without its leading zero from
	// elsewhere; either configuration loads and selects the key.
	for _, configured := range []string{sdkForm, fmt.Sprintf("%X", serial), strings.ToLower(sdkForm)} {
		v := mustNew(t, "wechatpay", options{Extra: map[string]any{"apiv3_key": wechatpayTestAPIv3Key,
			"public_keys": []WechatpayPublicKey{{Serial: configured, Key: cert}}}}).(*Wechatpay)
		// WeChat Pay's notification, signed with the certificate's key under its serial.
		req := reviewWxNotification(t, v, wechatpayPrivateKey(t, "test.pem"), sdkForm, "TRANSACTION.SUCCESS", "transaction",
			`{"mchid":"1900000109","out_trade_no":"ORD-1","transaction_id":"4200","trade_state":"SUCCESS","amount":{"total":100,"currency":"CNY"}}`, time.Now())
		_, err = v.Verify(t.Context(), req)
		assert.NoError(t, err, "the certificate's own serial, with its leading zero, must select it (configured %s)", configured)
	}
}

// TestReviewWechatpayExpiredRotationCertBlocksLoad: during a rotation the
// operator keeps the old platform certificate next to the new key. The day
// the old certificate expires the configuration, unchanged and still able to
// verify every notification (WeChat Pay signs with the new key), no longer
// loads: the next restart or reload of Caddy fails as a whole. The SDK does
// not refuse an expired certificate when verifying. An expired certificate
// should be a warning at load (or refused at use), not a time bomb.
func TestReviewWechatpayExpiredRotationCertBlocksLoad(t *testing.T) {
	old := reviewWxCert(t, big.NewInt(0x5EED), time.Now().Add(-time.Hour))
	_, err := newVerifier("wechatpay", options{Extra: map[string]any{"apiv3_key": wechatpayTestAPIv3Key,
		"public_keys": []WechatpayPublicKey{
			{Serial: "5EED", Key: old}, // the old platform certificate, expired an hour ago
			{Serial: wechatpayRotatedSerial, Key: wechatpayRotatedCert},
		}}})
	require.NoError(t, err, "an unchanged configuration that verifies today's notifications stops loading when a rotated-out certificate expires")
	// (Fixed:) it loads with a warning, and a notification signed under
	// the expired certificate is refused.
	v := mustNew(t, "wechatpay", options{Extra: map[string]any{"apiv3_key": wechatpayTestAPIv3Key,
		"public_keys": []WechatpayPublicKey{{Serial: "5EED", Key: old}}}}).(*Wechatpay)
	req := reviewWxNotification(t, v, wechatpayPrivateKey(t, "test.pem"), "5EED", "TRANSACTION.SUCCESS", "transaction",
		`{"mchid":"1900000109","out_trade_no":"ORD-1","transaction_id":"4200","trade_state":"SUCCESS","amount":{"total":100,"currency":"CNY"}}`, time.Now())
	_, err = v.Verify(t.Context(), req)
	require.ErrorIs(t, err, ErrSignature)
	assert.Contains(t, err.Error(), "names a platform certificate that expired on")
}

// TestReviewVerifySHA256RSA8192BitKey: VerifySHA256RSA decodes the
// signature into a 1024-byte stack buffer for keys "up to 8192 bits", but
// base64's DecodedLen of a 1024-byte signature is 1026: the slice expression
// panics for every key of 8185 to 8192 bits, on every request whose
// signature has the right length (the genuine ones). ParsePublicKey accepts
// such a key, so the configuration loads, and then every notification
// panics (connection dropped, no ACK, WeChat Pay retries for 24h).
func TestReviewVerifySHA256RSA8192BitKey(t *testing.T) {
	n := new(big.Int).Lsh(big.NewInt(1), 8191)
	n.Add(n, big.NewInt(0x10001)) // an odd 8192-bit modulus; the panic comes before any arithmetic
	key := &rsa.PublicKey{N: n, E: 65537}
	require.Equal(t, 1024, key.Size())
	der, err := x509.MarshalPKIXPublicKey(key)
	require.NoError(t, err)

	// The configuration loads.
	v := mustNew(t, "wechatpay", options{Extra: map[string]any{"apiv3_key": wechatpayTestAPIv3Key,
		"public_keys": []WechatpayPublicKey{{Serial: wechatpayTestSerial, Key: base64.StdEncoding.EncodeToString(der)}}}}).(*Wechatpay)

	sig := base64.StdEncoding.EncodeToString(make([]byte, 1024)) // 1368 characters, as a real signature
	assert.NotPanics(t, func() { VerifySHA256RSA(key, []byte("m"), sig) })

	req := &Request{Method: http.MethodPost, Body: []byte(`{}`), ReceivedAt: time.Now(), Header: http.Header{
		"Content-Type": {"application/json"}, "Wechatpay-Timestamp": {strconv.FormatInt(time.Now().Unix(), 10)},
		"Wechatpay-Nonce": {"n"}, "Wechatpay-Serial": {wechatpayTestSerial}, "Wechatpay-Signature": {sig},
	}}
	assert.NotPanics(t, func() {
		_, err := v.Verify(t.Context(), req)
		assert.ErrorIs(t, err, ErrSignature)
	})
}

// TestReviewWechatpayUnreadableKeyMessage: a public_key that is base64 (or a
// PUBLIC KEY PEM block) but not a key fails at load with "(<nil>)" as its
// reason: errors.Unwrap of x509's errors.New errors is nil.
func TestReviewWechatpayUnreadableKeyMessage(t *testing.T) {
	for _, key := range []string{"AAAAAAAA", "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"} {
		_, err := newVerifier("wechatpay", options{Extra: map[string]any{"apiv3_key": wechatpayTestAPIv3Key,
			"public_keys": []WechatpayPublicKey{{Serial: wechatpayTestSerial, Key: key}}}})
		require.Error(t, err)
		assert.NotContains(t, err.Error(), "<nil>", key)
	}
}

// TestReviewWechatpaySerialPlaceholder: the key may come from {env.*} or
// {file.*}, the serial may not: a serial kept beside the key in the
// environment is refused with a message that says the serial and the key
// may be swapped ("the serial comes first, then the key"), which they are
// not. Either resolve placeholders in the serial at provision, or say that
// the serial must be written literally.
func TestReviewWechatpaySerialPlaceholder(t *testing.T) {
	t.Setenv("WECHATPAY_SERIAL", wechatpayTestSerial)
	_, err := newVerifier("wechatpay", options{Extra: map[string]any{"apiv3_key": wechatpayTestAPIv3Key,
		"public_keys": []WechatpayPublicKey{{Serial: "{env.WECHATPAY_SERIAL}", Key: wechatpayTestPub}}}})
	if err != nil {
		assert.NotContains(t, err.Error(), "the serial comes first, then the key", "a placeholder is not a swapped key")
		assert.Contains(t, err.Error(), "placeholder")
	}
}
