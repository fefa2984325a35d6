// Package verifiers authenticates and normalizes payment notifications.
//
// It knows nothing of Caddy: a Verifier takes the raw request as received
// (method, header, query, body bytes, client IP, receive time) and returns the
// paynotify.v1 events it carries, or an error wrapping one of the sentinel
// errors below, which the HTTP glue maps to a status code.
package verifiers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"sort"
	"time"
)

// Request is a notification exactly as it was received.
type Request struct {
	Method string
	Header http.Header
	// RawQuery is the URL query string as received, still encoded: some
	// providers sign values exactly as they were sent.
	RawQuery string
	// Body holds the raw body bytes; signatures are checked over these bytes,
	// never over a re-serialisation.
	Body []byte
	// ClientIP is the client address as the proxy resolved it (honouring
	// trusted proxies). It is copied into the event as source_ip.
	ClientIP netip.Addr
	// ReceivedAt is when the notification arrived. It is the verifier's clock:
	// timestamp tolerances are measured against it, so tests can set it.
	ReceivedAt time.Time
}

// ACK is the reply a provider expects once a notification was accepted.
// Anything else makes the provider retry.
type ACK struct {
	Status      int
	ContentType string
	Body        string
}

// Verifier authenticates one provider's notifications.
type Verifier interface {
	// Provider is the provider name the events carry, e.g. "octo3".
	Provider() string
	// Methods lists the HTTP methods the provider sends notifications with.
	Methods() []string
	// ACK is the reply that tells the provider every event was accepted.
	ACK() ACK
	// Verify authenticates r and returns the events it carries: one for most
	// providers, several for providers that batch. The error wraps ErrMethod,
	// ErrSignature, ErrForbidden or ErrMalformed; no event is returned unless
	// the whole request was authenticated. ctx bounds any outbound call a
	// verifier makes (verify-by-inquiry providers).
	Verify(ctx context.Context, r *Request) ([]Event, error)
}

// SourceChecker is implemented by a verifier whose signature is weaker than
// a MAC over the whole notification. SourceCheck says why (for the operator)
// and whether the source addresses must be restricted (required): then the
// signature alone cannot authenticate a notification as configured.
type SourceChecker interface {
	SourceCheck() (required bool, why string)
}

// CredentialHeaderer is implemented by a verifier that authenticates with
// request headers. They concern the provider's request only and are not
// forwarded with a normalized event.
type CredentialHeaderer interface {
	CredentialHeaders() []string
}

// The kinds of rejection. Verify wraps one of them with the reason, which
// never contains secret material.
var (
	// ErrMethod: the provider never sends this HTTP method (405).
	ErrMethod = errors.New("method not allowed")
	// ErrSignature: the signature is missing or matches none of the secrets (401).
	ErrSignature = errors.New("signature missing or invalid")
	// ErrForbidden: a credential header that is not a signature, such as
	// Checkout.com's Authorization or Octopus' OC-Key, is missing or wrong (403).
	ErrForbidden = errors.New("credential header missing or wrong")
	// ErrMalformed: the body cannot be parsed, or a mandatory field is
	// missing or invalid (400).
	ErrMalformed = errors.New("malformed notification")
)

// Config holds the provider options of the paynotify directive. A provider
// refuses every option that does not apply to it.
type Config struct {
	// Secrets are the shared secrets; each is tried in turn (rotation).
	Secrets []string
	// Algorithm is the octo3/thedao HMAC: "hmac-sha1" (default) or "hmac-sha256".
	Algorithm string
	// AmountUnit says whether octo3/thedao amounts are "major" (default) or "minor" units.
	AmountUnit string
	// SignatureOff accepts octo3/thedao notifications without secure_hash.
	// The caller must restrict the source addresses when it is set.
	SignatureOff bool
	// Authorization is the value Checkout.com's Authorization header must equal.
	Authorization string
	// Key is the value the Octopus OC-Key header must equal.
	Key string
}

// options names the options that are set, as they are spelled in the Caddyfile.
func (c Config) options() []string {
	var set []string
	add := func(name string, isSet bool) {
		if isSet {
			set = append(set, name)
		}
	}
	add("secret", len(c.Secrets) > 0)
	add("algorithm", c.Algorithm != "")
	add("amount_unit", c.AmountUnit != "")
	add("signature", c.SignatureOff)
	add("authorization", c.Authorization != "")
	add("key", c.Key != "")
	return set
}

// secretKeys returns the secrets as keys, or an OptionError naming secret
// when none is configured; what says what the provider calls its secret.
func (c Config) secretKeys(provider, what string) ([][]byte, error) {
	if len(c.Secrets) == 0 {
		msg := fmt.Sprintf("required for provider %q", provider)
		if what != "" {
			msg += " (" + what + ")"
		}
		return nil, &OptionError{Option: "secret", Msg: msg}
	}
	keys := make([][]byte, len(c.Secrets))
	for i, s := range c.Secrets {
		keys[i] = []byte(s)
	}
	return keys, nil
}

// OptionError is a misconfiguration; Option is the option's Caddyfile name.
type OptionError struct {
	Option string
	Msg    string
}

func (e *OptionError) Error() string { return e.Option + ": " + e.Msg }

type provider struct {
	options []string // the options it accepts besides secret
	build   func(name string, c Config) (Verifier, error)
}

var providers = map[string]provider{
	"octo3":    {options: octo3Options, build: newOcto3},
	"thedao":   {options: octo3Options, build: newOcto3},
	"checkout": {options: checkoutOptions, build: newCheckout},
	"octopus":  {options: octopusOptions, build: newOctopus},
	"oobit":    {options: oobitOptions, build: newOobit},
}

// Providers lists the supported provider names, sorted.
func Providers() []string {
	names := make([]string, 0, len(providers))
	for name := range providers {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// New returns the verifier for the named provider, or an *OptionError that
// names the offending option.
func New(name string, c Config) (Verifier, error) {
	p, ok := providers[name]
	if !ok {
		return nil, &OptionError{Option: "provider", Msg: fmt.Sprintf("unknown provider %q (supported: %v)", name, Providers())}
	}
	for _, opt := range c.options() {
		if opt != "secret" && !slices.Contains(p.options, opt) {
			return nil, &OptionError{Option: opt, Msg: fmt.Sprintf("does not apply to provider %q", name)}
		}
	}
	for _, s := range c.Secrets {
		if s == "" {
			return nil, &OptionError{Option: "secret", Msg: "empty secret (is the {env.*} or {file.*} placeholder set?)"}
		}
	}
	return p.build(name, c)
}
