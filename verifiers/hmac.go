package verifiers

import (
	"cmp"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"hash"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

func init() {
	caddy.RegisterModule(HMAC{})
}

// HMAC verifies the notifications of a sender paynotify does not ship, as
// configured: one header carries an HMAC (SHA-256, SHA-1 or SHA-512; hex or
// base64; after an optional prefix such as sha256=) over a template of the
// body, request headers and the request URL, optionally with a signed
// timestamp header checked against a tolerance. The field mapping says
// where the event's members are in a JSON body.
type HMAC struct {
	// Secrets are the sender's signing secrets, used as their own bytes.
	Secrets Secrets `json:"secrets,omitempty"`
	// Header is the request header that carries the signature (required).
	Header string `json:"header,omitempty"`
	// Algorithm is sha256 (the default), sha1 or sha512.
	Algorithm string `json:"algorithm,omitempty"`
	// Encoding is how the signature is written: hex (the default, either
	// case) or base64 (standard, padded).
	Encoding string `json:"encoding,omitempty"`
	// Prefix is text the header value starts with before the signature,
	// such as sha256=; it must be there.
	Prefix string `json:"prefix,omitempty"`
	// Signed is the template of the signed bytes; default {body}. See
	// parseTemplate for its placeholders.
	Signed string `json:"signed,omitempty"`
	// TimestampHeader is a header holding the send time in Unix seconds,
	// which must be in Signed and within Tolerance of the clock.
	TimestampHeader string `json:"timestamp_header,omitempty"`
	// Tolerance is how far TimestampHeader may be from the clock, either
	// way; default 5m.
	Tolerance caddy.Duration `json:"tolerance,omitempty"`
	Mapping

	macs      *HMACKeys
	template  []templatePart
	signsURL  bool
	tolerance time.Duration
}

// templatePart is a piece of the signed bytes: literal text, the body, the
// request URL or a header's value.
type templatePart struct {
	kind   byte // 'l' literal, 'b' body, 'u' URL, 'h' header
	text   string
	header string // canonical
}

// hmacMaxHeaderValue bounds a header value that is signed.
const hmacMaxHeaderValue = 4096

// CaddyModule returns the Caddy module information.
func (HMAC) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: Namespace + ".hmac", New: func() caddy.Module { return new(HMAC) }}
}

// Options implements Provider.
func (v *HMAC) Options() []Option {
	return append([]Option{
		v.Secrets.Option("the sender's signing secret, used as its own bytes"),
		StringOption("header", "<Header-Name>", "the request header that carries the signature (required)", &v.Header),
		StringOption("algorithm", "sha256 | sha1 | sha512", "the HMAC's hash, default sha256", &v.Algorithm),
		StringOption("encoding", "hex | base64", "how the signature is written, default hex (either case)", &v.Encoding),
		StringOption("prefix", "<text>", "text before the signature in the header, such as sha256=; it must be there", &v.Prefix),
		StringOption("signed", "<template>", "what is signed, default {body}; placeholders {body}, {header.<Name>}, {url} (the URL as received: scheme, Host, path and query); other text is literal", &v.Signed),
		{
			Name: "timestamp", Args: "<Header-Name> [<tolerance>]",
			Doc: "a signed header holding the send time in Unix seconds, which must be within tolerance (default 5m) of this server's clock, either way",
			Parse: func(d *caddyfile.Dispenser) error {
				args := d.RemainingArgs()
				if len(args) < 1 || len(args) > 2 {
					return d.Errf("timestamp takes a header name and an optional tolerance such as 5m")
				}
				v.TimestampHeader = args[0]
				if len(args) == 2 {
					t, err := caddy.ParseDuration(args[1])
					if err != nil || t <= 0 {
						return d.Errf("timestamp: %q is not a positive duration such as 5m", args[1])
					}
					v.Tolerance = caddy.Duration(t)
				}
				return nil
			},
		},
	}, v.Mapping.Options()...)
}

// hmacHashes are the algorithms, by name.
var hmacHashes = map[string]func() hash.Hash{"sha256": sha256.New, "sha1": sha1.New, "sha512": sha512.New}

