package simulator

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/paynotify/paynotify/verifiers"
)

// Verifier is the provider module, provisioned, that accepts what k signs
// for provider. (Only the configuration: the signers share no code with the
// verifiers.)
func (k Keys) Verifier(provider string) (verifiers.Provider, error) {
	var p verifiers.Provider
	switch provider {
	case "octo3":
		p = &verifiers.Octo3{Secrets: verifiers.Secrets{k.Octo3}}
	case "thedao":
		p = &verifiers.TheDAO{Octo3: verifiers.Octo3{Secrets: verifiers.Secrets{k.TheDAO}}}
	case "checkout":
		p = &verifiers.Checkout{Secrets: verifiers.Secrets{k.Checkout}, Authorization: k.CheckoutAuthorization}
	case "octopus":
		p = &verifiers.Octopus{Secrets: verifiers.Secrets{k.Octopus}, Key: k.OctopusKey}
	case "oobit":
		p = &verifiers.Oobit{Secrets: verifiers.Secrets{k.Oobit}}
	default:
		return nil, fmt.Errorf("simulator: unknown provider %q", provider)
	}
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	return p, p.Provision(ctx)
}

// VerifierRequest is m as a verifier sees it, sent from clientIP at receivedAt.
func (m Message) VerifierRequest(clientIP netip.Addr, receivedAt time.Time) *verifiers.Request {
	_, query, _ := strings.Cut(m.Path, "?")
	return &verifiers.Request{Method: m.Method, Header: m.Header, RawQuery: query, Body: m.Body,
		ClientIP: clientIP, ReceivedAt: receivedAt}
}
