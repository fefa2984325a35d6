package caddymodule

import (
	"errors"
	"fmt"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
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
//	    allow_ip        <ip|cidr> ...
//	    forward         normalized | original
//	    max_body        <size>
//	    body_timeout    <duration>
//	    dedup           <duration> | off
//	    dedup_scope     <name>
//	    store           bolt [<path>] | redis <url>
//	    ack             <text>
//	    upstream_secret <whsec_...>
//	    deliver         direct | queued { to <url>; retry_for; timeout; concurrency; backoff }
//	    <the provider's options: secret <secret> [<secret>...], ...>
//	}
//
// The provider's options are those of its module (caddy paynotify providers
// lists them). allow_ip and the repeatable provider options (secret) may be
// given more than once; every other option once.
func (h *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the directive name
	directive := d.Token()
	var name string
	if !d.Args(&name) {
		return d.Errf("paynotify needs a provider name, e.g. paynotify octo3 { ... }")
	}
	if d.NextArg() {
		return d.Errf("paynotify takes one provider, got another argument %q", d.Val())
	}
	at := func(err error, tok caddyfile.Token) error {
		return fmt.Errorf("paynotify %s: %w, at %s:%d", name, err, tok.File, tok.Line)
	}
	provider, err := verifiers.LookupProvider(name)
	if err != nil {
		return at(err, directive)
	}
	providerOptions := map[string]verifiers.Option{}
	for _, opt := range provider.Options() {
		if _, shadowed := handlerOptions[opt.Name]; shadowed {
			// It could never be set: the handler's option is read first.
			return at(fmt.Errorf("provider: the module's option %q has the name of a paynotify option", opt.Name), directive)
		}
		providerOptions[opt.Name] = opt
	}

	seen := map[string]caddyfile.Token{} // where each option is first given
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		option := d.Val()
		popt, isProviders := providerOptions[option]
		if _, given := seen[option]; given && option != "allow_ip" && !(isProviders && popt.Repeatable) {
			return d.Errf("%s given twice", option)
		} else if !given {
			seen[option] = d.Token()
		}
		var err error
		if parse, ok := handlerOptions[option]; ok {
			err = parse(h, d)
		} else if isProviders {
			err = verifiers.ParseOption(d, popt)
		} else {
			err = at(errors.New(unknownOption(name, option, provider)), d.Token())
		}
		if err != nil {
			return err
		}
	}
	if err := provider.CheckConfig(); err != nil {
		var oe *verifiers.OptionError
		if errors.As(err, &oe) {
			if tok, ok := seen[oe.Option]; ok {
				return at(err, tok)
			}
		}
		return at(err, directive)
	}
	if sc, ok := provider.(verifiers.SourceChecker); ok {
		if required, weakness := sc.SourceCheck(); required && len(h.AllowIP) == 0 {
			return at(fmt.Errorf("allow_ip: required for %s as configured, and narrower than 0.0.0.0/0 or ::/0: %s", name, weakness), directive)
		}
	}
	var warnings []caddyconfig.Warning
	h.ProviderRaw = caddyconfig.JSONModuleObject(provider, "name", name, &warnings)
	if len(warnings) > 0 {
		return at(errors.New(warnings[0].Message), directive)
	}
	return nil
}

// handlerOptions are the options common to every provider, each with its
// parser; every other option of the block is the provider's.
var handlerOptions = map[string]func(h *Handler, d *caddyfile.Dispenser) error{
	"allow_ip": func(h *Handler, d *caddyfile.Dispenser) error {
		args := d.RemainingArgs()
		if len(args) == 0 {
			return d.Errf("allow_ip needs at least one address or CIDR range")
		}
		h.AllowIP = append(h.AllowIP, args...)
		return nil
	},
	"forward": func(h *Handler, d *caddyfile.Dispenser) error {
		if err := verifiers.OneValue(d, &h.Forward); err != nil {
			return err
		}
		if h.Forward != "normalized" && h.Forward != "original" {
			return d.Errf("forward: %q is not normalized or original", h.Forward)
		}
		return nil
	},
	"max_body": func(h *Handler, d *caddyfile.Dispenser) error {
		var size string
		if err := verifiers.OneValue(d, &size); err != nil {
			return err
		}
		n, err := humanize.ParseBytes(size)
		if err != nil || n == 0 || n > 1<<40 {
			return d.Errf("max_body: %q is not a size such as 64KiB", size)
		}
		h.MaxBody = int64(n)
		return nil
	},
	"dedup": func(h *Handler, d *caddyfile.Dispenser) error {
		if err := verifiers.OneValue(d, &h.Dedup); err != nil {
			return err
		}
		if _, err := parseDedup(h.Dedup); err != nil {
			return d.Errf("dedup: %v", err)
		}
		return nil
	},
	"dedup_scope": func(h *Handler, d *caddyfile.Dispenser) error {
		if err := verifiers.OneValue(d, &h.DedupScope); err != nil {
			return err
		}
		if err := checkScope(h.DedupScope); err != nil {
			return d.WrapErr(err)
		}
		return nil
	},
	"body_timeout": func(h *Handler, d *caddyfile.Dispenser) error {
		var value string
		if err := verifiers.OneValue(d, &value); err != nil {
			return err
		}
		timeout, err := caddy.ParseDuration(value)
		if err != nil || timeout <= 0 {
			return d.Errf("body_timeout: %q is not a positive duration such as 10s", value)
		}
		h.BodyTimeout = caddy.Duration(timeout)
		return nil
	},
	"store":   (*Handler).unmarshalStore,
	"deliver": (*Handler).unmarshalDeliver,
	"ack": func(h *Handler, d *caddyfile.Dispenser) error {
		if err := verifiers.OneValue(d, &h.ACK); err != nil {
			return err
		}
		if h.ACK == "" {
			return d.Errf("ack: empty text (the provider would never see its acknowledgement)")
		}
		return nil
	},
	"upstream_secret": func(h *Handler, d *caddyfile.Dispenser) error {
		return verifiers.OneValue(d, &h.UpstreamSecret)
	},
}

// unknownOption says why option is not an option of the paynotify block
// of provider name, and what is.
func unknownOption(name, option string, provider verifiers.Provider) string {
	var own []string
	for _, opt := range provider.Options() {
		own = append(own, opt.Name)
	}
	for _, other := range verifiers.Providers() {
		p, err := verifiers.LookupProvider(other)
		if err != nil || other == name {
			continue
		}
		for _, opt := range p.Options() {
			if opt.Name == option {
				return fmt.Sprintf("%s: does not apply to provider %q (its options: %s)", option, name, strings.Join(own, ", "))
			}
		}
	}
	return fmt.Sprintf("unrecognized option %q: not a paynotify option, and provider %s takes %s", option, name, strings.Join(own, ", "))
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

// Interface guard.
var _ caddyfile.Unmarshaler = (*Handler)(nil)