// CheckConfig implements Provider.
func (v *HMAC) CheckConfig() error {
	if err := v.Secrets.Check("hmac", "the sender's signing secret"); err != nil {
		return err
	}
	if v.Header == "" {
		return &OptionError{Option: "header", Msg: `required for provider "hmac": the request header that carries the signature`}
	}
	if !validHeaderName(v.Header) {
		return &OptionError{Option: "header", Msg: fmt.Sprintf("%q is not a header name", v.Header)}
	}
	if _, ok := hmacHashes[v.algorithm()]; !ok {
		return &OptionError{Option: "algorithm", Msg: fmt.Sprintf("%q is not sha256, sha1 or sha512", v.Algorithm)}
	}
	switch v.Encoding {
	case "", "hex", "base64":
	default:
		return &OptionError{Option: "encoding", Msg: fmt.Sprintf("%q is not hex or base64", v.Encoding)}
	}
	parts, err := parseTemplate(v.signed())
	if err != nil {
		return &OptionError{Option: "signed", Msg: err.Error()}
	}
	signsHeader := func(name string) bool {
		for _, p := range parts {
			if p.kind == 'h' && p.header == http.CanonicalHeaderKey(name) {
				return true
			}
		}
		return false
	}
	if signsHeader(v.Header) {
		return &OptionError{Option: "signed", Msg: fmt.Sprintf("signs header %s, which carries the signature", v.Header)}
	}
	if v.TimestampHeader != "" {
		if !validHeaderName(v.TimestampHeader) {
			return &OptionError{Option: "timestamp", Msg: fmt.Sprintf("%q is not a header name", v.TimestampHeader)}
		}
		if !signsHeader(v.TimestampHeader) {
			// Unsigned, anyone could set it: it would protect nothing.
			return &OptionError{Option: "timestamp", Msg: fmt.Sprintf("header %s is not signed: add {header.%s} to signed", v.TimestampHeader, v.TimestampHeader)}
		}
	} else if v.Tolerance != 0 {
		return &OptionError{Option: "timestamp", Msg: "a tolerance needs a timestamp header"}
	}
	if v.Tolerance < 0 {
		return &OptionError{Option: "timestamp", Msg: "the tolerance must be positive"}
	}
	if strings.EqualFold(strings.TrimPrefix(v.EventID, "header:"), v.Header) && strings.HasPrefix(v.EventID, "header:") {
		return &OptionError{Option: "event_id", Msg: "the signature header is not an event id"}
	}
	return v.Mapping.Check()
}

func (v *HMAC) algorithm() string {
	if v.Algorithm == "" {
		return "sha256"
	}
	return v.Algorithm
}

func (v *HMAC) signed() string {
	if v.Signed == "" {
		return "{body}"
	}
	return v.Signed
}

// parseTemplate reads a signed template: {body} is the raw body, {url} the
// URL the request was received at, {header.<Name>} (or Caddy's long form
// {http.request.header.<Name>}, which the Caddyfile turns the short one
// into) a request header's value; any other {...} is an error, and all
// other text is literal. The body must be in it.
func parseTemplate(s string) ([]templatePart, error) {
	var parts []templatePart
	literal := func(text string) {
		if text == "" {
			return
		}
		if n := len(parts); n > 0 && parts[n-1].kind == 'l' {
			parts[n-1].text += text
			return
		}
		parts = append(parts, templatePart{kind: 'l', text: text})
	}
	hasBody := false
	for s != "" {
		open := strings.IndexByte(s, '{')
		if open < 0 {
			literal(s)
			break
		}
		end := strings.IndexByte(s[open:], '}')
		if end < 0 {
			return nil, fmt.Errorf("an unclosed { in the template")
		}
		literal(s[:open])
		name := s[open+1 : open+end]
		s = s[open+end+1:]
		switch {
		case name == "body":
			parts = append(parts, templatePart{kind: 'b'})
			hasBody = true
		case name == "url":
			parts = append(parts, templatePart{kind: 'u'})
		case strings.HasPrefix(name, "header.") || strings.HasPrefix(name, "http.request.header."):
			header := strings.TrimPrefix(strings.TrimPrefix(name, "http.request"), ".")
			header = strings.TrimPrefix(header, "header.")
			if !validHeaderName(header) {
				return nil, fmt.Errorf("{%s}: %q is not a header name", name, header)
			}
			if http.CanonicalHeaderKey(header) == "Host" {
				// net/http keeps Host out of the header map; {url} has it.
				return nil, fmt.Errorf("{%s}: the Host header cannot be signed on its own; {url} includes it", name)
			}
			parts = append(parts, templatePart{kind: 'h', header: http.CanonicalHeaderKey(header)})
		default:
			return nil, fmt.Errorf("unknown placeholder {%s}: the placeholders are {body}, {url} and {header.<Name>}", name)
		}
	}
	if !hasBody {
		return nil, fmt.Errorf("the template must contain {body}: otherwise the body is not authenticated")
	}
	return parts, nil
}

