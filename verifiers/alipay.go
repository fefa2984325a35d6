package verifiers

import (
	"context"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"
	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/simplifiedchinese"
)

func init() {
	caddy.RegisterModule(Alipay{})
}

// Alipay verifies Alipay's (支付宝) asynchronous notifications (异步通知): a
// form POST whose sign field is the base64 SHA256withRSA signature (sign_type
// RSA2), made with Alipay's private key, of the other non-empty parameters
// except sign_type, sorted by name, written k=v and joined by &, the values
// percent-decoded, in the charset the charset field names. The notification
// must be for one of the merchant's apps (app_id).
type Alipay struct {
	// PublicKeys are Alipay's public keys (支付宝公钥, not the app's own
	// key): PEM, or base64 DER on one line as Alipay's console shows it.
	// Each is tried in turn, so that a key can be rotated.
	PublicKeys []string `json:"public_keys,omitempty"`
	// AppIDs are the merchant's Alipay app ids: a notification whose app_id
	// is none of them is refused with 403, even with a valid signature.
	AppIDs []string `json:"app_ids,omitempty"`

	keys   []PublicKey
	appIDs []string
}

// CaddyModule returns the Caddy module information.
func (Alipay) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: Namespace + ".alipay", New: func() caddy.Module { return new(Alipay) }}
}

// Options implements Provider.
func (v *Alipay) Options() []Option {
	return []Option{
		ListOption("public_key", "<key> [<key>...]",
			"Alipay's public key (支付宝公钥, not the app's): PEM, base64 DER as the console shows it, or {file.*}; several are tried in turn (rotation)",
			&v.PublicKeys),
		ListOption("app_id", "<app-id> [<app-id>...]",
			"the merchant's Alipay app id(s): a notification for another app is refused; {env.*} and {file.*} work", &v.AppIDs),
	}
}

// CheckConfig implements Provider.
func (v *Alipay) CheckConfig() error {
	if len(v.PublicKeys) == 0 {
		return &OptionError{Option: "public_key", Msg: `required for provider "alipay" (Alipay's public key, shown in Alipay's console beside the app's signing settings)`}
	}
	if len(v.AppIDs) == 0 {
		return &OptionError{Option: "app_id", Msg: `required for provider "alipay" (the merchant's app id, e.g. 2021000000000000)`}
	}
	for _, list := range []struct {
		option string
		values []string
	}{{"public_key", v.PublicKeys}, {"app_id", v.AppIDs}} {
		if slices.Contains(list.values, "") {
			return &OptionError{Option: list.option, Msg: "empty (is the {env.*} or {file.*} placeholder set?)"}
		}
	}
	return nil
}

// About implements Provider.
func (v *Alipay) About() About {
	return About{Scheme: "form field sign: base64 SHA256withRSA (sign_type RSA2) with Alipay's public key over the other non-empty fields except sign_type, sorted, k=v joined by &, in the form's charset; app_id must be a configured app"}
}

// Provision implements caddy.Provisioner.
func (v *Alipay) Provision(ctx caddy.Context) error {
	if err := v.CheckConfig(); err != nil {
		return err
	}
	now := time.Now()
	v.keys = make([]PublicKey, len(v.PublicKeys))
	for i, text := range v.PublicKeys {
		pk, err := ParsePublicKey("public_key", text)
		if err != nil {
			return err
		}
		if warning := pk.ExpiredWarning(now); warning != "" {
			ctx.Logger().Warn("public_key: "+warning, zap.String("provider", "alipay"), zap.Int("public_key", i+1))
		}
		v.keys[i] = pk
	}
	v.appIDs = make([]string, len(v.AppIDs))
	for i, id := range v.AppIDs {
		resolved, err := InquiryCredential("app_id", id, true)
		if err != nil {
			return err
		}
		if !isDigits(resolved) {
			return &OptionError{Option: "app_id", Msg: "an Alipay app id is a number such as 2021000000000000"}
		}
		if strings.HasPrefix(resolved, "2088") {
			return &OptionError{Option: "app_id", Msg: "2088… is a merchant's PID (partner id, seller_id), not an app id: give the APPID of the app (2021…), shown in Alipay's open platform console"}
		}
		v.appIDs[i] = resolved
	}
	return nil
}

