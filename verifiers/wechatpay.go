package verifiers

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"go.uber.org/zap"
)

func init() {
	caddy.RegisterModule(Wechatpay{})
}

// WechatpayTolerance is the WeChat Pay SDK's own (consts.FiveMinute).
const WechatpayTolerance = 5 * time.Minute

// The constants of WeChat Pay API v3 notifications.
const (
	wechatpaySignatureType = "WECHATPAY2-SHA256-RSA2048"
	wechatpayAlgorithm     = "AEAD_AES_256_GCM"
	wechatpayResourceType  = "encrypt-resource"
	wechatpayKeyIDPrefix   = "PUB_KEY_ID_"
	// WechatpayAPIv3KeySize is the length of an APIv3 key: 32 ASCII
	// characters, used as the bytes of an AES-256 key.
	WechatpayAPIv3KeySize = 32
	wechatpayNonceSize    = 12 // resource.nonce, the GCM nonce
)

// Wechatpay verifies WeChat Pay API v3 notifications (微信支付 回调通知): a
// JSON POST whose Wechatpay-Signature header is the SHA256withRSA signature
// of "<Wechatpay-Timestamp>\n<Wechatpay-Nonce>\n<body>\n" under the platform
// key that Wechatpay-Serial names, and whose resource is encrypted with
// AES-256-GCM under the merchant's APIv3 key. The event is built from the
// decrypted resource (a transaction, a refund), which is the event's raw.
type Wechatpay struct {
	// PublicKeys are WeChat Pay's platform keys, by serial: the serial of
	// a platform certificate (hex) or a WeChat Pay public key id
	// (PUB_KEY_ID_…). Several are kept while a key is rotated.
	PublicKeys []WechatpayPublicKey `json:"public_keys,omitempty"`
	// APIv3Key is the merchant's APIv3 key (32 characters), which the
	// resource is encrypted with. {env.*} and {file.*} work.
	APIv3Key string `json:"apiv3_key,omitempty"`
	// Tolerance is how far Wechatpay-Timestamp may be from the clock, in
	// either direction. Default 5m, the SDK's.
	Tolerance caddy.Duration `json:"tolerance,omitempty"`

	keys map[string]PublicKey // by wechatpaySerial
	aead cipher.AEAD          // AES-GCM under the APIv3 key
}

// WechatpayPublicKey is one public_key option: a serial and the key (or
// certificate) it names.
type WechatpayPublicKey struct {
	Serial string `json:"serial"`
	Key    string `json:"key"`
}

// CaddyModule returns the Caddy module information.
func (Wechatpay) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: Namespace + ".wechatpay", New: func() caddy.Module { return new(Wechatpay) }}
}

// Options implements Provider.
func (v *Wechatpay) Options() []Option {
	return []Option{
		{
			Name: "public_key", Args: "<serial> <key>", Repeatable: true,
			Doc: "a WeChat Pay platform key: the serial WeChat Pay sends in Wechatpay-Serial (a platform certificate's hex serial, or a PUB_KEY_ID_… public key id) " +
				"and the public key or certificate (PEM or one-line base64 DER; {file.*} and {env.*} work); several for a rotation",
			Parse: func(d *caddyfile.Dispenser) error {
				var k WechatpayPublicKey
				if !d.Args(&k.Serial, &k.Key) {
					return d.Errf("public_key needs a serial and a key")
				}
				v.PublicKeys = append(v.PublicKeys, k)
				return nil
			},
		},
		StringOption("apiv3_key", "<key>", "the merchant's APIv3 key (32 characters), which decrypts the resource; {env.*} and {file.*} work", &v.APIv3Key),
		DurationOption("tolerance", "how far Wechatpay-Timestamp may be from the clock, in either direction (default 5m)", &v.Tolerance),
	}
}