// About implements Provider.
func (v *HMAC) About() About {
	return About{Scheme: "generic, as configured: the header option carries an HMAC (algorithm sha256, sha1 or sha512; encoding hex or base64; after prefix) over the signed template (default {body}), with an optional signed timestamp header within tolerance"}
}

// Provision implements caddy.Provisioner.
func (v *HMAC) Provision(caddy.Context) error {
	if err := v.CheckConfig(); err != nil {
		return err
	}
	var err error
	if v.macs, err = v.Secrets.HMAC(hmacHashes[v.algorithm()]); err != nil {
		return err
	}
	if v.template, err = parseTemplate(v.signed()); err != nil {
		return &OptionError{Option: "signed", Msg: err.Error()}
	}
	v.signsURL = false
	for _, p := range v.template {
		v.signsURL = v.signsURL || p.kind == 'u'
	}
	v.tolerance = 5 * time.Minute
	if v.Tolerance > 0 {
		v.tolerance = time.Duration(v.Tolerance)
	}
	return v.Mapping.prepare()
}

// signs says whether the template signs the header name.
func (v *HMAC) signs(name string) bool {
	for _, p := range v.template {
		if p.kind == 'h' && p.header == http.CanonicalHeaderKey(name) {
			return true
		}
	}
	return false
}

// Provider implements Verifier.
func (v *HMAC) Provider() string { return "hmac" }

// CredentialHeaders implements CredentialHeaderer.
func (v *HMAC) CredentialHeaders() []string { return []string{v.Header} }

// Methods implements Verifier.
func (v *HMAC) Methods() []string { return []string{http.MethodPost} }

// ACK implements Verifier: any 2xx.
func (v *HMAC) ACK() ACK { return ACK{Status: http.StatusOK} }

// Verify implements Verifier.
func (v *HMAC) Verify(ctx context.Context, r *Request) ([]Event, error) {
	if r.Method != http.MethodPost {
		return nil, fmt.Errorf("%w: %s", ErrMethod, r.Method)
	}
	value, err := oneValue(r.Header.Values(v.Header), v.Header, ErrSignature)
	if err != nil {
		return nil, err
	}
	value, ok := strings.CutPrefix(value, v.Prefix)
	if !ok {
		return nil, fmt.Errorf("%w: %s header does not start with the configured prefix", ErrSignature, v.Header)
	}
	var buf [sha512.Size + 2]byte // room for base64's last group
	mac, ok := decodeMAC(buf[:], value, v.macs.Size(), v.Encoding == "base64")
	if !ok {
		return nil, fmt.Errorf("%w: %s header is not a %s HMAC-%s", ErrSignature, v.Header, cmp.Or(v.Encoding, "hex"), strings.ToUpper(v.algorithm()))
	}
	var ts string
	if v.TimestampHeader != "" {
		if ts, err = oneValue(r.Header.Values(v.TimestampHeader), v.TimestampHeader, ErrSignature); err != nil {
			return nil, err
		}
		if len(ts) > 12 || !isDigits(ts) {
			return nil, fmt.Errorf("%w: %s header is not a Unix time in seconds", ErrSignature, v.TimestampHeader)
		}
	}
	signed, err := v.signedBytes(ctx, r.Header, r.Body)
	if err != nil {
		return nil, err
	}
	if !v.macs.Match(signed, mac) {
		return nil, fmt.Errorf("%w: %s header matches none of the %d configured secrets", ErrSignature, v.Header, v.macs.Secrets())
	}
	if v.TimestampHeader != "" {
		if CheckTimestamp("", ts, r.ReceivedAt, v.tolerance) != nil {
			// Again, naming the header: the name is only built for a refusal.
			return nil, CheckTimestamp(v.TimestampHeader+" header", ts, r.ReceivedAt, v.tolerance)
		}
	}

	raw, doc, err := genericBody(r, &v.Mapping, v.signsURL)
	if err != nil {
		return nil, err
	}
	if doc != nil {
		defer doc.release()
	}
	e := NewEvent(v.Provider(), r)
	e.Raw = raw
	if err := v.Mapping.apply(&e, doc, r.Header); err != nil {
		return nil, err
	}
	if e.ID == "" {
		// The body is the same on every retry (a timestamp header is
		// re-signed, not sent in it).
		e.ID = EventID("hmac", string(r.Body))
	} else if v.Mapping.idHeader != "" && !v.signs(v.Mapping.idHeader) {
		// The id header is not signed: a genuine body resent under another
		// id is the same event.
		e.ReplayKey = BodyReplayKey("hmac", r.Body)
	}
	return []Event{e}, nil
}

