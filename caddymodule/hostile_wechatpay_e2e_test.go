package caddymodule_test

// The hostile cases of wechatpay. WeChat Pay signs a Unix time with the
// body, so every case is signed here at time.Now(), with the test key pair
// of testdata/wechatpay/keys (not WeChat Pay's), and its resource encrypted
// here with the route's APIv3 key; a case that breaks the resource signs
// the broken body, so that only the decryption can refuse it.

import (
	"bytes"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddytest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	wechatpayHostileSerial   = "PUB_KEY_ID_0112345678901234567890"
	wechatpayHostileAPIv3Key = "wechatpay-test-apiv3-key-32bytes"
	wechatpayHostileNonce    = "5K8264ILTKCH16CQ2502SI8ZNMTM67VS"
	// wechatpayValidPlain is the decrypted transaction of a genuine case.
	wechatpayValidPlain = `{"mchid":"1900000109","appid":"wxd678efh567hg6787","out_trade_no":"ORD-H",` +
		`"transaction_id":"4200002210202405011234567890","trade_type":"JSAPI","trade_state":"SUCCESS",` +
		`"trade_state_desc":"支付成功","success_time":"2024-05-01T18:20:25+08:00",` +
		`"payer":{"openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},"amount":{"total":1050,"currency":"CNY"}}`
)

func wechatpayKeyFile(name string) []byte {
	b, err := os.ReadFile(filepath.Join("..", "testdata", "wechatpay", "keys", name))
	if err != nil {
		panic(err)
	}
	return b
}

func wechatpayPrivate(name string) *rsa.PrivateKey {
	block, _ := pem.Decode(wechatpayKeyFile(name))
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		panic(err)
	}
	return key.(*rsa.PrivateKey)
}

// wechatpayPublicDER is the test public key as one line of base64 DER.
func wechatpayPublicDER() string {
	block, _ := pem.Decode(wechatpayKeyFile("test.pub"))
	return base64.StdEncoding.EncodeToString(block.Bytes)
}

// wechatpayEncrypt is the resource of plaintext: AES-GCM under key, with
// the 12-character nonce and aad.
func wechatpayEncrypt(key, nonce, aad, plaintext string) string {
	block, err := aes.NewCipher([]byte(key))
	if err != nil {
		panic(err)
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		panic(err)
	}
	return base64.StdEncoding.EncodeToString(gcm.Seal(nil, []byte(nonce), []byte(plaintext), []byte(aad)))
}