// CheckConfig implements Provider.
func (v *Wechatpay) CheckConfig() error {
	if v.Tolerance < 0 {
		return &OptionError{Option: "tolerance", Msg: "negative"}
	}
	if len(v.PublicKeys) == 0 {
		return &OptionError{Option: "public_key", Msg: `required for provider "wechatpay" (the serial and the WeChat Pay platform key or certificate)`}
	}
	seen := map[string]bool{}
	for _, k := range v.PublicKeys {
		serial, ok := wechatpaySerial(k.Serial)
		if !ok && strings.Contains(k.Serial, "{") {
			return &OptionError{Option: "public_key", Msg: "a serial is written literally (a placeholder is not resolved there): the id WeChat Pay shows for the key, PUB_KEY_ID_… or the certificate's hex serial"}
		}
		if !ok {
			// Not quoted: a key written where the serial goes.
			return &OptionError{Option: "public_key", Msg: "a serial is neither a certificate serial (hex) nor a public key id (PUB_KEY_ID_…); the serial comes first, then the key"}
		}
		if seen[serial] {
			return &OptionError{Option: "public_key", Msg: fmt.Sprintf("serial %s given twice", k.Serial)}
		}
		seen[serial] = true
		if k.Key == "" {
			return &OptionError{Option: "public_key", Msg: fmt.Sprintf("serial %s has no key", k.Serial)}
		}
	}
	if v.APIv3Key == "" {
		return &OptionError{Option: "apiv3_key", Msg: `required for provider "wechatpay" (the merchant's APIv3 key, which decrypts the resource)`}
	}
	if !strings.Contains(v.APIv3Key, "{") && len(v.APIv3Key) != WechatpayAPIv3KeySize {
		return wechatpayKeySizeError(len(v.APIv3Key))
	}
	return nil
}

func wechatpayKeySizeError(n int) error {
	return &OptionError{Option: "apiv3_key", Msg: fmt.Sprintf("%d bytes; an APIv3 key is %d characters (set in the merchant platform, 账户中心 > API安全)", n, WechatpayAPIv3KeySize)}
}

// wechatpaySerial is the form serials are compared in: a certificate
// serial (hex) upper-cased without leading zeros (WeChat Pay writes it byte
// by byte, 0A1B…; an operator may copy it from elsewhere as A1B…), a public
// key id as it is written. ok is false for what is neither.
func wechatpaySerial(s string) (string, bool) {
	if id, found := strings.CutPrefix(s, wechatpayKeyIDPrefix); found {
		return s, isAlnum(id, 1, 64)
	}
	if s == "" || len(s) > 64 {
		return "", false
	}
	for i := 0; i < len(s); i++ {
		if _, ok := fromHexChar(s[i]); !ok {
			return "", false
		}
	}
	if trimmed := strings.TrimLeft(s, "0"); trimmed != "" {
		s = trimmed
	} else {
		s = "0"
	}
	return strings.ToUpper(s), true
}

// About implements Provider.
func (v *Wechatpay) About() About {
	return About{Scheme: `Wechatpay-Signature header: base64 SHA256withRSA of "<Wechatpay-Timestamp>\n<Wechatpay-Nonce>\n<body>\n" under the public_key of the Wechatpay-Serial header; ` +
		"timestamp within tolerance; resource decrypted with AEAD_AES_256_GCM under apiv3_key"}
}

// Provision implements caddy.Provisioner.
func (v *Wechatpay) Provision(ctx caddy.Context) error {
	if err := v.CheckConfig(); err != nil {
		return err
	}
	if v.Tolerance == 0 {
		v.Tolerance = caddy.Duration(WechatpayTolerance)
	}
	now := time.Now()
	v.keys = make(map[string]PublicKey, len(v.PublicKeys))
	for _, k := range v.PublicKeys {
		serial, _ := wechatpaySerial(k.Serial)
		pk, err := ParsePublicKey("public_key", k.Key)
		if err != nil {
			var oe *OptionError
			if errors.As(err, &oe) {
				return &OptionError{Option: oe.Option, Msg: "serial " + k.Serial + ": " + oe.Msg}
			}
			return err
		}
		if pk.Cert != nil && !wechatpayCertSerial(serial, pk.Cert.SerialNumber) {
			// Byte by byte, as WeChat Pay writes it in Wechatpay-Serial.
			return &OptionError{Option: "public_key", Msg: fmt.Sprintf("serial %s: the certificate's serial is %X; a key given with another key's serial would never verify",
				k.Serial, pk.Cert.SerialNumber.Bytes())}
		}
		if warning := pk.ExpiredWarning(now); warning != "" {
			ctx.Logger().Warn("public_key "+k.Serial+": "+warning, zap.String("provider", "wechatpay"))
		}
		v.keys[serial] = pk
	}
	key, err := ResolveSecret(v.APIv3Key)
	if err != nil {
		return &OptionError{Option: "apiv3_key", Msg: err.Error()}
	}
	if len(key) != WechatpayAPIv3KeySize {
		return wechatpayKeySizeError(len(key))
	}
	v.aead, err = wechatpayAEAD([]byte(key))
	return err
}

