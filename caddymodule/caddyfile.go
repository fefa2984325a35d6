package caddymodule

import (
	"errors"
	"fmt"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/dustin/go-humanize"

	"github.com/paynotify/paynotify/verifiers"
)

func init() {
	httpcaddyfile.RegisterHandlerDirective("paynotify", parseCaddyfile)
	// With the other authentication directives, before handle, route,
	// respond and reverse_proxy: `paynotify <matcher> <provider>` at the top
	// of a site guards its path whatever handle blocks follow.
	httpcaddyfile.RegisterDirectiveOrder("paynotify", httpcaddyfile.After, "forward_auth")
}

func parseCaddyfile(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	handler := new(Handler)
	err := handler.UnmarshalCaddyfile(h.Dispenser)
	return handler, err
}

// UnmarshalCaddyfile sets up the handler from Caddyfile tokens. Syntax:
//
//	paynotify [<matcher>] <provider> {
//	    secret          <secret> [<secret>...]
//	    allow_ip        <ip|cidr> ...
//	    forward         normalized | original
//	    max_body        <size>
//	    body_timeout    <duration>
//	    dedup           <duration> | off
//	    dedup_scope     <name>
//	    store           bolt [<path>] | redis <url>
//	    ack             <text>
//	    upstream_secret <whsec_...>
//	    algorithm       hmac-sha1 | hmac-sha256
//	    amount_unit     major | minor
//	    signature       off
//	    authorization   <value>
//	    key             <value>
//	}
//
// secret and allow_ip may be repeated; every other option may be given once.
func (h *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the directive name
	directive := d.Token()
	if !d.Args(&h.Provider) {
		return d.Errf("paynotify needs a provider name, e.g. paynotify octo3 { ... }")
	}
	if d.NextArg() {
		return d.Errf("paynotify takes one provider, got another argument %q", d.Val())
	}

	seen := map[string]caddyfile.Token{} // where each option is first given
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		option := d.Val()
		if _, given := seen[option]; given && option != "secret" && option != "allow_ip" {
			return d.Errf("%s given twice", option)
		} else if !given {
			seen[option] = d.Token()
		}
		switch option {
		case "secret":
			args := d.RemainingArgs()
			if len(args) == 0 {
				return d.Errf("secret needs at least one value")
			}
			h.Secrets = append(h.Secrets, args...)
		case "allow_ip":
			args := d.RemainingArgs()
			if len(args) == 0 {
				return d.Errf("allow_ip needs at least one address or CIDR range")
			}
			h.AllowIP = append(h.AllowIP, args...)
		case "forward":
			if err := oneArg(d, &h.Forward); err != nil {
				return err
			}
			if h.Forward != "normalized" && h.Forward != "original" {
				return d.Errf("forward: %q is not normalized or original", h.Forward)
			}
		case "max_body":
			var size string
			if err := oneArg(d, &size); err != nil {
				return err
			}
			n, err := humanize.ParseBytes(size)
			if err != nil || n == 0 || n > 1<<40 {
				return d.Errf("max_body: %q is not a size such as 64KiB", size)
			}
			h.MaxBody = int64(n)
		case "dedup":
			if err := oneArg(d, &h.Dedup); err != nil {
				return err
			}
			if _, err := parseDedup(h.Dedup); err != nil {
				return d.Errf("dedup: %v", err)
			}
		case "dedup_scope":
			if err := oneArg(d, &h.DedupScope); err != nil {
				return err
			}
			if err := checkScope(h.DedupScope); err != nil {
				return d.WrapErr(err)
			}
		case "body_timeout":
			var value string
			if err := oneArg(d, &value); err != nil {
				return err
			}
			timeout, err := caddy.ParseDuration(value)
			if err != nil || timeout <= 0 {
				return d.Errf("body_timeout: %q is not a positive duration such as 10s", value)
			}
			h.BodyTimeout = caddy.Duration(timeout)
		case "store":
			if err := h.unmarshalStore(d); err != nil {
				return err
			}
		case "ack":
			if err := oneArg(d, &h.ACK); err != nil {
				return err
			}
			if h.ACK == "" {
				return d.Errf("ack: empty text (the provider would never see its acknowledgement)")
			}
		case "upstream_secret":
			if err := oneArg(d, &h.UpstreamSecret); err != nil {
				return err
			}
		case "algorithm":
			if err := oneArg(d, &h.Algorithm); err != nil {
				return err
			}
		case "amount_unit":
			if err := oneArg(d, &h.AmountUnit); err != nil {
				return err
			}
		case "signature":
			var value string
			if err := oneArg(d, &value); err != nil {
				return err
			}
			if value != "off" {
				return d.Errf("signature: the only value is off, got %q", value)
			}
			h.SignatureOff = true
		case "authorization":
			if err := oneArg(d, &h.Authorization); err != nil {
				return err
			}
		case "key":
			if err := oneArg(d, &h.Key); err != nil {
				return err
			}
		default:
			return d.Errf("unrecognized paynotify option %q", option)
		}
	}
	return h.checkProvider(directive, seen)
}

