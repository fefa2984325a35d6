package standin

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// PayPal's official offline vector (PayPal-Java-SDK ValidateCertTest.java):
// the webhook id, transmission and sandbox certificate the SDK verifies.
const (
	vectorWebhookID = "96605875FF6516633"
	vectorID        = "071f7d20-1584-11e7-abf0-6b62a8a99ac4"
	vectorTime      = "2017-03-30T20:04:05Z"
	vectorCertURL   = "https://api.sandbox.paypal.com/v1/notifications/certs/CERT-testClientCert"
)

func readVector(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "vectors", name))
	require.NoError(t, err)
	return b
}

// paypalToken gets a token from the stand-in at base.
func paypalToken(t *testing.T, base, id, secret string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+"/paypal/v1/oauth2/token", strings.NewReader("grant_type=client_credentials"))
	require.NoError(t, err)
	req.SetBasicAuth(id, secret)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	var answer struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	_ = json.NewDecoder(res.Body).Decode(&answer)
	return res.StatusCode, answer.AccessToken
}

// paypalVerifyCall posts a verify-webhook-signature request whose
// webhook_event is event, embedded as is, and returns the status and answer.
func paypalVerifyCall(t *testing.T, base, token string, fields map[string]string, event []byte) (int, map[string]any) {
	t.Helper()
	var b bytes.Buffer
	b.WriteString("{")
	for k, v := range fields {
		name, _ := json.Marshal(k)
		value, _ := json.Marshal(v)
		b.Write(name)
		b.WriteString(":")
		b.Write(value)
		b.WriteString(",")
	}
	b.WriteString(`"webhook_event":`)
	b.Write(event)
	b.WriteString("}")
	req, err := http.NewRequest(http.MethodPost, base+"/paypal/v1/notifications/verify-webhook-signature", &b)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	var answer map[string]any
	require.NoError(t, json.NewDecoder(res.Body).Decode(&answer))
	return res.StatusCode, answer
}

// TestPayPalStandinVerifiesTheOfficialVector: the stand-in's verification
// is PayPal's: the official transmission verifies with the sandbox
// certificate, and a change of one byte of the event, of the webhook id or
// of the signature fails it.
func TestPayPalStandinVerifiesTheOfficialVector(t *testing.T) {
	api := New()
	srv := httptest.NewServer(api)
	defer srv.Close()
	api.SetPayPalClient("app", "app-secret")
	require.NoError(t, api.AddPayPalCert(vectorCertURL, readVector(t, "paypal_sandbox_messageverification_cert.pem")))
	body := readVector(t, "paypal_event_body.json")
	require.Len(t, body, 1636)
	sig := strings.TrimSpace(string(readVector(t, "paypal_transmission_sig.b64")))
	assert.Equal(t, vectorID+"|"+vectorTime+"|"+vectorWebhookID+"|3494065244", PayPalSignedString(vectorID, vectorTime, vectorWebhookID, body))

	status, token := paypalToken(t, srv.URL, "app", "app-secret")
	require.Equal(t, http.StatusOK, status)
	fields := func(change func(map[string]string)) map[string]string {
		f := map[string]string{"auth_algo": "SHA256withRSA", "cert_url": vectorCertURL, "transmission_id": vectorID,
			"transmission_sig": sig, "transmission_time": vectorTime, "webhook_id": vectorWebhookID}
		if change != nil {
			change(f)
		}
		return f
	}
	verify := func(f map[string]string, event []byte) string {
		status, answer := paypalVerifyCall(t, srv.URL, token, f, event)
		require.Equal(t, http.StatusOK, status)
		return answer["verification_status"].(string)
	}
	assert.Equal(t, "SUCCESS", verify(fields(nil), body))

	tampered := bytes.Replace(body, []byte(`"value":"1"`), []byte(`"value":"2"`), 1)
	require.Len(t, tampered, len(body))
	require.NotEqual(t, body, tampered)
	assert.Equal(t, "FAILURE", verify(fields(nil), tampered), "one byte of the event changed")
	assert.Equal(t, "FAILURE", verify(fields(func(f map[string]string) { f["webhook_id"] = "96605875FF6516634" }), body))
	assert.Equal(t, "FAILURE", verify(fields(func(f map[string]string) { f["transmission_time"] = "2017-03-30T20:04:06Z" }), body))
	assert.Equal(t, "FAILURE", verify(fields(func(f map[string]string) { f["transmission_sig"] = "b" + sig[1:] }), body))
	assert.Equal(t, "FAILURE", verify(fields(func(f map[string]string) { f["cert_url"] = PayPalCertURL }), body),
		"the right signature checked with another certificate")
	assert.Equal(t, "FAILURE", verify(fields(func(f map[string]string) { f["auth_algo"] = "SHA1withRSA" }), body))
}

