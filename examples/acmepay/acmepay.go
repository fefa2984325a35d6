// Package acmepay is an example paynotify provider written outside the
// paynotify packages: a Caddy module in the namespace
// http.handlers.paynotify.providers that uses only the exported API of
// package verifiers. Build it in with
//
//	xcaddy build --with github.com/paynotify/paynotify --with github.com/paynotify/paynotify/examples/acmepay
//
// (or a blank import next to paynotify's in your own cmd/caddy), and
// `paynotify acmepay { secret ... }` works in a Caddyfile, and
// `caddy paynotify providers` and `caddy paynotify sign acmepay` know it.
//
// AcmePay is invented. It signs like many providers do: the header
//
//	Acme-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">
//
// over a JSON body
//
//	{"id": "evt_...", "type": "payment.succeeded", "created": 1714558830,
//	 "data": {"payment_id": "pay_...", "order": "ORD-1", "amount": 1250, "currency": "EUR"}}
//
// with amounts in minor units, and expects a 200 with the body "received".
package acmepay

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/paynotify/paynotify/verifiers"
)

func init() {
	caddy.RegisterModule(AcmePay{})
}

// DefaultTolerance is how far the signed time may be from the clock.
const DefaultTolerance = 5 * time.Minute

// AcmePay verifies AcmePay notifications.
type AcmePay struct {
	// Secrets are the webhook signing secrets; several are tried (rotation).
	Secrets verifiers.Secrets `json:"secrets,omitempty"`
	// Tolerance is how far the signed time may be from the clock, in
	// either direction. Default 5m.
	Tolerance caddy.Duration `json:"tolerance,omitempty"`

	macs *verifiers.HMACKeys
}

// CaddyModule returns the Caddy module information.
func (AcmePay) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  verifiers.Namespace + ".acmepay",
		New: func() caddy.Module { return new(AcmePay) },
	}
}

// Options implements verifiers.Provider: the Caddyfile options.
func (p *AcmePay) Options() []verifiers.Option {
	return []verifiers.Option{
		p.Secrets.Option("the webhook signing secret"),
		verifiers.DurationOption("tolerance", "how far the signed time may be from the clock (default 5m)", &p.Tolerance),
	}
}

// CheckConfig implements verifiers.Provider.
func (p *AcmePay) CheckConfig() error {
	if p.Tolerance < 0 {
		return &verifiers.OptionError{Option: "tolerance", Msg: "negative"}
	}
	return p.Secrets.Check("acmepay", "the webhook signing secret")
}

// About implements verifiers.Provider.
func (p *AcmePay) About() verifiers.About {
	return verifiers.About{Scheme: `Acme-Signature header: t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">, t within tolerance`}
}

// Provision implements caddy.Provisioner.
func (p *AcmePay) Provision(caddy.Context) (err error) {
	if err := p.CheckConfig(); err != nil {
		return err
	}
	if p.Tolerance == 0 {
		p.Tolerance = caddy.Duration(DefaultTolerance)
	}
	p.macs, err = p.Secrets.HMAC(sha256.New)
	return err
}

// Provider implements verifiers.Verifier.
func (p *AcmePay) Provider() string { return "acmepay" }

// Methods implements verifiers.Verifier.
func (p *AcmePay) Methods() []string { return []string{http.MethodPost} }

// ACK implements verifiers.Verifier.
func (p *AcmePay) ACK() verifiers.ACK {
	return verifiers.ACK{Status: http.StatusOK, ContentType: "text/plain; charset=utf-8", Body: "received"}
}

// CredentialHeaders implements verifiers.CredentialHeaderer: the signature
// is not forwarded with a normalized event.
func (p *AcmePay) CredentialHeaders() []string { return []string{"Acme-Signature"} }

// notification is what Verify reads of the body.
type notification struct {
	ID      string `json:"id"`
	Type    string `json:"type"`
	Created int64  `json:"created"`
	Data    struct {
		PaymentID string      `json:"payment_id"`
		Order     string      `json:"order"`
		Amount    json.Number `json:"amount"`
		Currency  string      `json:"currency"`
	} `json:"data"`
}

// documented are the top-level members AcmePay sends.
var documented = map[string]bool{"id": true, "type": true, "created": true, "data": true}

var statuses = map[string]verifiers.Status{
	"payment.succeeded": verifiers.StatusSucceeded,
	"payment.failed":    verifiers.StatusFailed,
	"payment.refunded":  verifiers.StatusRefunded,
}