// wechatpayCertSerial reports whether the configured serial (hex) is the
// certificate's.
func wechatpayCertSerial(serial string, certSerial *big.Int) bool {
	n, ok := new(big.Int).SetString(serial, 16)
	return ok && certSerial != nil && n.Cmp(certSerial) == 0
}

// wechatpayAEAD is AES-GCM under key: AES-256 for an APIv3 key.
func wechatpayAEAD(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, &OptionError{Option: "apiv3_key", Msg: fmt.Sprintf("%d bytes is not an AES key size", len(key))}
	}
	return cipher.NewGCM(block)
}

// Provider implements Verifier.
func (v *Wechatpay) Provider() string { return "wechatpay" }

// CredentialHeaders implements CredentialHeaderer.
func (v *Wechatpay) CredentialHeaders() []string {
	return []string{"Wechatpay-Signature", "Wechatpay-Timestamp", "Wechatpay-Nonce", "Wechatpay-Serial", "Wechatpay-Signature-Type"}
}

// Methods implements Verifier.
func (v *Wechatpay) Methods() []string { return []string{http.MethodPost} }

// ACK implements Verifier: 200 or 204 without a body is success (an error
// is 4xx/5xx with {"code":"FAIL",…}).
func (v *Wechatpay) ACK() ACK { return ACK{Status: http.StatusNoContent} }

// wechatpayNotification is the envelope WeChat Pay posts, as
// readWechatpayNotification reads it.
type wechatpayNotification struct {
	ID           string // id: the notification id, e.g. EV-2018022511223320873
	CreateTime   string // create_time
	EventType    string // event_type: TRANSACTION.SUCCESS, REFUND.SUCCESS, …
	ResourceType string // resource_type
	Resource     *wechatpayResource
}

// wechatpayResource is the encrypted resource.
type wechatpayResource struct {
	Algorithm      string // algorithm
	Ciphertext     string // ciphertext: base64 of the ciphertext and the 16-byte tag
	Nonce          string // nonce: 12 characters, used as the GCM nonce bytes
	AssociatedData string // associated_data
	OriginalType   string // original_type: transaction, refund, payscore, …
}

// readWechatpayNotification reads the envelope as encoding/json read it
// into a struct: a member of the wrong JSON type is refused (ErrMalformed),
// a resource that is null is none.
func readWechatpayNotification(root jsonValue) (wechatpayNotification, error) {
	var f docFields
	n := wechatpayNotification{
		ID:           f.str(root, "id", "id"),
		CreateTime:   f.str(root, "create_time", "create_time"),
		EventType:    f.str(root, "event_type", "event_type"),
		ResourceType: f.str(root, "resource_type", "resource_type"),
	}
	f.str(root, "summary", "summary")
	if res := f.obj(root, "resource", "resource"); res.Exists() {
		n.Resource = &wechatpayResource{
			Algorithm:      f.str(res, "algorithm", "resource.algorithm"),
			Ciphertext:     f.str(res, "ciphertext", "resource.ciphertext"),
			Nonce:          f.str(res, "nonce", "resource.nonce"),
			AssociatedData: f.str(res, "associated_data", "resource.associated_data"),
			OriginalType:   f.str(res, "original_type", "resource.original_type"),
		}
	}
	return n, f.err
}

// wechatpayFields are the top-level members of a notification; a query
// parameter may not shadow them.
var wechatpayFields = map[string]bool{
	"id": true, "create_time": true, "event_type": true, "resource_type": true, "summary": true, "resource": true,
}

// Verify implements Verifier.
func (v *Wechatpay) Verify(_ context.Context, r *Request) ([]Event, error) {
	return v.verify(r, func() error { return v.authenticate(r) })
}