// Provider implements Verifier.
func (v *Alipay) Provider() string { return "alipay" }

// Methods implements Verifier.
func (v *Alipay) Methods() []string { return []string{http.MethodPost} }

// ACK implements Verifier: the body must be exactly "success"; anything
// else makes Alipay resend (8 times within 25 hours).
func (v *Alipay) ACK() ACK {
	return ACK{Status: http.StatusOK, ContentType: "text/plain; charset=utf-8", Body: "success"}
}

// alipayFields are documented notification fields, which a query
// parameter may not shadow even when the body does not carry them.
var alipayFields = map[string]bool{
	"notify_time": true, "notify_type": true, "notify_id": true, "app_id": true, "auth_app_id": true,
	"charset": true, "version": true, "sign_type": true, "sign": true, "trade_no": true, "out_trade_no": true,
	"out_biz_no": true, "buyer_id": true, "buyer_logon_id": true, "seller_id": true, "seller_email": true,
	"trade_status": true, "total_amount": true, "receipt_amount": true, "invoice_amount": true,
	"buyer_pay_amount": true, "point_amount": true, "refund_fee": true, "subject": true, "body": true,
	"gmt_create": true, "gmt_payment": true, "gmt_refund": true, "gmt_close": true, "fund_bill_list": true,
	"passback_params": true, "trans_currency": true, "settle_currency": true, "settle_amount": true,
}

// Verify implements Verifier.
func (v *Alipay) Verify(_ context.Context, r *Request) ([]Event, error) {
	if r.Method != http.MethodPost {
		return nil, fmt.Errorf("%w: %s", ErrMethod, r.Method)
	}
	gb, err := checkAlipayContentType(r.Header.Get("Content-Type"))
	if err != nil {
		return nil, err
	}
	form, err := parseAlipayForm(r.Body)
	if err != nil {
		return nil, err
	}
	// A GB charset in the header over a UTF-8 form: an app whose
	// framework decodes by the header (a servlet, ASP.NET) reads other text
	// than the signed one.
	if enc, _ := alipayCharset(form.fields.Get("charset")); gb && enc == nil {
		return nil, fmt.Errorf("%w: the Content-Type header declares a GB charset, the signed charset field says utf-8", ErrMalformed)
	}
	if err := v.checkSign(form, r.ReceivedAt); err != nil {
		return nil, err
	}
	if err := refuseShadowingForm(r.RawQuery, form.fields, alipayFields); err != nil {
		return nil, err
	}
	if appID := form.fields.Get("app_id"); !slices.Contains(v.appIDs, appID) {
		return nil, fmt.Errorf("%w: app_id is none of the configured app ids (a notification of another Alipay app)", ErrForbidden)
	}
	e, err := v.normalize(form.fields, r)
	if err != nil {
		return nil, err
	}
	return []Event{e}, nil
}

// checkAlipayContentType refuses a body that is not a form. Beside the
// charsets every form may declare, Alipay's GB ones are allowed: they read
// every ASCII byte that delimits a form (& = % +) as itself and never as
// the second byte of a character.
// gb says whether it declares one of those.
func checkAlipayContentType(contentType string) (gb bool, err error) {
	if contentType == FormType {
		return false, nil
	}
	if mediaType, params, err := mime.ParseMediaType(contentType); err == nil && mediaType == FormType {
		if enc, ok := alipayCharset(params["charset"]); ok && enc != nil {
			return true, nil
		}
	}
	return false, CheckContentType(contentType, FormType)
}

