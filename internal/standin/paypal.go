package standin

// PayPal's REST webhooks API, as far as paynotify uses it: the OAuth token
// endpoint (client credentials) and verify-webhook-signature, which checks
// a transmission the way PayPal's SDKs do offline (Event.validateReceivedEvent
// in PayPal-Java-SDK): RSA PKCS#1 v1.5 over SHA-256 of
// transmission_id|transmission_time|webhook_id|crc32(event), the CRC-32
// (IEEE) of the event's bytes as received, written as an unsigned decimal,
// verified with the certificate PayPal serves at cert_url.
//
// The stand-in holds a key and a self-signed certificate of its own, served
// (in its registry) at PayPalCertURL, and signs test transmissions with
// them (SignPayPalWebhook); AddPayPalCert registers other certificates, such
// as the one of PayPal's official test vector.

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math/big"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// PayPalCertURL is where the stand-in's own certificate is "served": the
// cert_url of the transmissions SignPayPalWebhook signs.
const PayPalCertURL = "https://api.sandbox.paypal.com/v1/notifications/certs/CERT-standin"

// PayPalAuthAlgo is the only algorithm PayPal signs with.
const PayPalAuthAlgo = "SHA256withRSA"

// paypalTokenLifetime is what PayPal's tokens last (expires_in 32400).
const paypalTokenLifetime = 9 * time.Hour

type paypalState struct {
	mu       sync.Mutex
	clients  map[string]string    // client id → secret
	tokens   map[string]time.Time // access token → expiry
	lifetime time.Duration
	certs    map[string]*x509.Certificate // cert_url → certificate
	serial   int
}

func newPayPalState() *paypalState {
	return &paypalState{clients: map[string]string{}, tokens: map[string]time.Time{}, lifetime: paypalTokenLifetime,
		certs: map[string]*x509.Certificate{}}
}

func (a *API) paypal() *paypalState { return state(a, "paypal", newPayPalState) }

// The stand-in's signing key and certificate, made once per process: RSA
// key generation is slow.
var paypalSigner = sync.OnceValues(func() (*rsa.PrivateKey, *x509.Certificate) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "messageverificationcerts.sandbox.paypal.com", Organization: []string{"paynotify stand-in"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(10 * 365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		panic(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		panic(err)
	}
	return key, cert
})

// SetPayPalClient registers a REST app's client credentials: the token
// endpoint issues tokens for them only.
func (a *API) SetPayPalClient(id, secret string) {
	s := a.paypal()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clients[id] = secret
}

// SetPayPalTokenLifetime sets the expires_in of the tokens issued from now
// on (default 9 hours, as PayPal's); a token is refused once it is over.
func (a *API) SetPayPalTokenLifetime(d time.Duration) {
	s := a.paypal()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lifetime = d
}

// RevokePayPalTokens makes every token issued so far invalid, as a
// credential rotation or PayPal's early expiry does.
func (a *API) RevokePayPalTokens() {
	s := a.paypal()
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.tokens)
}

// AddPayPalCert registers the PEM certificate served at certURL.
func (a *API) AddPayPalCert(certURL string, certPEM []byte) error {
	block, _ := pem.Decode(certPEM)
	if block == nil || block.Type != "CERTIFICATE" {
		return errors.New("not a PEM certificate")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return err
	}
	if _, ok := cert.PublicKey.(*rsa.PublicKey); !ok {
		return errors.New("not an RSA certificate")
	}
	s := a.paypal()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.certs[certURL] = cert
	return nil
}

// SignPayPalWebhook signs body as PayPal does for the webhook webhookID,
// with the stand-in's key, and returns the five PAYPAL-* headers of the
// transmission (cert URL PayPalCertURL, time now).
func (a *API) SignPayPalWebhook(webhookID string, body []byte) http.Header {
	key, _ := paypalSigner()
	s := a.paypal()
	s.mu.Lock()
	s.serial++
	serial := s.serial
	s.mu.Unlock()
	var nonce [6]byte
	_, _ = rand.Read(nonce[:])
	id := fmt.Sprintf("%08x-%04x-11ef-%04x-%s", time.Now().Unix(), serial&0xffff, serial>>16&0xffff, hex.EncodeToString(nonce[:]))
	when := time.Now().UTC().Format(time.RFC3339)
	digest := sha256.Sum256([]byte(PayPalSignedString(id, when, webhookID, body)))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, digest[:])
	if err != nil {
		panic(err)
	}
	return http.Header{
		"Paypal-Transmission-Id":   {id},
		"Paypal-Transmission-Time": {when},
		"Paypal-Transmission-Sig":  {base64.StdEncoding.EncodeToString(sig)},
		"Paypal-Auth-Algo":         {PayPalAuthAlgo},
		"Paypal-Cert-Url":          {PayPalCertURL},
	}
}

// PayPalSignedString is what PayPal signs: the transmission id and time,
// the receiver's webhook id and the CRC-32 of the event's bytes as an
// unsigned decimal, joined by |.
func PayPalSignedString(transmissionID, transmissionTime, webhookID string, event []byte) string {
	return transmissionID + "|" + transmissionTime + "|" + webhookID + "|" + strconv.FormatUint(uint64(crc32.ChecksumIEEE(event)), 10)
}

func init() {
	routes = append(routes, func(a *API, mux *http.ServeMux) {
		mux.HandleFunc("POST /paypal/v1/oauth2/token", a.paypalToken)
		mux.HandleFunc("POST /paypal/v1/notifications/verify-webhook-signature", a.paypalVerify)
	})
}

