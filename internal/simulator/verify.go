package simulator

import (
	"net/netip"
	"strings"
	"time"

	"github.com/paynotify/paynotify/verifiers"
)

// VerifierConfig is the verifier configuration that accepts what k signs
// for provider. (Only the configuration: the signers share no code with the
// verifiers.)
func (k Keys) VerifierConfig(provider string) verifiers.Config {
	switch provider {
	case "octo3":
		return verifiers.Config{Secrets: []string{k.Octo3}}
	case "thedao":
		return verifiers.Config{Secrets: []string{k.TheDAO}}
	case "checkout":
		return verifiers.Config{Secrets: []string{k.Checkout}, Authorization: k.CheckoutAuthorization}
	case "octopus":
		return verifiers.Config{Secrets: []string{k.Octopus}, Key: k.OctopusKey}
	case "oobit":
		return verifiers.Config{Secrets: []string{k.Oobit}}
	}
	return verifiers.Config{}
}

// VerifierRequest is m as a verifier sees it, sent from clientIP at receivedAt.
func (m Message) VerifierRequest(clientIP netip.Addr, receivedAt time.Time) *verifiers.Request {
	_, query, _ := strings.Cut(m.Path, "?")
	return &verifiers.Request{Method: m.Method, Header: m.Header, RawQuery: query, Body: m.Body,
		ClientIP: clientIP, ReceivedAt: receivedAt}
}