// alipayCharset is the encoding of a charset Alipay sends (utf-8, the
// default, is nil: the bytes are the text), and whether it is one.
func alipayCharset(name string) (encoding.Encoding, bool) {
	switch strings.ToLower(name) {
	case "", "utf-8", "utf8":
		return nil, true
	case "gbk", "gb2312": // GB2312 is a subset of GBK
		return simplifiedchinese.GBK, true
	case "gb18030":
		return simplifiedchinese.GB18030, true
	}
	return nil, false
}

// alipayForm is a notification's form, read twice: as Alipay signed it
// (the names and values percent-decoded, bytes in the form's charset) and
// as the event reads it (the same in UTF-8).
type alipayForm struct {
	raw    formFields
	fields formFields
}

// parseAlipayForm reads a notification body, whose values are
// percent-encoded in the charset its charset field names (utf-8 when there
// is none), into its signed bytes and its fields in UTF-8, checked as every
// form is (parseURLEncoded). A name or value that is not text in the
// charset, or that does not encode back to the same bytes, is refused: the
// app would read another text than the signed one.
func parseAlipayForm(body []byte) (alipayForm, error) {
	// Most notifications are in UTF-8: then the bytes are the text, and
	// one strict parse reads both.
	if fields, err := parseFormFields("form field", string(body)); err == nil {
		if enc, ok := alipayCharset(fields.Get("charset")); ok && enc == nil {
			return alipayForm{raw: fields, fields: fields}, nil
		}
	}
	raw, err := readRawForm(body)
	if err != nil {
		return alipayForm{}, err
	}
	charset := ""
	if cs, once := raw.Value("charset"); once {
		charset = cs
	}
	enc, ok := alipayCharset(charset)
	if !ok {
		return alipayForm{}, fmt.Errorf("%w: field charset names an encoding Alipay does not send (utf-8, gbk, gb2312, gb18030)", ErrMalformed)
	}
	if charset == "" {
		charset = "utf-8"
	}
	decode := func(s string) (string, bool) { return s, utf8.ValidString(s) }
	if enc != nil {
		dec, reenc := enc.NewDecoder(), enc.NewEncoder()
		decode = func(s string) (string, bool) {
			out, err := dec.String(s)
			if err != nil || !utf8.ValidString(out) {
				return "", false
			}
			// An invalid byte decodes to U+FFFD without an error.
			back, err := reenc.String(out)
			return out, err == nil && back == s
		}
	}
	// Decoding maps distinct names to distinct names (it encodes back),
	// so raw holds one value per name once decodeForm has checked.
	fields, err := decodeForm(raw, charset, decode)
	if err != nil {
		return alipayForm{}, err
	}
	return alipayForm{raw: raw.sorted(), fields: fields}, nil
}

// alipaySignContent is what Alipay signs: the parameters except sign and
// sign_type, sorted by name, written k=v (decoded, not escaped) and joined
// by &; with withEmpty false, the parameters with an empty value are left
// out.
func alipaySignContent(raw formFields, withEmpty bool) []byte {
	size := 0
	for _, p := range raw {
		size += len(p.name) + len(p.value) + 2
	}
	content := make([]byte, 0, size)
	for _, p := range raw { // sorted by name
		if p.name == "sign" || p.name == "sign_type" || !withEmpty && p.value == "" {
			continue
		}
		if len(content) > 0 {
			content = append(content, '&')
		}
		content = append(append(append(content, p.name...), '='), p.value...)
	}
	return content
}