// verify is Verify with the signature check given: FuzzWechatpayAsReference
// passes none, for an RSA signature of each input would slow the fuzzer a
// thousandfold.
func (v *Wechatpay) verify(r *Request, authenticate func() error) ([]Event, error) {
	d, err := checkSignedJSONDoc(r, authenticate, wechatpayFields)
	if err != nil {
		return nil, err
	}
	defer d.release()
	n, err := readWechatpayNotification(d.root())
	if err != nil {
		return nil, err
	}
	for _, m := range []struct{ name, value string }{
		{"id", n.ID}, {"create_time", n.CreateTime}, {"event_type", n.EventType}, {"resource_type", n.ResourceType},
	} {
		if m.value == "" {
			return nil, fmt.Errorf("%w: mandatory field %s is missing", ErrMalformed, m.name)
		}
	}
	if n.ResourceType != wechatpayResourceType {
		return nil, fmt.Errorf("%w: resource_type is not %s", ErrMalformed, wechatpayResourceType)
	}
	if n.Resource == nil {
		return nil, fmt.Errorf("%w: mandatory field resource is missing", ErrMalformed)
	}
	if n.Resource.OriginalType == "" {
		return nil, fmt.Errorf("%w: mandatory field resource.original_type is missing", ErrMalformed)
	}
	if n.Resource.Algorithm != wechatpayAlgorithm {
		return nil, fmt.Errorf("%w: resource.algorithm is not %s", ErrSignature, wechatpayAlgorithm)
	}
	plaintext, err := wechatpayOpen(v.aead, n.Resource.Nonce, n.Resource.Ciphertext, n.Resource.AssociatedData)
	if err != nil {
		return nil, err
	}
	pd, err := readJSONDoc(plaintext) // a buffer of its own, which the event's strings may keep
	if err != nil {
		return nil, fmt.Errorf("decrypted resource: %w", err)
	}
	defer pd.release()
	e, err := v.normalize(&n, pd.root(), r)
	if err != nil {
		return nil, err
	}
	return []Event{e}, nil
}

// authenticate checks the four Wechatpay-* headers and the signature over
// the raw body.
func (v *Wechatpay) authenticate(r *Request) error {
	var values [4]string
	for i, name := range [...]string{"Wechatpay-Timestamp", "Wechatpay-Nonce", "Wechatpay-Signature", "Wechatpay-Serial"} {
		value, err := oneValue(r.Header[name], name, ErrSignature)
		if err != nil {
			return err
		}
		values[i] = value
	}
	ts, nonce, sig, serial := values[0], values[1], values[2], values[3]
	if types := r.Header["Wechatpay-Signature-Type"]; len(types) > 1 || len(types) == 1 && types[0] != wechatpaySignatureType {
		return fmt.Errorf("%w: Wechatpay-Signature-Type header is not %s", ErrSignature, wechatpaySignatureType)
	}
	// The nonce ends at the first newline of the signed message: one with
	// a newline of its own would let its tail pass for the body's head.
	if strings.ContainsAny(nonce, "\r\n") {
		return fmt.Errorf("%w: Wechatpay-Nonce header has a line break", ErrSignature)
	}
	key, ok := v.key(serial)
	if !ok {
		// A well-formed serial is a public identifier, hex or
		// PUB_KEY_ID_ and letters and digits: named, so that the operator
		// knows which key WeChat Pay moved to.
		if normal, wellFormed := wechatpaySerial(serial); wellFormed {
			return fmt.Errorf("%w: Wechatpay-Serial header names %s, which is no configured public_key (a new platform key? add it with its serial)", ErrSignature, normal)
		}
		return fmt.Errorf("%w: Wechatpay-Serial header is neither a certificate serial nor a public key id", ErrSignature)
	}
	if key.Expired(r.ReceivedAt) {
		return fmt.Errorf("%w: Wechatpay-Serial header names a platform certificate that expired on %s", ErrSignature, key.Cert.NotAfter.UTC().Format(time.DateOnly))
	}
	if err := CheckTimestamp("Wechatpay-Timestamp header", ts, r.ReceivedAt, time.Duration(v.Tolerance)); err != nil {
		return err
	}
	msg := make([]byte, 0, len(ts)+len(nonce)+len(r.Body)+3)
	msg = append(append(append(append(append(append(msg, ts...), '\n'), nonce...), '\n'), r.Body...), '\n')
	if !VerifySHA256RSA(key.Key, msg, sig) {
		return fmt.Errorf("%w: Wechatpay-Signature header does not verify under the public_key of the serial (WeChat Pay sends probes signed wrongly on purpose)", ErrSignature)
	}
	return nil
}