// wechatpayBody is a notification whose resource is plaintext encrypted
// with the route's key; edit changes the envelope before it is written.
func wechatpayBody(id, plaintext string, edit func(envelope, resource map[string]any)) string {
	resource := map[string]any{"original_type": "transaction", "algorithm": "AEAD_AES_256_GCM", "associated_data": "transaction",
		"nonce": "fdasflkja484", "ciphertext": wechatpayEncrypt(wechatpayHostileAPIv3Key, "fdasflkja484", "transaction", plaintext)}
	envelope := map[string]any{"id": id, "create_time": "2024-05-01T18:20:28+08:00", "resource_type": "encrypt-resource",
		"event_type": "TRANSACTION.SUCCESS", "summary": "支付成功", "resource": resource}
	if edit != nil {
		edit(envelope, resource)
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(envelope); err != nil {
		panic(err)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

var wechatpayValid = wechatpayBody("EV-hostile", wechatpayValidPlain, nil)

// wechatpaySign is the base64 SHA256withRSA signature of message.
func wechatpaySign(key *rsa.PrivateKey, message string) string {
	digest := sha256.Sum256([]byte(message))
	sig, err := rsa.SignPKCS1v15(nil, key, crypto.SHA256, digest[:])
	if err != nil {
		panic(err)
	}
	return base64.StdEncoding.EncodeToString(sig)
}

// wechatpaySigned is a notification to path with body, signed at now +
// skew with the key file signer under the test serial; change alters the
// request last.
func wechatpaySigned(path, signer string, skew time.Duration, body string, change func(*http.Request)) func(t *testing.T) *http.Request {
	return func(t *testing.T) *http.Request {
		ts := strconv.FormatInt(time.Now().Add(skew).Unix(), 10)
		req, err := http.NewRequest(http.MethodPost, "http://localhost:9080"+path, strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Wechatpay-Timestamp", ts)
		req.Header.Set("Wechatpay-Nonce", wechatpayHostileNonce)
		req.Header.Set("Wechatpay-Serial", wechatpayHostileSerial)
		req.Header.Set("Wechatpay-Signature-Type", "WECHATPAY2-SHA256-RSA2048")
		req.Header.Set("Wechatpay-Signature", wechatpaySign(wechatpayPrivate(signer), ts+"\n"+wechatpayHostileNonce+"\n"+body+"\n"))
		if change != nil {
			change(req)
		}
		return req
	}
}

func wechatpayHostile(body string, change func(*http.Request)) func(t *testing.T) *http.Request {
	return wechatpaySigned("/wechatpay", "test.pem", 0, body, change)
}

// wechatpayResource is wechatpayValid with its resource changed, signed.
func wechatpayResource(edit func(resource map[string]any)) func(t *testing.T) *http.Request {
	return wechatpayHostile(wechatpayBody("EV-hostile", wechatpayValidPlain, func(_, r map[string]any) { edit(r) }), nil)
}

func init() {
	hostileRoutes = append(hostileRoutes, `
	handle /wechatpay {
		paynotify wechatpay {
			public_key `+wechatpayHostileSerial+` `+wechatpayPublicDER()+`
			apiv3_key `+wechatpayHostileAPIv3Key+`
			STORE
		}
		reverse_proxy UPSTREAM
	}
	handle /wechatpay/original {
		paynotify wechatpay {
			public_key `+wechatpayHostileSerial+` `+wechatpayPublicDER()+`
			apiv3_key `+wechatpayHostileAPIv3Key+`
			forward original
			STORE
			dedup_scope wechatpay-original
		}
		reverse_proxy UPSTREAM
	}
`)
	old, future := -(5*time.Minute + 30*time.Second), 5*time.Minute+30*time.Second
	sigOf := func(r *http.Request) string { return r.Header.Get("Wechatpay-Signature") }
	hostileCatalogue = append(hostileCatalogue,
		// wechatpay: signature
		hostile{"wechatpay tampered body", wechatpayHostile(wechatpayValid, func(r *http.Request) {
			setBody(r, strings.Replace(wechatpayValid, "EV-hostile", "EV-hostilf", 1))
		}), 401},
		hostile{"wechatpay probe (a genuine body, a wrong signature)", wechatpayHostile(wechatpayValid, func(r *http.Request) {
			r.Header.Set("Wechatpay-Signature", wechatpaySign(wechatpayPrivate("test.pem"), "probe"))
		}), 401},
		hostile{"wechatpay signed with another key", wechatpaySigned("/wechatpay", "rotated.pem", 0, wechatpayValid, nil), 401},
		hostile{"wechatpay unknown serial", wechatpayHostile(wechatpayValid, setHeader("Wechatpay-Serial", "PUB_KEY_ID_0199999999999999999999")), 401},
		hostile{"wechatpay serial missing", wechatpayHostile(wechatpayValid, func(r *http.Request) { r.Header.Del("Wechatpay-Serial") }), 401},
		hostile{"wechatpay two serial headers", wechatpayHostile(wechatpayValid, func(r *http.Request) {
			r.Header.Add("Wechatpay-Serial", wechatpayHostileSerial)
		}), 401},
		hostile{"wechatpay signature header missing", wechatpayHostile(wechatpayValid, func(r *http.Request) { r.Header.Del("Wechatpay-Signature") }), 401},
		hostile{"wechatpay signature header empty", wechatpayHostile(wechatpayValid, setHeader("Wechatpay-Signature", "")), 401},
		hostile{"wechatpay signature not base64", wechatpayHostile(wechatpayValid, setHeader("Wechatpay-Signature", strings.Repeat("!", 344))), 401},
		hostile{"wechatpay signature truncated", wechatpayHostile(wechatpayValid, func(r *http.Request) {
			r.Header.Set("Wechatpay-Signature", sigOf(r)[:100])
		}), 401},
		hostile{"wechatpay signature in URL-safe base64", wechatpayHostile(wechatpayValid, func(r *http.Request) {
			raw, _ := base64.StdEncoding.DecodeString(sigOf(r))
			r.Header.Set("Wechatpay-Signature", base64.URLEncoding.EncodeToString(raw)+"-_") // never canonical standard base64
		}), 401},
		hostile{"wechatpay signature with spaces", wechatpayHostile(wechatpayValid, func(r *http.Request) {
			r.Header.Set("Wechatpay-Signature", sigOf(r)[:172]+" "+sigOf(r)[172:])
		}), 401},
		hostile{"wechatpay two signature headers", wechatpayHostile(wechatpayValid, func(r *http.Request) {
			r.Header.Add("Wechatpay-Signature", sigOf(r))
		}), 401},
		hostile{"wechatpay signature type SM2", wechatpayHostile(wechatpayValid, setHeader("Wechatpay-Signature-Type", "WECHATPAY2-SM2-WITH-SM3")), 401},
		hostile{"wechatpay signature type in lower case", wechatpayHostile(wechatpayValid, setHeader("Wechatpay-Signature-Type", "wechatpay2-sha256-rsa2048")), 401},
		hostile{"wechatpay nonce missing", wechatpayHostile(wechatpayValid, func(r *http.Request) { r.Header.Del("Wechatpay-Nonce") }), 401},
		hostile{"wechatpay nonce changed", wechatpayHostile(wechatpayValid, setHeader("Wechatpay-Nonce", "X"+wechatpayHostileNonce[1:])), 401},
		hostile{"wechatpay timestamp missing", wechatpayHostile(wechatpayValid, func(r *http.Request) { r.Header.Del("Wechatpay-Timestamp") }), 401},
		hostile{"wechatpay timestamp in milliseconds", wechatpayHostile(wechatpayValid, func(r *http.Request) {
			r.Header.Set("Wechatpay-Timestamp", r.Header.Get("Wechatpay-Timestamp")+"000")
		}), 401},
		hostile{"wechatpay timestamp too old", wechatpaySigned("/wechatpay", "test.pem", old, wechatpayValid, nil), 401},
		hostile{"wechatpay timestamp in the future", wechatpaySigned("/wechatpay", "test.pem", future, wechatpayValid, nil), 401},
		// wechatpay: the resource, in a correctly signed body
		hostile{"wechatpay tampered ciphertext, signed", wechatpayResource(func(r map[string]any) {
			raw, _ := base64.StdEncoding.DecodeString(r["ciphertext"].(string))
			raw[3] ^= 1
			r["ciphertext"] = base64.StdEncoding.EncodeToString(raw)
		}), 401},
		hostile{"wechatpay encrypted with another APIv3 key, signed", wechatpayResource(func(r map[string]any) {
			r["ciphertext"] = wechatpayEncrypt("another-merchants-apiv3-key-0032", "fdasflkja484", "transaction", wechatpayValidPlain)
		}), 401},
		hostile{"wechatpay associated_data changed, signed", wechatpayResource(func(r map[string]any) { r["associated_data"] = "refund" }), 401},
		hostile{"wechatpay resource nonce changed, signed", wechatpayResource(func(r map[string]any) { r["nonce"] = "fdasflkja485" }), 401},
		hostile{"wechatpay wrong algorithm, signed", wechatpayResource(func(r map[string]any) { r["algorithm"] = "AEAD_SM4_GCM" }), 401},
		hostile{"wechatpay ciphertext not base64, signed", wechatpayResource(func(r map[string]any) { r["ciphertext"] = "not base64!" }), 401},
		// wechatpay: body and plaintext, signed and decrypted
		hostile{"wechatpay duplicate JSON key, signed", wechatpayHostile(strings.Replace(wechatpayValid, `"id":`, `"id":"EV-other","id":`, 1), nil), 400},
		hostile{"wechatpay JSON keys differing in case, signed", wechatpayHostile(strings.Replace(wechatpayValid, `"id":`, `"ID":"EV-other","id":`, 1), nil), 400},
		hostile{"wechatpay duplicate JSON key in the plaintext, signed", wechatpayHostile(wechatpayBody("EV-hostile",
			strings.Replace(wechatpayValidPlain, `"trade_state":`, `"trade_state":"PAYERROR","trade_state":`, 1), nil), nil), 400},
		hostile{"wechatpay plaintext keys differing in case, signed", wechatpayHostile(wechatpayBody("EV-hostile",
			strings.Replace(wechatpayValidPlain, `"trade_state":`, `"Trade_State":"PAYERROR","trade_state":`, 1), nil), nil), 400},
		hostile{"wechatpay invalid UTF-8, signed", wechatpayHostile(strings.Replace(wechatpayValid, "支付成功", "\xff", 1), nil), 400},
		hostile{"wechatpay invalid UTF-8 in the plaintext, signed", wechatpayHostile(wechatpayBody("EV-hostile",
			strings.Replace(wechatpayValidPlain, "ORD-H", "ORD-\xff", 1), nil), nil), 400},
		hostile{"wechatpay id missing, signed", wechatpayHostile(wechatpayBody("", wechatpayValidPlain, func(e, _ map[string]any) { delete(e, "id") }), nil), 400},
		hostile{"wechatpay out_trade_no missing, signed", wechatpayHostile(wechatpayBody("EV-hostile",
			strings.Replace(wechatpayValidPlain, `"out_trade_no":"ORD-H",`, "", 1), nil), nil), 400},
		hostile{"wechatpay trade_state missing, signed", wechatpayHostile(wechatpayBody("EV-hostile",
			strings.Replace(wechatpayValidPlain, `"trade_state":"SUCCESS",`, "", 1), nil), nil), 400},
		hostile{"wechatpay resource_type plain, signed", wechatpayHostile(wechatpayBody("EV-hostile", wechatpayValidPlain, func(e, _ map[string]any) {
			e["resource_type"] = "plain-resource"
		}), nil), 400},
		hostile{"wechatpay query shadowing id", wechatpayHostile(wechatpayValid, func(r *http.Request) { r.URL.RawQuery = "id=EV-other" }), 400},
		// wechatpay: transport
		hostile{"wechatpay text/plain content type, signed", wechatpayHostile(wechatpayValid, setHeader("Content-Type", "text/plain")), 400},
		hostile{"wechatpay GET", wechatpayHostile(wechatpayValid, func(r *http.Request) { r.Method = http.MethodGet }), 405},
		hostile{"wechatpay header of 2 MB", wechatpayHostile(wechatpayValid, header2MB), 431},
	)
}

// TestWechatpayHostileRoutesAcceptGenuine is the control of the cases
// above, and the end-to-end test of the provider: through the same routes,
// a notification signed and encrypted as theirs is acknowledged with 204
// and forwarded once, as the decrypted transaction in raw; its replay is
// acknowledged without reaching the app again. With forward original the
// app gets the encrypted notification, body and headers, as WeChat Pay sent
// it.
func TestWechatpayHostileRoutesAcceptGenuine(t *testing.T) {
	up := newUpstream(t)
	tc := caddytest.NewTester(t)
	initServer(tc, hostileCaddyfile(strings.TrimPrefix(up.URL, "http://"), "store bolt "+filepath.Join(t.TempDir(), "dedup.db"), startHostileAPI(t)), "caddyfile")

	r := send(t, tc, wechatpayHostile(wechatpayValid, nil)(t))
	assert.Equal(t, http.StatusNoContent, r.Status)
	assert.Empty(t, r.Body)
	assertNoAppLeak(t, r)
	got := up.take()
	require.Len(t, got, 1)
	for _, name := range []string{"Wechatpay-Signature", "Wechatpay-Serial", "Wechatpay-Nonce", "Wechatpay-Timestamp"} {
		assert.Empty(t, got[0].Header.Get(name), "%s forwarded with a normalized event", name)
	}
	var event struct {
		ID, Status, OrderID, Amount, Currency, ProviderStatus string
		Raw                                                   json.RawMessage
	}
	require.NoError(t, json.Unmarshal(got[0].Body, &event))
	assert.Equal(t, "EV-hostile", event.ID)
	assert.Equal(t, "succeeded", event.Status)
	assert.Equal(t, "10.50", event.Amount)
	assert.Equal(t, "CNY", event.Currency)
	assert.JSONEq(t, wechatpayValidPlain, string(event.Raw), "raw is the decrypted transaction")
	assert.NotContains(t, string(got[0].Body), "ciphertext")
	assert.NotContains(t, string(got[0].Body), wechatpayHostileAPIv3Key)

	r = send(t, tc, wechatpayHostile(wechatpayValid, nil)(t))
	assert.Equal(t, http.StatusNoContent, r.Status, "a replay within the dedup window is acknowledged")
	assert.Empty(t, up.take(), "and not forwarded again")

	// forward original: the encrypted body and the headers, byte for byte.
	req := wechatpaySigned("/wechatpay/original", "test.pem", 0, wechatpayValid, nil)(t)
	sent := req.Header.Clone()
	r = send(t, tc, req)
	assert.Equal(t, http.StatusNoContent, r.Status)
	got = up.take()
	require.Len(t, got, 1)
	assert.Equal(t, wechatpayValid, string(got[0].Body))
	for _, name := range []string{"Content-Type", "Wechatpay-Signature", "Wechatpay-Serial", "Wechatpay-Nonce", "Wechatpay-Timestamp", "Wechatpay-Signature-Type"} {
		assert.Equal(t, sent.Values(name), got[0].Header.Values(name), name)
	}
	assert.Equal(t, "EV-hostile", got[0].Header.Get("Paynotify-Event-Id"))
	assert.Equal(t, "succeeded", got[0].Header.Get("Paynotify-Status"))
	assert.Contains(t, string(got[0].Body), `"ciphertext":`, "the app gets what it needs the APIv3 key for")
}