// checkSignature checks Acme-Signature: t within the tolerance, v1 the hex
// HMAC-SHA256 of "<t>.<body>".
func (p *AcmePay) checkSignature(r *verifiers.Request) error {
	t, sig, err := parseSignature(r.Header.Values("Acme-Signature"))
	if err != nil {
		return err
	}
	// The time first: it is signed, but checking it costs nothing, and a
	// stale notification is refused whatever its signature.
	if err := verifiers.CheckTimestamp("Acme-Signature t", t, r.ReceivedAt, time.Duration(p.Tolerance)); err != nil {
		return err
	}
	signed := make([]byte, 0, len(t)+1+len(r.Body))
	signed = append(append(append(signed, t...), '.'), r.Body...)
	return verifiers.CheckHexHMAC("Acme-Signature v1", sig, p.macs, signed)
}

// Verify implements verifiers.Verifier.
func (p *AcmePay) Verify(_ context.Context, r *verifiers.Request) ([]verifiers.Event, error) {
	// POST, JSON, then the signature, strict JSON (duplicate or case-folded
	// keys, bad UTF-8, too deep), and no unsigned query parameter that
	// could stand for a field: with forward original the app's web
	// framework would merge the query with the body (Rails' params: the
	// query over the body); one of the merchant's own (?token=...) passes.
	if err := verifiers.CheckSignedJSON(r, func() error { return p.checkSignature(r) }, documented); err != nil {
		return nil, err
	}
	var n notification
	if err := json.Unmarshal(r.Body, &n); err != nil {
		return nil, fmt.Errorf("%w: %v", verifiers.ErrMalformed, err)
	}
	if n.ID == "" || n.Type == "" || n.Data.Order == "" {
		return nil, fmt.Errorf("%w: id, type and data.order are mandatory", verifiers.ErrMalformed)
	}
	e := verifiers.NewEvent(p.Provider(), r)
	e.ID = n.ID // AcmePay's own, the same on every retry
	e.ProviderStatus = n.Type
	e.Status = statuses[n.Type]
	if e.Status == "" {
		e.Status = verifiers.StatusUnknown
	}
	e.OrderID = n.Data.Order
	e.TransactionID = n.Data.PaymentID
	if n.Created > 0 {
		e.OccurredAt = time.Unix(n.Created, 0).UTC()
	}
	if err := verifiers.SetAmount(&e, "data.amount", n.Data.Amount.String(), n.Data.Currency, verifiers.MinorUnits); err != nil {
		return nil, err
	}
	raw, err := json.Marshal(json.RawMessage(r.Body))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", verifiers.ErrMalformed, err)
	}
	e.Raw = raw
	return []verifiers.Event{e}, nil
}

// parseSignature reads t=<unix>,v1=<hex> from the one Acme-Signature header.
func parseSignature(values []string) (t, v1 string, err error) {
	if len(values) != 1 {
		return "", "", fmt.Errorf("%w: want one Acme-Signature header, got %d", verifiers.ErrSignature, len(values))
	}
	for part := range strings.SplitSeq(values[0], ",") {
		name, value, _ := strings.Cut(part, "=")
		switch {
		case name == "t" && t == "":
			t = value
		case name == "v1" && v1 == "":
			v1 = value
		default:
			return "", "", fmt.Errorf("%w: Acme-Signature has an unknown or repeated element %.10q", verifiers.ErrSignature, name)
		}
	}
	if t == "" || v1 == "" {
		return "", "", fmt.Errorf("%w: Acme-Signature needs t= and v1=", verifiers.ErrSignature)
	}
	return t, v1, nil
}

// Example implements verifiers.Signer.
func (p *AcmePay) Example(order string, now time.Time) map[string]any {
	return map[string]any{
		"id": "evt_" + strconv.FormatInt(now.UnixNano(), 36), "type": "payment.succeeded", "created": json.Number(strconv.FormatInt(now.Unix(), 10)),
		"data": map[string]any{"payment_id": "pay_" + strconv.FormatInt(now.Unix(), 36), "order": order, "amount": json.Number("1250"), "currency": "EUR"},
	}
}

// Sign implements verifiers.Signer.
func (p *AcmePay) Sign(d verifiers.Draft) (verifiers.Notification, error) {
	body, err := verifiers.MarshalCompact(d.Fields)
	if err != nil {
		return verifiers.Notification{}, err
	}
	t := strconv.FormatInt(d.Now.Unix(), 10)
	sig := hex.EncodeToString(p.macs.Sum([]byte(t + "." + string(body))))
	return verifiers.Notification{
		Method: http.MethodPost, Path: d.Path, Body: body,
		Header: http.Header{"Content-Type": {verifiers.JSONType}, "Acme-Signature": {"t=" + t + ",v1=" + sig}},
	}, nil
}

// Interface guards.
var (
	_ verifiers.Provider           = (*AcmePay)(nil)
	_ verifiers.Signer             = (*AcmePay)(nil)
	_ verifiers.CredentialHeaderer = (*AcmePay)(nil)
)