// key is the configured public key of a Wechatpay-Serial value.
func (v *Wechatpay) key(serial string) (PublicKey, bool) {
	normal, ok := wechatpaySerial(serial)
	if !ok {
		return PublicKey{}, false
	}
	pk, ok := v.keys[normal]
	return pk, ok
}

// WechatpayDecrypt opens a resource with the APIv3 key given as bytes:
// AES-GCM (AES-256 for a 32-byte APIv3 key), the nonce and the associated
// data as the bytes of their text, the ciphertext base64 with the 16-byte
// tag at its end. The errors wrap ErrSignature: a resource that does not
// open was not encrypted for this merchant, or was changed.
func WechatpayDecrypt(key []byte, nonce, ciphertext, associatedData string) ([]byte, error) {
	aead, err := wechatpayAEAD(key)
	if err != nil {
		return nil, err
	}
	return wechatpayOpen(aead, nonce, ciphertext, associatedData)
}

func wechatpayOpen(aead cipher.AEAD, nonce, ciphertext, associatedData string) ([]byte, error) {
	if len(nonce) != aead.NonceSize() {
		return nil, fmt.Errorf("%w: resource.nonce is not %d bytes", ErrSignature, aead.NonceSize())
	}
	sealed := make([]byte, base64.StdEncoding.DecodedLen(len(ciphertext)))
	n, err := base64.StdEncoding.Strict().Decode(sealed, []byte(ciphertext))
	if err != nil {
		return nil, fmt.Errorf("%w: resource.ciphertext is not base64", ErrSignature)
	}
	if n < aead.Overhead() {
		return nil, fmt.Errorf("%w: resource.ciphertext is shorter than its tag", ErrSignature)
	}
	plaintext, err := aead.Open(sealed[:0], []byte(nonce), sealed[:n], []byte(associatedData))
	if err != nil {
		return nil, fmt.Errorf("%w: resource does not decrypt under apiv3_key (another merchant's key, or the ciphertext, nonce or associated_data changed)", ErrSignature)
	}
	return plaintext, nil
}

// wechatpayPlaintext is what the app acts on of a decrypted transaction or
// refund, as readWechatpayPlaintext reads it. Amounts are read raw, so that
// a number of any size is checked by SetAmount.
type wechatpayPlaintext struct {
	Mchid string // mchid
	// combine_out_trade_no: a combined payment's (合单支付); its sub_orders
	// carry the states.
	CombineOutTradeNo string
	OutTradeNo        string // out_trade_no
	TransactionID     string // transaction_id
	TradeState        string // trade_state
	TradeStateDesc    string // trade_state_desc
	TradeType         string // trade_type
	SuccessTime       string // success_time
	RefundStatus      string // refund_status: a refund's
	// amount.total (fen), amount.refund (fen, a refund's): absent when not
	// sent (null is sent).
	Total, Refund jsonValue
	Currency      string // amount.currency
}

// readWechatpayPlaintext reads a decrypted transaction or refund (what, in
// the refusals) as encoding/json read it into a struct: a member of the
// wrong JSON type is refused (ErrMalformed).
func readWechatpayPlaintext(root jsonValue, what string) (wechatpayPlaintext, error) {
	f := docFields{in: what}
	p := wechatpayPlaintext{
		Mchid:             f.str(root, "mchid", "mchid"),
		CombineOutTradeNo: f.str(root, "combine_out_trade_no", "combine_out_trade_no"),
		OutTradeNo:        f.str(root, "out_trade_no", "out_trade_no"),
		TransactionID:     f.str(root, "transaction_id", "transaction_id"),
		TradeState:        f.str(root, "trade_state", "trade_state"),
		TradeStateDesc:    f.str(root, "trade_state_desc", "trade_state_desc"),
		TradeType:         f.str(root, "trade_type", "trade_type"),
		SuccessTime:       f.str(root, "success_time", "success_time"),
		RefundStatus:      f.str(root, "refund_status", "refund_status"),
	}
	amount := f.obj(root, "amount", "amount")
	p.Total, p.Refund = amount.Get("total"), amount.Get("refund")
	p.Currency = f.str(amount, "currency", "amount.currency")
	return p, f.err
}

