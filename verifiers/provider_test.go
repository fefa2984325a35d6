package verifiers

import (
	"bytes"
	"context"
	"encoding/json"

	"github.com/caddyserver/caddy/v2"
)

// options are the seed providers' options as a test sets them. newVerifier
// loads them the way Caddy loads a provider module: found by name in the
// module registry, its JSON decoded strictly (an option the provider does
// not have is an unknown field), then provisioned.
type options struct {
	Secrets       []string `json:"secrets,omitempty"`
	Algorithm     string   `json:"algorithm,omitempty"`
	AmountUnit    string   `json:"amount_unit,omitempty"`
	SignatureOff  bool     `json:"signature_off,omitempty"`
	Authorization string   `json:"authorization,omitempty"`
	Key           string   `json:"key,omitempty"`
}

func newVerifier(name string, o options) (Provider, error) {
	p, err := LookupProvider(name)
	if err != nil {
		return nil, err
	}
	raw, err := json.Marshal(o)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(p); err != nil {
		return nil, err
	}
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	return p, p.Provision(ctx)
}
