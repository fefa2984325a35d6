package verifiers

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

func init() {
	caddy.RegisterModule(StandardWebhooks{})
}

// StandardWebhooks verifies notifications signed per the Standard Webhooks
// specification (standardwebhooks.com): Polar, Dodo Payments and every
// Svix-powered sender. The headers webhook-id, webhook-timestamp and
// webhook-signature (a space-separated list of "v1,<base64>") carry an
// HMAC-SHA256 over "<id>.<timestamp>.<body>"; any v1 signature that matches
// passes, and other versions (v1a, ed25519) are ignored. Svix' own header
// names, svix-id, svix-timestamp and svix-signature, are accepted as well.
// The payload is the sender's own: the field mapping says where the
// event's members are.
type StandardWebhooks struct {
	// Secrets are the endpoint's signing secrets, whsec_<base64>.
	Secrets Secrets `json:"secrets,omitempty"`
	// SecretEncoding is how a secret becomes the HMAC key: base64 (the
	// default, the spec's: the base64 after whsec_ decoded) or raw (the
	// secret's own bytes, as Polar signed before it followed the spec).
	SecretEncoding string `json:"secret_encoding,omitempty"`
	// Tolerance is how far webhook-timestamp may be from the clock, either
	// way; default 5m.
	Tolerance caddy.Duration `json:"tolerance,omitempty"`
	Mapping

	macs      *HMACKeys
	tolerance time.Duration
}

// The Standard Webhooks headers, and Svix' names for them.
var (
	swHeaders   = [3]string{"Webhook-Id", "Webhook-Timestamp", "Webhook-Signature"}
	svixHeaders = [3]string{"Svix-Id", "Svix-Timestamp", "Svix-Signature"}
)

// swMaxSignatures bounds the entries of webhook-signature: a sender lists
// one per active secret and scheme.
const swMaxSignatures = 16

// CaddyModule returns the Caddy module information.
func (StandardWebhooks) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: Namespace + ".standardwebhooks", New: func() caddy.Module { return new(StandardWebhooks) }}
}

// Options implements Provider.
func (v *StandardWebhooks) Options() []Option {
	return append([]Option{
		v.Secrets.Option("the endpoint's signing secret, whsec_<base64>"),
		{
			Name: "secret_encoding", Args: "base64 | raw",
			Doc: "how the secret becomes the HMAC key: base64, the base64 after whsec_ decoded (the spec's, the default), or raw, the secret's own bytes (Polar's former way)",
			Parse: func(d *caddyfile.Dispenser) error {
				return OneValue(d, &v.SecretEncoding)
			},
		},
		DurationOption("tolerance", "how far webhook-timestamp may be from this server's clock, either way (default 5m)", &v.Tolerance),
	}, v.Mapping.Options()...)
}

// CheckConfig implements Provider.
func (v *StandardWebhooks) CheckConfig() error {
	if err := v.Secrets.Check("standardwebhooks", "the endpoint's signing secret"); err != nil {
		return err
	}
	switch v.SecretEncoding {
	case "", "base64":
		for i, s := range v.Secrets {
			if strings.Contains(s, "{") {
				continue // a placeholder: checked at provision
			}
			if _, err := swKey(s); err != nil {
				return &OptionError{Option: "secret", Msg: fmt.Sprintf("secret %d %v", i+1, err)}
			}
		}
	case "raw":
	default:
		return &OptionError{Option: "secret_encoding", Msg: fmt.Sprintf("%q is not base64 or raw", v.SecretEncoding)}
	}
	if v.Tolerance < 0 {
		return &OptionError{Option: "tolerance", Msg: "must be positive"}
	}
	return v.Mapping.Check()
}

// swKey is the HMAC key of a whsec_ secret, as the spec's libraries make
// it. The error says nothing of the secret.
func swKey(secret string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil || len(key) == 0 {
		return nil, fmt.Errorf("is not whsec_ followed by standard base64 (for a sender that signs with the secret's own bytes, set secret_encoding raw)")
	}
	return key, nil
}

// About implements Provider.
func (v *StandardWebhooks) About() About {
	return About{Scheme: "Standard Webhooks: webhook-id, webhook-timestamp (within tolerance) and webhook-signature (v1,<base64> entries) headers, or their svix- names; base64 HMAC-SHA256 over <id>.<timestamp>.<body>, keyed with the base64 after whsec_ (secret_encoding raw: the secret's bytes)"}
}

// Provision implements caddy.Provisioner.
func (v *StandardWebhooks) Provision(caddy.Context) error {
	if err := v.CheckConfig(); err != nil {
		return err
	}
	secrets, err := v.Secrets.Keys()
	if err != nil {
		return err
	}
	if v.SecretEncoding != "raw" {
		for i, s := range secrets {
			if secrets[i], err = swKey(string(s)); err != nil {
				return &OptionError{Option: "secret", Msg: fmt.Sprintf("secret %d %v", i+1, err)}
			}
		}
	}
	v.macs = NewHMACKeys(sha256.New, secrets)
	v.tolerance = 5 * time.Minute
	if v.Tolerance > 0 {
		v.tolerance = time.Duration(v.Tolerance)
	}
	return v.Mapping.prepare()
}

// Provider implements Verifier.
func (v *StandardWebhooks) Provider() string { return "standardwebhooks" }

// CredentialHeaders implements CredentialHeaderer: the signature does not
// sign a normalized event.
func (v *StandardWebhooks) CredentialHeaders() []string {
	return []string{swHeaders[2], svixHeaders[2]}
}

// Methods implements Verifier.
func (v *StandardWebhooks) Methods() []string { return []string{http.MethodPost} }