// checkProvider reports, while the Caddyfile is parsed, what the provider
// can tell of its options before placeholders are resolved: an unknown
// provider, a missing secret, an option that does not apply, a required
// allow_ip. The error names the file and line of the directive or of the
// option, so that an operator with several routes of one provider sees
// which one. (Provision checks all of it again, for JSON configs.)
func (h *Handler) checkProvider(directive caddyfile.Token, options map[string]caddyfile.Token) error {
	at := func(err error, tok caddyfile.Token) error {
		return fmt.Errorf("paynotify %s: %w, at %s:%d", h.Provider, err, tok.File, tok.Line)
	}
	v, err := verifiers.New(h.Provider, h.verifierConfig(h.Secrets, h.Authorization, h.Key))
	if err != nil {
		var oe *verifiers.OptionError
		if errors.As(err, &oe) {
			if tok, ok := options[oe.Option]; ok {
				return at(err, tok)
			}
		}
		return at(err, directive)
	}
	if sc, ok := v.(verifiers.SourceChecker); ok {
		if required, weakness := sc.SourceCheck(); required && len(h.AllowIP) == 0 {
			return at(fmt.Errorf("allow_ip: required for %s as configured, and narrower than 0.0.0.0/0 or ::/0: %s", h.Provider, weakness), directive)
		}
	}
	return nil
}

func (h *Handler) unmarshalStore(d *caddyfile.Dispenser) error {
	args := d.RemainingArgs()
	if len(args) == 0 {
		return d.Errf("store: bolt [<path>] or redis <url>")
	}
	h.Store = &Store{Type: args[0]}
	switch {
	case args[0] == "bolt" && len(args) <= 2:
		if len(args) == 2 {
			h.Store.Path = args[1]
		}
	case args[0] == "redis" && len(args) == 2:
		h.Store.URL = args[1]
	default:
		// Not the arguments themselves: a Redis URL may hold a password.
		return d.Errf("store: bolt [<path>] or redis <url>, got %d arguments", len(args))
	}
	if err := h.Store.validate(h.Store.URL, true); err != nil {
		return d.Errf("store: %v", err)
	}
	return nil
}

// oneArg reads the single argument of the current option.
func oneArg(d *caddyfile.Dispenser, dst *string) error {
	option := d.Val()
	if !d.NextArg() {
		return d.Errf("%s needs a value", option)
	}
	*dst = d.Val()
	if d.NextArg() {
		// The value is not quoted: it may be a secret (authorization, key,
		// upstream_secret), and this error ends up in logs.
		return d.Errf("%s takes one value, got more", option)
	}
	return nil
}

// Interface guard.
var _ caddyfile.Unmarshaler = (*Handler)(nil)