// checkSign checks sign_type and sign.
func (v *Alipay) checkSign(form alipayForm, now time.Time) error {
	switch form.fields.Get("sign_type") {
	case "RSA2", "": // sign_type is not signed: the check is RSA2 either way
	case "RSA":
		return fmt.Errorf("%w: sign_type RSA (SHA1withRSA) is not accepted: switch the app's signing method (接口加签方式) to RSA2 in Alipay's console", ErrSignature)
	default:
		return fmt.Errorf("%w: sign_type is not RSA2", ErrSignature)
	}
	sign := form.fields.Get("sign")
	if sign == "" {
		return fmt.Errorf("%w: no sign field", ErrSignature)
	}
	if name, ok := regroupable(form.raw); ok {
		return fmt.Errorf("%w: field %.40q: its name holds a byte other than a letter, a digit or _, or its value holds &<name>= with a name that sorts before the next field's: the signed text k=v&k=v… then reads the same as another form (fields split or merged), so it cannot tell which fields Alipay signed", ErrSignature, name)
	}
	// Alipay's SDKs (Java rsaCheckV1, Node checkNotifySign) verify over
	// every parameter, an empty one as k=: a genuine notification with an
	// empty parameter has it signed. One that verifies only without its
	// empty parameters had them added by someone else; the event would
	// read them as absent, but an app given the original reads
	// isset($_POST['refund_fee']) as a refund.
	if hasEmptyValue(form.raw) {
		if v.verifies(alipaySignContent(form.raw, true), sign, now) {
			return nil
		}
		if v.verifies(alipaySignContent(form.raw, false), sign, now) {
			return fmt.Errorf("%w: an empty parameter that Alipay did not sign was added (Alipay's SDKs verify empty parameters as k=)", ErrSignature)
		}
	} else if v.verifies(alipaySignContent(form.raw, false), sign, now) {
		return nil
	}
	return fmt.Errorf("%w: sign matches none of the %d configured public keys (or the notification was changed)%s", ErrSignature, len(v.keys), v.expiredNote(now))
}

// regroupable returns the name of a field whose value or name lets the
// signed text k=v&k=v… be read as another form. Alipay does not escape & or
// = in it, so a form whose name holds "&" or "=", or whose value holds
// "&x=" with x sorting between that field's name and the next one's, has
// the same signed text as a form where that field is two, or where two of
// Alipay's fields are merged into one. Merging is how a captured refund
// loses its refund_fee (another "succeeded" payment) or its gmt_refund and
// out_biz_no (the same refund under a new event id). Alipay's names are
// letters, digits and _; a value such as passback_params "uid=1&shop=2"
// is refused only when a split would keep the sort order, which Alipay's
// own fields never allow.
func regroupable(raw formFields) (string, bool) {
	for _, p := range raw {
		if !isParamName(p.name) {
			return p.name, true
		}
	}
	var stack [64]formField
	signed := stack[:0] // sorted, as raw is
	for _, p := range raw {
		// The empty ones are out of the text PRODUCT.md signs: the gap to
		// the next name is then the widest.
		if p.value != "" && p.name != "sign" && p.name != "sign_type" {
			signed = append(signed, p)
		}
	}
	for i, p := range signed {
		name := p.name
		next := ""
		if i+1 < len(signed) {
			next = signed[i+1].name
		}
		for rest := p.value; ; {
			amp := strings.IndexByte(rest, '&')
			if amp < 0 {
				break
			}
			rest = rest[amp+1:]
			n := 0
			for n < len(rest) && isParamNameByte(rest[n]) {
				n++
			}
			if x := rest[:n]; n > 0 && n < len(rest) && rest[n] == '=' && x > name && (next == "" || x < next) {
				return name, true
			}
		}
	}
	return "", false
}

// isParamName reports whether name is made of the bytes of Alipay's
// parameter names.
func isParamName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		if !isParamNameByte(name[i]) {
			return false
		}
	}
	return true
}

func isParamNameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
}

// hasEmptyValue reports whether a parameter of raw has an empty value.
func hasEmptyValue(raw formFields) bool {
	for _, p := range raw {
		if p.value == "" && p.name != "sign" && p.name != "sign_type" {
			return true
		}
	}
	return false
}

// verifies reports whether sign is the signature of content under one of
// the public keys.
func (v *Alipay) verifies(content []byte, sign string, now time.Time) bool {
	for _, key := range v.keys {
		// A certificate that has expired is no longer Alipay's.
		if !key.Expired(now) && VerifySHA256RSA(key.Key, content, sign) {
			return true
		}
	}
	return false
}

