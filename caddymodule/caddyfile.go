package caddymodule

import (
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/dustin/go-humanize"
)

func init() {
	httpcaddyfile.RegisterHandlerDirective("paynotify", parseCaddyfile)
	httpcaddyfile.RegisterDirectiveOrder("paynotify", httpcaddyfile.Before, "reverse_proxy")
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
//	    dedup           <duration> | off
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
	if !d.Args(&h.Provider) {
		return d.Errf("paynotify needs a provider name, e.g. paynotify octo3 { ... }")
	}
	if d.NextArg() {
		return d.Errf("paynotify takes one provider, got another argument %q", d.Val())
	}

	seen := map[string]bool{}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		option := d.Val()
		if option != "secret" && option != "allow_ip" {
			if seen[option] {
				return d.Errf("%s given twice", option)
			}
			seen[option] = true
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