func TestPayPalStandinSignsAsPayPal(t *testing.T) {
	api := New()
	srv := httptest.NewServer(api)
	defer srv.Close()
	api.SetPayPalClient("app", "app-secret")
	_, token := paypalToken(t, srv.URL, "app", "app-secret")
	body := []byte(`{ "id" : "WH-1",  "event_type":"PAYMENT.CAPTURE.COMPLETED" }`)
	h := api.SignPayPalWebhook("WHID", body)
	f := map[string]string{"auth_algo": h.Get("Paypal-Auth-Algo"), "cert_url": h.Get("Paypal-Cert-Url"),
		"transmission_id": h.Get("Paypal-Transmission-Id"), "transmission_sig": h.Get("Paypal-Transmission-Sig"),
		"transmission_time": h.Get("Paypal-Transmission-Time"), "webhook_id": "WHID"}
	_, answer := paypalVerifyCall(t, srv.URL, token, f, body)
	assert.Equal(t, "SUCCESS", answer["verification_status"])
	_, answer = paypalVerifyCall(t, srv.URL, token, f, bytes.ReplaceAll(body, []byte("  "), []byte(" ")))
	assert.Equal(t, "FAILURE", answer["verification_status"], "the CRC-32 is of the event's bytes as sent")

	api.SetFault(Lie)
	_, answer = paypalVerifyCall(t, srv.URL, token, f, body)
	assert.Equal(t, "FAILURE", answer["verification_status"])
	api.SetFault(Unknown)
	_, answer = paypalVerifyCall(t, srv.URL, token, f, body)
	assert.Equal(t, "FAILURE", answer["verification_status"])
	api.SetFault(ErrorCode)
	status, answer := paypalVerifyCall(t, srv.URL, token, f, body)
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Equal(t, "VALIDATION_ERROR", answer["name"])
	api.SetFault(None)
	assert.Equal(t, 5, api.Calls("paypal_verify"))
}

func TestPayPalStandinChecksCredentials(t *testing.T) {
	api := New()
	srv := httptest.NewServer(api)
	defer srv.Close()
	api.SetPayPalClient("app", "app-secret")
	status, _ := paypalToken(t, srv.URL, "app", "guess")
	assert.Equal(t, http.StatusUnauthorized, status)
	status, _ = paypalToken(t, srv.URL, "other", "app-secret")
	assert.Equal(t, http.StatusUnauthorized, status)

	res, err := http.PostForm(srv.URL+"/paypal/v1/oauth2/token", url.Values{"grant_type": {"client_credentials"}})
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, res.StatusCode, "no Basic auth")

	api.SetPayPalTokenLifetime(time.Second)
	status, token := paypalToken(t, srv.URL, "app", "app-secret")
	require.Equal(t, http.StatusOK, status)
	f := map[string]string{"auth_algo": "x", "cert_url": "x", "transmission_id": "x", "transmission_sig": "x",
		"transmission_time": "x", "webhook_id": "x"}
	status, _ = paypalVerifyCall(t, srv.URL, token, f, []byte(`{}`))
	assert.Equal(t, http.StatusOK, status)
	status, answer := paypalVerifyCall(t, srv.URL, "not-issued", f, []byte(`{}`))
	assert.Equal(t, http.StatusUnauthorized, status)
	assert.Equal(t, "invalid_token", answer["error"])
	api.RevokePayPalTokens()
	status, _ = paypalVerifyCall(t, srv.URL, token, f, []byte(`{}`))
	assert.Equal(t, http.StatusUnauthorized, status, "revoked")
	_, token = paypalToken(t, srv.URL, "app", "app-secret")
	time.Sleep(1100 * time.Millisecond)
	status, _ = paypalVerifyCall(t, srv.URL, token, f, []byte(`{}`))
	assert.Equal(t, http.StatusUnauthorized, status, "expired")
}