// paypalJSON answers v as JSON with status.
func paypalJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Paypal-Debug-Id", "f2b1c3d4e5a6b")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// paypalError is PayPal's REST error object.
func paypalError(w http.ResponseWriter, status int, name, message string) {
	paypalJSON(w, status, map[string]any{"name": name, "message": message, "debug_id": "f2b1c3d4e5a6b",
		"information_link": "https://developer.paypal.com/docs/api/webhooks/#errors"})
}

// paypalToken is POST /v1/oauth2/token: HTTP Basic client_id:client_secret
// and grant_type=client_credentials.
func (a *API) paypalToken(w http.ResponseWriter, r *http.Request) {
	f := a.call("paypal_token")
	if a.misbehave(w, r, f) {
		return
	}
	if f == ErrorCode {
		paypalJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request", "error_description": "Request is malformed"})
		return
	}
	s := a.paypal()
	id, secret, ok := r.BasicAuth()
	s.mu.Lock()
	want, known := s.clients[id]
	s.mu.Unlock()
	if !ok || !known || secret != want {
		paypalJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_client", "error_description": "Client Authentication failed"})
		return
	}
	if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "client_credentials" {
		paypalJSON(w, http.StatusBadRequest, map[string]string{"error": "unsupported_grant_type", "error_description": "Grant Type is NULL"})
		return
	}
	var raw [24]byte
	_, _ = rand.Read(raw[:])
	token := "A21AA" + base64.RawURLEncoding.EncodeToString(raw[:])
	s.mu.Lock()
	lifetime := s.lifetime
	s.tokens[token] = time.Now().Add(lifetime)
	s.mu.Unlock()
	paypalJSON(w, http.StatusOK, map[string]any{
		"scope":        "https://uri.paypal.com/services/applications/webhooks",
		"access_token": token, "token_type": "Bearer", "app_id": "APP-80W284485P519543T",
		"expires_in": int(lifetime / time.Second), "nonce": time.Now().UTC().Format(time.RFC3339) + "standin",
	})
}

// paypalVerifyRequest is the body of verify-webhook-signature.
type paypalVerifyRequest struct {
	AuthAlgo         string          `json:"auth_algo"`
	CertURL          string          `json:"cert_url"`
	TransmissionID   string          `json:"transmission_id"`
	TransmissionSig  string          `json:"transmission_sig"`
	TransmissionTime string          `json:"transmission_time"`
	WebhookID        string          `json:"webhook_id"`
	WebhookEvent     json.RawMessage `json:"webhook_event"` // the event's bytes as sent
}

// paypalVerify is POST /v1/notifications/verify-webhook-signature.
func (a *API) paypalVerify(w http.ResponseWriter, r *http.Request) {
	f := a.call("paypal_verify")
	if a.misbehave(w, r, f) {
		return
	}
	s := a.paypal()
	token, bearer := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	s.mu.Lock()
	expiry, known := s.tokens[token]
	s.mu.Unlock()
	if !bearer || !known || time.Now().After(expiry) {
		paypalJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_token", "error_description": "Token signature verification failed"})
		return
	}
	if f == ErrorCode {
		paypalError(w, http.StatusBadRequest, "VALIDATION_ERROR", "Invalid request - see details")
		return
	}
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		paypalError(w, http.StatusUnsupportedMediaType, "UNSUPPORTED_MEDIA_TYPE", "The request payload is not supported")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	var req paypalVerifyRequest
	if err == nil {
		err = json.Unmarshal(body, &req)
	}
	if err != nil || req.AuthAlgo == "" || req.CertURL == "" || req.TransmissionID == "" || req.TransmissionSig == "" ||
		req.TransmissionTime == "" || req.WebhookID == "" || len(req.WebhookEvent) == 0 || req.WebhookEvent[0] != '{' {
		paypalError(w, http.StatusBadRequest, "VALIDATION_ERROR", "Invalid data provided")
		return
	}
	status := "SUCCESS"
	if !s.verify(&req) {
		status = "FAILURE"
	}
	switch f {
	case Lie: // the other answer
		status = map[string]string{"SUCCESS": "FAILURE", "FAILURE": "SUCCESS"}[status]
	case Unknown: // it cannot find the certificate or the webhook
		status = "FAILURE"
	}
	paypalJSON(w, http.StatusOK, map[string]string{"verification_status": status})
}

// verify checks the transmission's signature with the certificate of its
// cert_url.
func (s *paypalState) verify(req *paypalVerifyRequest) bool {
	s.mu.Lock()
	cert := s.certs[req.CertURL]
	s.mu.Unlock()
	if req.CertURL == PayPalCertURL {
		_, cert = paypalSigner()
	}
	if cert == nil || req.AuthAlgo != PayPalAuthAlgo {
		return false
	}
	sig, err := base64.StdEncoding.DecodeString(req.TransmissionSig)
	if err != nil {
		return false
	}
	digest := sha256.Sum256([]byte(PayPalSignedString(req.TransmissionID, req.TransmissionTime, req.WebhookID, req.WebhookEvent)))
	// The certificate's validity period is not checked: the official test
	// vector's certificate expired in 2019.
	return rsa.VerifyPKCS1v15(cert.PublicKey.(*rsa.PublicKey), crypto.SHA256, digest[:], sig) == nil
}