// signedBytes fills the template in for a request, or for a test
// notification (ctx then carries its URL).
func (v *HMAC) signedBytes(ctx context.Context, header http.Header, body []byte) ([]byte, error) {
	if len(v.template) == 1 && v.template[0].kind == 'b' {
		return body, nil // {body}: no copy
	}
	size := len(body)
	for _, p := range v.template {
		size += len(p.text)
	}
	signed := make([]byte, 0, size+64)
	for _, p := range v.template {
		switch p.kind {
		case 'l':
			signed = append(signed, p.text...)
		case 'b':
			signed = append(signed, body...)
		case 'u':
			u, ok := requestURL(ctx)
			if !ok {
				return nil, fmt.Errorf("%w: the request URL, which signed includes, is not known", ErrSignature)
			}
			signed = append(signed, u...)
		case 'h':
			value, err := oneValue(header.Values(p.header), p.header, ErrSignature)
			if err != nil {
				return nil, err
			}
			if len(value) > hmacMaxHeaderValue {
				return nil, fmt.Errorf("%w: %s header is over %d bytes", ErrSignature, p.header, hmacMaxHeaderValue)
			}
			signed = append(signed, value...)
		}
	}
	return signed, nil
}

// Example implements Signer.
func (v *HMAC) Example(order string, now time.Time) map[string]any {
	return v.Mapping.example(order, now)
}

// Sign implements Signer: the configured header, algorithm, encoding,
// prefix, template and timestamp; a header the template signs other than
// the timestamp gets an example value. A template with {url} signs
// Draft.URL.
func (v *HMAC) Sign(d Draft) (Notification, error) {
	if v.macs == nil || v.macs.Secrets() == 0 {
		return Notification{}, &OptionError{Option: "secret", Msg: "required to sign (is the provider provisioned?)"}
	}
	body, err := MarshalCompact(d.Fields)
	if err != nil {
		return Notification{}, err
	}
	n := newNotification(d.Path, JSONType, body)
	v.Mapping.signHeader(n.Header, body)
	for _, p := range v.template {
		if p.kind == 'h' && n.Header.Get(p.header) == "" {
			if p.header == http.CanonicalHeaderKey(v.TimestampHeader) {
				n.Header.Set(p.header, strconv.FormatInt(d.Now.Unix(), 10))
			} else {
				n.Header.Set(p.header, "example")
			}
		}
	}
	ctx := context.Background()
	if v.signsURL {
		if d.URL == "" {
			return Notification{}, &OptionError{Option: "signed", Msg: "signs {url}, and the URL the notification is sent to is not known"}
		}
		ctx = withRequestURL(ctx, d.URL)
	}
	signed, err := v.signedBytes(ctx, n.Header, body)
	if err != nil {
		return Notification{}, err
	}
	mac := v.macs.Sum(signed)
	sig := hex.EncodeToString(mac)
	if v.Encoding == "base64" {
		sig = base64.StdEncoding.EncodeToString(mac)
	}
	n.Header.Set(v.Header, v.Prefix+sig)
	return n, nil
}
