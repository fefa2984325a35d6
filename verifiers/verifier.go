// Package verifiers authenticates and normalizes payment notifications.
//
// Each provider is a Caddy module of the namespace
// http.handlers.paynotify.providers (see Provider) in a file of its own:
// options, checks, verifier and test signer. The verification itself needs
// no running Caddy: a Verifier takes the raw request as received (method,
// header, query, body bytes, client IP, receive time) and returns the
// paynotify.v1 events it carries, or an error wrapping one of the sentinel
// errors below, which the HTTP glue maps to a status code. What providers
// share (keyed HMAC states, constant-time comparison over several secrets,
// timestamp tolerance, strict form and JSON reading, money) is written once
// here, for providers inside and outside this repository.
package verifiers

import (
	"context"
	"errors"
	"net/http"
	"net/netip"
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

// SignatureStatuser is implemented by a verifier whose provider expects
// another status than 401 for a missing or wrong signature (GoCardless
// documents 498). The reply still carries no ACK.
type SignatureStatuser interface {
	SignatureStatus() int
}

// CredentialHeaderer is implemented by a verifier that authenticates with
// request headers. They concern the provider's request only and are not
// forwarded with a normalized event.
type CredentialHeaderer interface {
	CredentialHeaders() []string
}

// StorageRisker is implemented by a provider whose notifications, as sent,
// can carry what must not be stored at rest: a full card number, or a
// credential of this config. With forward original, deliver queued would
// write the request into its store (and its dead letters), so that
// combination is refused at load with StorageRisk's reason; "" when there
// is none as configured.
type StorageRisker interface {
	StorageRisk() string
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