// wechatpayStatuses maps a transaction's trade_state; others are
// StatusUnknown.
var wechatpayStatuses = map[string]Status{
	"SUCCESS":    StatusSucceeded,
	"REFUND":     StatusRefunded,
	"NOTPAY":     StatusPending,
	"USERPAYING": StatusPending,
	"CLOSED":     StatusCancelled,
	"REVOKED":    StatusCancelled,
	"PAYERROR":   StatusFailed,
}

// wechatpayCurrency is the currency of an amount without one: a mainland
// merchant is paid in CNY only, and the SDK's models leave currency
// optional.
const wechatpayCurrency = "CNY"

func (v *Wechatpay) normalize(n *wechatpayNotification, plaintext jsonValue, r *Request) (Event, error) {
	e := NewEvent(v.Provider(), r)
	e.ID = n.ID                     // WeChat Pay's notification id, covered by the signature
	e.Raw = compactValue(plaintext) // the decrypted resource, compacted
	var err error
	created := ParseTime(n.CreateTime, time.RFC3339Nano)
	var p wechatpayPlaintext
	var amountField, amount string
	switch n.Resource.OriginalType {
	case "transaction":
		if p, err = readWechatpayPlaintext(plaintext, "decrypted transaction"); err != nil {
			return Event{}, err
		}
		if p.TradeState == "" && p.CombineOutTradeNo != "" {
			// A combined payment: one notification for several orders,
			// each sub_order with its own trade_state and amount. The app
			// reads them in raw.
			e.Status = StatusUnknown
			e.ProviderStatus = n.EventType
			e.OrderID = p.CombineOutTradeNo
			e.OccurredAt = created
			return e, nil
		}
		if p.TradeState == "" {
			return Event{}, fmt.Errorf("%w: mandatory field trade_state of the transaction is missing", ErrMalformed)
		}
		e.ProviderStatus = p.TradeState
		e.Status = wechatpayStatuses[p.TradeState]
		e.Reason = p.TradeStateDesc
		e.PaymentMethod = p.TradeType
		amountField, amount = "amount.total", p.Total.Number()
		if p.Total.Exists() && amount == "" {
			return Event{}, fmt.Errorf("%w: amount.total of the transaction is not a number", ErrMalformed)
		}
	case "refund":
		if p, err = readWechatpayPlaintext(plaintext, "decrypted refund"); err != nil {
			return Event{}, err
		}
		if p.RefundStatus == "" {
			return Event{}, fmt.Errorf("%w: mandatory field refund_status of the refund is missing", ErrMalformed)
		}
		// SUCCESS: the money went back. ABNORMAL (the refund is stuck, the
		// merchant must act) and CLOSED (no refund was made) say nothing
		// of the payment, which stays paid: unknown, not failed.
		e.ProviderStatus = p.RefundStatus
		if p.RefundStatus == "SUCCESS" {
			e.Status = StatusRefunded
		}
		amountField, amount = "amount.refund", p.Refund.Number()
		if p.Refund.Exists() && amount == "" {
			return Event{}, fmt.Errorf("%w: amount.refund of the refund is not a number", ErrMalformed)
		}
	default:
		// payscore and the other products: forwarded for the app to read
		// in raw, without an order.
		e.Status = StatusUnknown
		e.ProviderStatus = n.EventType
		e.OccurredAt = created
		return e, nil
	}
	if e.Status == "" {
		e.Status = StatusUnknown
	}
	if p.OutTradeNo == "" && e.Status != StatusUnknown {
		return Event{}, fmt.Errorf("%w: no order reference at out_trade_no of the %s", ErrMalformed, n.Resource.OriginalType)
	}
	e.OrderID = p.OutTradeNo
	e.TransactionID = p.TransactionID
	e.MerchantID = p.Mchid
	e.OccurredAt = ParseTime(p.SuccessTime, time.RFC3339Nano)
	if e.OccurredAt.IsZero() {
		e.OccurredAt = created
	}
	currency := strings.ToUpper(p.Currency)
	if currency == "" {
		currency = wechatpayCurrency
	}
	if err := SetAmount(&e, amountField, amount, currency, MinorUnits); err != nil {
		return Event{}, err
	}
	return e, nil
}