// expiredNote says how many of the keys are certificates that have expired
// at now, for the reason of a refusal.
func (v *Alipay) expiredNote(now time.Time) string {
	n := 0
	for _, key := range v.keys {
		if key.Expired(now) {
			n++
		}
	}
	if n == 0 {
		return ""
	}
	return fmt.Sprintf("; %d of them are certificates that have expired and are not used", n)
}

// chinaStandardTime is Alipay's and WeChat Pay's clock: UTC+8, no
// daylight saving time.
var chinaStandardTime = time.FixedZone("CST", 8*3600)

// parseAlipayTime reads "2024-05-01 18:20:28" (gmt_refund may add
// milliseconds) in China Standard Time; the zero time when it is not in
// that form.
func parseAlipayTime(s string) time.Time {
	t, err := time.ParseInLocation(alipayTimeLayout, s, chinaStandardTime)
	if err != nil {
		return time.Time{}
	}
	return t.UTC()
}

// alipayStatuses maps trade_status; other values are StatusUnknown.
// TRADE_CLOSED and TRADE_SUCCESS with a refund_fee are refunds (normalize).
var alipayStatuses = map[string]Status{
	"TRADE_SUCCESS":  StatusSucceeded,
	"TRADE_FINISHED": StatusSucceeded,
	"WAIT_BUYER_PAY": StatusPending,
	"TRADE_CLOSED":   StatusCancelled,
}

func (v *Alipay) normalize(fields formFields, r *Request) (Event, error) {
	f := fields.Get
	for _, name := range []string{"trade_no", "trade_status"} {
		if f(name) == "" {
			return Event{}, fmt.Errorf("%w: mandatory field %s is missing", ErrMalformed, name)
		}
	}
	e := NewEvent(v.Provider(), r)
	e.ProviderStatus = f("trade_status")
	e.Status = alipayStatuses[e.ProviderStatus]
	if e.Status == "" {
		e.Status = StatusUnknown
	}
	refunded := false
	if fee := f("refund_fee"); fee != "" {
		d, err := parseDecimal(fee)
		if err != nil {
			return Event{}, fmt.Errorf("%w: refund_fee is not an unsigned decimal number", ErrMalformed)
		}
		refunded = d.IsPositive()
	}
	// A refund is notified as TRADE_CLOSED (all of it refunded) or, for a
	// part of it, as TRADE_SUCCESS with refund_fee (the total refunded):
	// not a second payment. TRADE_FINISHED only says that the trade can no
	// longer be refunded.
	if refunded && (e.ProviderStatus == "TRADE_CLOSED" || e.ProviderStatus == "TRADE_SUCCESS") {
		e.Status = StatusRefunded
	}
	// Alipay's id of the trade, its status and the refund it reports: the
	// payment, each partial refund and the closing are events of their
	// own. notify_id, unchanged across resends, is not signed apart from
	// the rest and says nothing more. An empty field is an absent one.
	e.ID = EventID(e.Provider, f("trade_no"), f("trade_status"), f("refund_fee"), f("gmt_refund"), f("out_biz_no"))
	e.TransactionID = f("trade_no")
	e.OrderID = f("out_trade_no")
	if e.OrderID == "" && e.Status != StatusUnknown {
		return Event{}, fmt.Errorf("%w: mandatory field out_trade_no is missing", ErrMalformed)
	}
	e.MerchantID = f("seller_id")
	currency := f("trans_currency")
	if currency == "" {
		currency = "CNY"
	}
	var err error
	if e.Status == StatusRefunded {
		err = SetAmount(&e, "refund_fee", f("refund_fee"), currency, MajorUnits)
	} else {
		err = SetAmount(&e, "total_amount", f("total_amount"), currency, MajorUnits)
	}
	if err != nil {
		return Event{}, err
	}
	occurred := ""
	switch e.Status {
	case StatusSucceeded:
		occurred = "gmt_payment"
	case StatusRefunded:
		occurred = "gmt_refund"
	case StatusCancelled:
		occurred = "gmt_close"
	}
	if e.OccurredAt = parseAlipayTime(f(occurred)); e.OccurredAt.IsZero() {
		e.OccurredAt = parseAlipayTime(f("notify_time"))
	}
	// buyer_logon_id is the buyer's Alipay login, masked: an e-mail
	// address (xud***@126.com) or a phone number (159****5620).
	if login := f("buyer_logon_id"); strings.Contains(login, "@") {
		e.Customer = NewCustomer("", login, "", "")
	} else {
		e.Customer = NewCustomer("", "", login, "")
	}
	// The fields, in UTF-8, without the empty ones.
	e.Raw = marshalFields(fields, func(_, value string) bool { return value != "" }, nil)
	return e, nil
}