// ACK implements Verifier: any 2xx.
func (v *StandardWebhooks) ACK() ACK { return ACK{Status: http.StatusOK} }

// swHeader returns the one value of the Standard Webhooks header i, under
// its own name or Svix'; the same header under both names must agree.
func swHeader(h http.Header, i int) (name, value string, err error) {
	name = swHeaders[i]
	var found []string
	for _, n := range [2]string{swHeaders[i], svixHeaders[i]} {
		values := h[n]
		if len(values) > 1 {
			return n, "", fmt.Errorf("%w: %s header given %d times", ErrSignature, n, len(values))
		}
		if len(values) == 1 {
			if len(found) == 0 {
				name = n
			}
			found = append(found, values[0])
		}
	}
	if len(found) == 2 && found[0] != found[1] {
		return name, "", fmt.Errorf("%w: %s and %s differ", ErrSignature, swHeaders[i], svixHeaders[i])
	}
	if len(found) == 0 || found[0] == "" {
		return name, "", fmt.Errorf("%w: no %s header", ErrSignature, swHeaders[i])
	}
	return name, found[0], nil
}

// Verify implements Verifier.
func (v *StandardWebhooks) Verify(_ context.Context, r *Request) ([]Event, error) {
	if r.Method != http.MethodPost {
		return nil, fmt.Errorf("%w: %s", ErrMethod, r.Method)
	}
	var names, values [3]string
	for i := range swHeaders {
		var err error
		if names[i], values[i], err = swHeader(r.Header, i); err != nil {
			return nil, err
		}
	}
	id, ts, sigHeader := values[0], values[1], values[2]
	// The spec: the id and the timestamp contain no '.', which separates
	// them in the signed content.
	if err := checkEventID(names[0]+" header", id, ErrSignature); err != nil {
		return nil, err
	}
	if strings.IndexByte(id, '.') >= 0 {
		return nil, fmt.Errorf("%w: %s header contains a '.'", ErrSignature, names[0])
	}
	if len(ts) > 12 || !isDigits(ts) {
		return nil, fmt.Errorf("%w: %s header is not a Unix time in seconds", ErrSignature, names[1])
	}
	sigs, err := swSignatures(names[2], sigHeader)
	if err != nil {
		return nil, err
	}
	signed := make([]byte, 0, len(id)+len(ts)+2+len(r.Body))
	signed = append(append(append(append(append(signed, id...), '.'), ts...), '.'), r.Body...)
	if !v.macs.Match(signed, sigs...) {
		return nil, fmt.Errorf("%w: no v1 signature of %s matches one of the %d configured secrets", ErrSignature, names[2], v.macs.Secrets())
	}
	if CheckTimestamp("", ts, r.ReceivedAt, v.tolerance) != nil {
		// Again, naming the header: the name is only built for a refusal.
		return nil, CheckTimestamp(names[1]+" header", ts, r.ReceivedAt, v.tolerance)
	}

	raw, doc, err := genericBody(r, &v.Mapping, false)
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
	// webhook-id is the sender's idempotency key, the same on every retry,
	// unless event_id says otherwise.
	if e.ID == "" {
		e.ID = id
	} else if e.ID != id {
		// An event_id other than webhook-id: unless it is in the body, it
		// is not signed. The signed webhook-id keeps a genuine notification
		// resent under another id a duplicate.
		e.ReplayKey = EventID("standardwebhooks", "webhook-id", id)
	}
	return []Event{e}, nil
}

// swSignatures decodes the v1 entries of a webhook-signature header; other
// versions are skipped. None is ErrSignature.
func swSignatures(name, header string) ([][]byte, error) {
	var sigs [][]byte
	entries := 0
	for entry := range strings.SplitSeq(header, " ") {
		if entry == "" {
			continue
		}
		if entries++; entries > swMaxSignatures {
			return nil, fmt.Errorf("%w: %s header has over %d entries", ErrSignature, name, swMaxSignatures)
		}
		version, sig, ok := strings.Cut(entry, ",")
		if !ok || version != "v1" {
			continue
		}
		// Strict: the text the sender's library compares is the canonical
		// encoding of the MAC.
		mac, err := base64.StdEncoding.Strict().DecodeString(sig)
		if err != nil || len(mac) != sha256.Size {
			continue
		}
		sigs = append(sigs, mac)
	}
	if len(sigs) == 0 {
		return nil, fmt.Errorf("%w: %s header has no v1 signature", ErrSignature, name)
	}
	return sigs, nil
}

// Example implements Signer.
func (v *StandardWebhooks) Example(order string, now time.Time) map[string]any {
	return v.Mapping.example(order, now)
}

// Sign implements Signer: webhook-id msg_<hash of the body>, the draft's
// time, one v1 signature with the first secret.
func (v *StandardWebhooks) Sign(d Draft) (Notification, error) {
	if v.macs == nil || v.macs.Secrets() == 0 {
		return Notification{}, &OptionError{Option: "secret", Msg: "required to sign (is the provider provisioned?)"}
	}
	body, err := MarshalCompact(d.Fields)
	if err != nil {
		return Notification{}, err
	}
	sum := sha256.Sum256(body)
	id := "msg_" + hex.EncodeToString(sum[:12])
	ts := strconv.FormatInt(d.Now.Unix(), 10)
	mac := v.macs.Sum([]byte(id + "." + ts + "." + string(body)))
	n := newNotification(d.Path, JSONType, body)
	n.Header.Set("webhook-id", id)
	n.Header.Set("webhook-timestamp", ts)
	n.Header.Set("webhook-signature", "v1,"+base64.StdEncoding.EncodeToString(mac))
	v.Mapping.signHeader(n.Header, body)
	return n, nil
}