// Example implements Signer: the decrypted transaction of a successful
// payment. Sign encrypts it into a notification.
func (v *Wechatpay) Example(order string, now time.Time) map[string]any {
	return map[string]any{
		"mchid": "1900000109", "appid": "wxd678efh567hg6787", "out_trade_no": order,
		"transaction_id": fmt.Sprintf("42000%023d", now.Unix()),
		"trade_type":     "JSAPI", "trade_state": "SUCCESS", "trade_state_desc": "支付成功", "bank_type": "OTHERS",
		"attach": "", "success_time": now.In(chinaStandardTime).Format(time.RFC3339),
		"payer":  map[string]any{"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
		"amount": map[string]any{"total": json.Number("1050"), "payer_total": json.Number("1050"), "currency": "CNY", "payer_currency": "CNY"},
	}
}

// Sign implements Signer: d.Fields (a transaction, or a refund when they
// have refund_status) encrypted with apiv3_key, the notification signed
// with d.PrivateKey under the serial of the public_key it is the private
// half of, at d.Now.
func (v *Wechatpay) Sign(d Draft) (Notification, error) {
	if d.PrivateKey == nil {
		return Notification{}, errors.New("--private-key is required to sign wechatpay notifications")
	}
	serial := ""
	for _, k := range v.PublicKeys {
		if normal, ok := wechatpaySerial(k.Serial); ok && SamePublicKey(d.PrivateKey, v.keys[normal].Key) {
			serial = k.Serial
			break
		}
	}
	if serial == "" {
		return Notification{}, errors.New("--private-key is not the private half of a configured public_key")
	}
	if v.aead == nil {
		return Notification{}, &OptionError{Option: "apiv3_key", Msg: "required to sign (is the provider provisioned?)"}
	}
	// Amounts are integers in fen: --field amount.refund=500 on a field
	// the example does not have arrives as a string.
	if amount, ok := d.Fields["amount"].(map[string]any); ok {
		for k, a := range amount {
			if text, ok := a.(string); ok && isDigits(text) {
				amount[k] = json.Number(text)
			}
		}
	}
	plaintext, err := MarshalCompact(d.Fields)
	if err != nil {
		return Notification{}, err
	}
	originalType, eventType, summary := "transaction", "TRANSACTION.SUCCESS", "支付成功"
	if status, ok := d.Fields["refund_status"].(string); ok {
		originalType, eventType, summary = "refund", "REFUND."+status, "退款状态"
	} else if state, ok := d.Fields["trade_state"].(string); ok && state != "SUCCESS" {
		eventType, summary = "TRANSACTION."+state, "交易状态"
	}
	nonce := randomAlnum(wechatpayNonceSize)
	sealed := v.aead.Seal(nil, []byte(nonce), plaintext, []byte(originalType))
	sum := sha256.Sum256(plaintext)
	id := hex.EncodeToString(sum[:16])
	body, err := MarshalCompact(map[string]any{
		"id":          id[:8] + "-" + id[8:12] + "-" + id[12:16] + "-" + id[16:20] + "-" + id[20:],
		"create_time": d.Now.In(chinaStandardTime).Format(time.RFC3339), "resource_type": wechatpayResourceType,
		"event_type": eventType, "summary": summary,
		"resource": map[string]any{
			"original_type": originalType, "algorithm": wechatpayAlgorithm, "associated_data": originalType,
			"nonce": nonce, "ciphertext": base64.StdEncoding.EncodeToString(sealed),
		},
	})
	if err != nil {
		return Notification{}, err
	}
	ts, headerNonce := strconv.FormatInt(d.Now.Unix(), 10), randomAlnum(32)
	sig, err := SignSHA256RSA(d.PrivateKey, []byte(ts+"\n"+headerNonce+"\n"+string(body)+"\n"))
	if err != nil {
		return Notification{}, err
	}
	n := newNotification(d.Path, JSONType, body)
	n.Header.Set("Wechatpay-Timestamp", ts)
	n.Header.Set("Wechatpay-Nonce", headerNonce)
	n.Header.Set("Wechatpay-Serial", serial)
	n.Header.Set("Wechatpay-Signature", sig)
	n.Header.Set("Wechatpay-Signature-Type", wechatpaySignatureType)
	return n, nil
}

// randomAlnum is n random ASCII letters and digits.
func randomAlnum(n int) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)] // a slight bias is no harm in a nonce
	}
	return string(b)
}

// Interface guards.
var (
	_ Provider           = (*Wechatpay)(nil)
	_ Signer             = (*Wechatpay)(nil)
	_ CredentialHeaderer = (*Wechatpay)(nil)
)