// alipayTimeLayout is how Alipay writes its times, in China Standard Time.
const alipayTimeLayout = time.DateTime

// Example implements Signer: a paid trade of the first configured app; its
// trade_no (and so its event id) is new at every call.
func (v *Alipay) Example(order string, now time.Time) map[string]any {
	appID := "2021000000000000"
	if len(v.appIDs) > 0 {
		appID = v.appIDs[0]
	}
	cst := now.In(chinaStandardTime)
	return map[string]any{
		"notify_time": cst.Format(alipayTimeLayout), "notify_type": "trade_status_sync",
		"notify_id": fmt.Sprintf("%x", now.UnixNano()), "app_id": appID, "auth_app_id": appID,
		"charset": "utf-8", "version": "1.0", "trade_no": cst.Format("20060102") + fmt.Sprintf("2200%016d", now.UnixNano()%1e16), "out_trade_no": order,
		"trade_status": "TRADE_SUCCESS", "total_amount": "88.88", "receipt_amount": "88.88",
		"invoice_amount": "88.88", "buyer_pay_amount": "88.88", "point_amount": "0.00",
		"gmt_create": cst.Add(-5 * time.Second).Format(alipayTimeLayout), "gmt_payment": cst.Add(-time.Second).Format(alipayTimeLayout),
		"buyer_id": "2088102534368455", "buyer_logon_id": "buy***@example.com", "seller_id": "2088531891668739",
		"subject":        "Test order " + order,
		"fund_bill_list": `[{"amount":"88.88","fundChannel":"ALIPAYACCOUNT"}]`,
	}
}

// Sign implements Signer: the form as Alipay posts it, in the charset its
// charset field names, signed with d.PrivateKey (sign_type RSA2).
func (v *Alipay) Sign(d Draft) (Notification, error) {
	if d.PrivateKey == nil {
		return Notification{}, errors.New("--private-key is required to sign alipay notifications")
	}
	if !slices.ContainsFunc(v.keys, func(k PublicKey) bool { return SamePublicKey(d.PrivateKey, k.Key) }) {
		return Notification{}, errors.New("--private-key is not the private half of a configured public_key")
	}
	f, err := FlatFields(d.Fields)
	if err != nil {
		return Notification{}, err
	}
	enc, ok := alipayCharset(f["charset"])
	if !ok {
		return Notification{}, fmt.Errorf("field charset: %q is not a charset Alipay sends (utf-8, gbk, gb2312, gb18030)", f["charset"])
	}
	raw := make(map[string]string, len(f)+2)
	for k, s := range f {
		if enc != nil {
			if s, err = enc.NewEncoder().String(s); err != nil {
				return Notification{}, fmt.Errorf("field %s: not text in %s: %v", k, f["charset"], err)
			}
		}
		raw[k] = s
	}
	delete(raw, "sign")
	if raw["sign_type"] == "" {
		raw["sign_type"] = "RSA2"
	}
	if raw["sign"], err = SignSHA256RSA(d.PrivateKey, alipaySignContent(fieldsOf(raw), false)); err != nil {
		return Notification{}, err
	}
	// EncodeForm escapes byte by byte: GBK text stays GBK.
	return newNotification(d.Path, FormType, []byte(EncodeForm(raw))), nil
}
