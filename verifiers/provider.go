package verifiers

import (
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// Namespace is the Caddy module namespace of the providers: a provider named
// stripe is the module http.handlers.paynotify.providers.stripe, and the
// paynotify handler loads it by that name from its "provider" object.
const Namespace = "http.handlers.paynotify.providers"

// Provider is a provider module: a Caddy module in Namespace whose JSON
// fields are the provider's options, which verifies that provider's
// notifications. Register it with caddy.RegisterModule in an init function;
// paynotify finds it by name in Caddy's module registry (the Caddyfile,
// caddy paynotify providers and caddy paynotify sign), so a provider written
// outside this repository is built in with xcaddy build --with.
//
// The paynotify handler loads the module with ctx.LoadModule, which calls
// Provision: resolve placeholders in secrets there, call CheckConfig, and
// prepare what Verify needs. Outside Caddy (tests, fuzzing) call Provision
// with any caddy.Context, e.g. the one caddy.NewContext returns.
type Provider interface {
	caddy.Module
	caddy.Provisioner
	Verifier

	// Options are the provider's Caddyfile options, bound to this instance:
	// the paynotify block hands each option that is not one of the
	// handler's own to the provider option of that name.
	Options() []Option

	// CheckConfig reports what is wrong with the options as written, before
	// placeholders are resolved: a missing secret, a value that is not one
	// of the choices, options that exclude each other. Errors are
	// *OptionError, so that the Caddyfile parser can point at the option's
	// line. Provision calls it too, for JSON configs.
	CheckConfig() error

	// About describes the provider for caddy paynotify providers.
	About() About
}

// About describes a provider for an operator.
type About struct {
	// Scheme says how a notification is authenticated, in a sentence.
	Scheme string
	// AllowIP says when allow_ip is required: "" when never, "always", or
	// the condition ("with signature off").
	AllowIP string
	// Inquire says when the provider asks the provider's API about each
	// notification: "" when never.
	Inquire string
}

// Option is one Caddyfile option of a provider.
type Option struct {
	// Name is the option's name in the paynotify block.
	Name string
	// Args shows its arguments, e.g. "hmac-sha1 | hmac-sha256".
	Args string
	// Doc says what it does, in a sentence.
	Doc string
	// Repeatable options may be given more than once; the values add up.
	Repeatable bool
	// Parse reads the option's arguments (and block, if it has one) with d
	// positioned on the option's name.
	Parse func(d *caddyfile.Dispenser) error
}

// StringOption is an option with one value, stored in dst. Values are
// checked by CheckConfig, so that a JSON config gets the same checks.
func StringOption(name, args, doc string, dst *string) Option {
	return Option{Name: name, Args: args, Doc: doc, Parse: func(d *caddyfile.Dispenser) error {
		return OneValue(d, dst)
	}}
}

// ListOption is a repeatable option with one or more values a line, all
// appended to dst. Values are checked by CheckConfig.
func ListOption(name, args, doc string, dst *[]string) Option {
	return Option{Name: name, Args: args, Doc: doc, Repeatable: true, Parse: func(d *caddyfile.Dispenser) error {
		values := d.RemainingArgs()
		if len(values) == 0 {
			return d.Errf("%s needs at least one value", name)
		}
		*dst = append(*dst, values...)
		return nil
	}}
}

// OneValue reads the single argument of the option d is on into dst.
func OneValue(d *caddyfile.Dispenser, dst *string) error {
	option := d.Val()
	if !d.NextArg() {
		return d.Errf("%s needs a value", option)
	}
	*dst = d.Val()
	if d.NextArg() {
		// The value is not quoted: it may be a secret (a credential,
		// upstream_secret), and this error ends up in logs.
		return d.Errf("%s takes one value, got more", option)
	}
	return nil
}

// ParseOption runs opt.Parse with d on the option's name and refuses
// arguments it left unread; the error carries d's position even when Parse
// returned one without it (a provider written elsewhere may).
func ParseOption(d *caddyfile.Dispenser, opt Option) error {
	if err := opt.Parse(d); err != nil {
		if !strings.Contains(err.Error(), fmt.Sprintf(", at %s:", d.File())) {
			err = d.WrapErr(err)
		}
		return err
	}
	if d.NextArg() {
		// Not the value: it may be a secret.
		return d.Errf("%s: too many arguments", opt.Name)
	}
	return nil
}

// Signer is implemented by a provider that can build test notifications,
// for caddy paynotify sign.
type Signer interface {
	// Example returns a successful payment of order at now, with every
	// mandatory field set, as the fields of the notification. Nested JSON
	// objects are map[string]any, numbers json.Number.
	Example(order string, now time.Time) map[string]any
	// Sign builds the notification d describes as the provider sends it,
	// signed with the first configured secret and carrying the configured
	// credentials.
	Sign(d Draft) (Notification, error)
}

// Draft is a test notification before it is signed.
type Draft struct {
	// Fields are the notification's fields, as Example returns them.
	Fields map[string]any
	// Path is where the notification is sent, without a query.
	Path string
	// URL is the full URL it is sent to (scheme, host, Path), when known:
	// for providers that sign it (hmac with {url}).
	URL string
	// Method is the HTTP method, "" for the one the provider uses most.
	Method string
	// Now is when it is sent, for providers that sign a timestamp.
	Now time.Time
	// PrivateKey signs for the public-key providers (alipay, wechatpay):
	// the private half of a configured public_key.
	PrivateKey *rsa.PrivateKey
}

// Notification is a signed test notification.
type Notification struct {
	Method string
	// Path is Draft.Path with the query string, if the provider sends one.
	Path   string
	Header http.Header
	Body   []byte
}

// OptionError is a misconfiguration; Option is the option's Caddyfile name.
type OptionError struct {
	Option string
	Msg    string
}

func (e *OptionError) Error() string { return e.Option + ": " + e.Msg }

// LookupProvider returns a new, unconfigured instance of the named provider
// module, or an *OptionError for the option "provider" that lists the
// providers there are.
func LookupProvider(name string) (Provider, error) {
	if name != "" && !strings.ContainsAny(name, ". ") {
		if info, err := caddy.GetModule(Namespace + "." + name); err == nil {
			if p, ok := info.New().(Provider); ok {
				return p, nil
			}
			return nil, &OptionError{Option: "provider", Msg: fmt.Sprintf("module %s does not implement verifiers.Provider", info.ID)}
		}
	}
	return nil, &OptionError{Option: "provider", Msg: fmt.Sprintf("unknown provider %q (supported: %v)", name, Providers())}
}

// Providers lists the names of the provider modules Caddy knows, sorted.
func Providers() []string {
	var names []string
	for _, info := range caddy.GetModules(Namespace) {
		names = append(names, info.ID.Name())
	}
	return names
}

// Secrets is the secret option most providers take: the shared secrets the
// provider signs with. Every one is tried, so that a secret can be rotated
// without downtime. {env.*} and {file.*} placeholders are resolved at
// provision.
type Secrets []string

// Option is the repeatable secret option; what says what the provider calls
// its secret.
func (s *Secrets) Option(what string) Option {
	return ListOption("secret", "<secret> [<secret>...]", what+"; several are tried in turn (rotation); {env.*} and {file.*} work", (*[]string)(s))
}

// Check reports a missing or empty secret; what says what provider calls it.
func (s Secrets) Check(provider, what string) error {
	if len(s) == 0 {
		msg := fmt.Sprintf("required for provider %q", provider)
		if what != "" {
			msg += " (" + what + ")"
		}
		return &OptionError{Option: "secret", Msg: msg}
	}
	for _, v := range s {
		if v == "" {
			return &OptionError{Option: "secret", Msg: "empty secret (is the {env.*} or {file.*} placeholder set?)"}
		}
	}
	return nil
}

// Keys resolves the placeholders of the secrets and returns them as keys.
// It refuses an empty list and an empty secret, whether or not the
// provider called Check: an HMAC keyed with nothing is anyone's.
func (s Secrets) Keys() ([][]byte, error) {
	if len(s) == 0 {
		return nil, &OptionError{Option: "secret", Msg: "required"}
	}
	keys := make([][]byte, len(s))
	for i, v := range s {
		resolved, err := ResolveSecret(v)
		if err == nil && resolved == "" {
			err = errors.New("empty")
		}
		if err != nil {
			return nil, &OptionError{Option: "secret", Msg: fmt.Sprintf("secret %d: %v", i+1, err)}
		}
		keys[i] = []byte(resolved)
	}
	return keys, nil
}

// HMAC resolves the secrets and keys an HMAC of newHash with each, in
// their order: for CheckHexHMAC and HMACKeys.Sum.
func (s Secrets) HMAC(newHash func() hash.Hash) (*HMACKeys, error) {
	keys, err := s.Keys()
	if err != nil {
		return nil, err
	}
	return NewHMACKeys(newHash, keys), nil
}

// ResolveSecret resolves the {env.*} and {file.*} placeholders of a secret
// or credential. A placeholder Caddy does not know (a typo such as {env:X}
// or {ENV.X}) or one that resolves to nothing is an error: kept as literal
// text it would become a signing key that anyone can read in the config.
func ResolveSecret(s string) (string, error) {
	if s == "" {
		return "", nil
	}
	repl := caddy.NewReplacer()
	if _, err := repl.ReplaceOrErr(s, false, true); err != nil {
		return "", fmt.Errorf("%v (a typo? a literal brace is written \\{)", err)
	}
	return repl.ReplaceOrErr(s, true, false)
}

// Credential is a configured value that a request header must equal, such
// as Checkout.com's Authorization. It is compared in constant time through
// its SHA-256, so that neither its length nor its prefix leaks.
type Credential struct {
	sum *[sha256.Size]byte // nil: not configured, not checked
}

// NewCredential resolves the placeholders of value; "" is a credential that
// is not checked. option names the option in errors.
func NewCredential(option, value string) (Credential, error) {
	resolved, err := ResolveSecret(value)
	if err != nil {
		return Credential{}, &OptionError{Option: option, Msg: err.Error()}
	}
	if resolved == "" {
		return Credential{}, nil
	}
	sum := sha256.Sum256([]byte(resolved))
	return Credential{sum: &sum}, nil
}

// Set says whether the credential is configured.
func (c Credential) Set() bool { return c.sum != nil }

// Equal reports whether given is the configured value; false when no value
// is configured (check Set first to skip the check).
func (c Credential) Equal(given string) bool {
	if c.sum == nil {
		return false
	}
	g := sha256.Sum256([]byte(given))
	return hmac.Equal(g[:], c.sum[:])
}

// DurationOption is an option with one positive duration such as 5m,
// stored in dst.
func DurationOption(name, doc string, dst *caddy.Duration) Option {
	return Option{Name: name, Args: "<duration>", Doc: doc, Parse: func(d *caddyfile.Dispenser) error {
		var value string
		if !d.Args(&value) || d.NextArg() {
			return d.Errf("%s takes one duration such as 5m", name)
		}
		parsed, err := caddy.ParseDuration(value)
		if err != nil || parsed <= 0 {
			return d.Errf("%s: %q is not a positive duration such as 5m", name, value)
		}
		*dst = caddy.Duration(parsed)
		return nil
	}}
}

// CheckTimestamp checks the signed Unix time (in seconds) value, named
// name, against now: further than tolerance from it in either direction is
// ErrSignature, so that a captured notification cannot be replayed once the
// tolerance has passed (and one dated in the future cannot be stored up).
// Only digits are accepted: no sign, no fraction, no spaces.
func CheckTimestamp(name, value string, now time.Time, tolerance time.Duration) error {
	if value == "" {
		return fmt.Errorf("%w: no %s", ErrSignature, name)
	}
	if len(value) > 12 || !isDigits(value) {
		return fmt.Errorf("%w: %s is not a Unix time in seconds", ErrSignature, name)
	}
	secs, err := strconv.ParseInt(value, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: %s is not a Unix time in seconds", ErrSignature, name)
	}
	// In whole seconds: now.Sub saturates for a time centuries away, and
	// a negated saturated duration would pass as in range.
	whole := now.Unix() - secs
	skew := now.Sub(time.Unix(secs, 0))
	if whole > int64(tolerance/time.Second)+1 || whole < -int64(tolerance/time.Second)-1 {
		skew = time.Duration(whole) * time.Second // exact to the second
		if whole > int64(math.MaxInt64/time.Second) || whole < -int64(math.MaxInt64/time.Second) {
			skew = time.Duration(math.MaxInt64) // only the sign matters below
			if whole < 0 {
				skew = -skew
			}
		}
	}
	switch {
	case skew > tolerance:
		return fmt.Errorf("%w: %s is %s old, over the tolerance of %s (a replay, or a clock out of sync)", ErrSignature, name, skew.Round(time.Second), tolerance)
	case -skew > tolerance:
		return fmt.Errorf("%w: %s is %s in the future, over the tolerance of %s (a clock out of sync)", ErrSignature, name, (-skew).Round(time.Second), tolerance)
	}
	return nil
}
