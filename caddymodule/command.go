// The `caddy paynotify` command: `sign` builds
// a correctly signed test notification for any supported provider and sends
// it or prints it as a curl command; `schema` prints the JSON Schema of
// paynotify.v1; `queue` shows and acts on queued deliveries
// (command_queue.go).

package caddymodule

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"

	"github.com/paynotify/paynotify/schema"
	"github.com/paynotify/paynotify/verifiers"
)

func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "paynotify",
		Usage: "sign <provider> [--secret <secret>] [flags] | providers | schema | queue [retry|delete <id>]",
		Short: "Sends signed test notifications, lists the providers, prints the paynotify.v1 JSON Schema, shows queued deliveries",
		Long: `
Tools for operating paynotify.

  caddy paynotify sign <provider> --secret <secret> [--option 'name value'] [--field k=v ...] [--json FILE] [--url URL]
      Builds a correctly signed notification of provider, a successful
      payment with every mandatory field set. Without --url it prints a curl
      command for the example Caddyfile's address; with --url it sends it
      and prints the reply.

  caddy paynotify providers [--json]
      Lists the providers built into this caddy binary: how each one
      authenticates a notification, its ACK, its options, and whether it
      needs allow_ip.

  caddy paynotify schema
      Prints the JSON Schema (draft 2020-12) of the paynotify.v1 event.

  caddy paynotify queue [--address <admin address>] [--json]
  caddy paynotify queue retry <id>
  caddy paynotify queue delete <id>
      Shows, through the running Caddy's admin API, the routes with deliver
      queued (depth, in flight, oldest age, dead letters) and the dead
      letters; queues a dead letter again or deletes it.
`,
		CobraFunc: func(cmd *cobra.Command) {
			cmd.AddCommand(signCommand(), providersCommand(), schemaCommand(), queueCommand())
		},
	})
}

func schemaCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "schema",
		Short: "Prints the JSON Schema of the paynotify.v1 event",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := cmd.OutOrStdout().Write(schema.V1)
			return err
		},
	}
}

type signOptions struct {
	secret, url, jsonFile, order, ack string
	authorization, key                string
	algorithm, method, privateKey     string
	base                              string // scheme://host of --url, for signers that sign the URL
	options, fields, drop             []string
	curl                              bool
	timeout                           time.Duration
	now                               func() time.Time
	client                            *http.Client
	stdin                             io.Reader
}

func signCommand() *cobra.Command {
	o := &signOptions{now: time.Now, client: http.DefaultClient, stdin: os.Stdin}
	cmd := &cobra.Command{
		Use:   "sign <provider> --secret <secret>",
		Short: "Builds a correctly signed test notification and sends it or prints it as curl",
		Long: `Builds a notification of provider (caddy paynotify providers lists them)
as the provider sends it: a successful payment with every mandatory field
set, signed with --secret. The provider's other options are given with
--option, as in the Caddyfile: --option 'algorithm hmac-sha256'. Fields can
be changed with --field, or the whole body given with --json.

The public-key providers (alipay, wechatpay) sign with --private-key, a
file with the private half of the public_key given with --option as in the
Caddyfile (wechatpay: the key's serial too, and apiv3_key to encrypt the
resource).

Without --url the notification is printed as a curl command aimed at
http://localhost:8080/notify/<provider> (Caddyfile.example). With --url it is
sent there and the reply printed; the exit status is 0 only when the reply is
the provider's acknowledgement.

--field name=value sets a field to a string (a number stays a number when
the default is one); name:=json sets it to a JSON value. For JSON providers,
nested fields are named with dots: --field data.amount=2000.`,
		Example: `  caddy paynotify sign octo3 --secret octo3-demo-secret --url http://localhost:8080/notify/octo3
  caddy paynotify sign checkout --secret checkout-demo-key --option 'authorization checkout-demo-authorization' \
      --field type=payment_declined --field data.amount=2000
  caddy paynotify sign oobit --secret oobit-demo-hash-key --field reply_code=051
  caddy paynotify sign alipay --private-key examples/keys/alipay-demo.pem \
      --option 'public_key {file.examples/keys/alipay-demo.pub}' --option 'app_id 2021000000000000'`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cmd.SilenceUsage = true
			return o.run(cmd.Context(), args[0], cmd.OutOrStdout(), cmd.ErrOrStderr(), cmd.Flags().Changed("url"))
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.secret, "secret", "", "the provider's shared secret, one of the directive's secrets")
	f.StringArrayVar(&o.options, "option", nil, "a provider option as in the Caddyfile, e.g. 'algorithm hmac-sha256' (repeatable)")
	f.StringArrayVar(&o.fields, "field", nil, "set a field: name=string or name:=json (repeatable)")
	f.StringArrayVar(&o.drop, "drop", nil, "leave a field out, e.g. to test a missing mandatory field (repeatable)")
	f.StringVar(&o.jsonFile, "json", "", "take all fields from this JSON object file (- for stdin) instead of the defaults")
	f.StringVar(&o.url, "url", "", "send the notification here and print the reply")
	f.BoolVar(&o.curl, "curl", false, "print the curl command for --url instead of sending")
	f.StringVar(&o.ack, "ack", "", "the ACK to expect when the directive sets ack (default: the provider's)")
	f.StringVar(&o.order, "order", "", "the merchant's order id (default: ORD-<unix time>-<random>)")
	f.StringVar(&o.authorization, "authorization", "", "same as --option 'authorization <value>' (checkout)")
	f.StringVar(&o.key, "key", "", "same as --option 'key <value>' (octopus)")
	f.StringVar(&o.algorithm, "algorithm", "", "same as --option 'algorithm <value>' (octo3, thedao)")
	f.StringVar(&o.privateKey, "private-key", "", "a file with the RSA private key to sign with (alipay, wechatpay: the private half of a public_key given with --option; PEM or base64 DER)")
	f.StringVar(&o.method, "method", "", "the HTTP method, for providers that send more than one (oobit: GET, the default, or POST)")
	f.DurationVar(&o.timeout, "timeout", 70*time.Second, "how long to wait for the reply")
	return cmd
}

func (o *signOptions) run(ctx context.Context, provider string, stdout, stderr io.Writer, send bool) error {
	target := o.url
	if target == "" {
		target = "http://localhost:8080/notify/" + provider
	}
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("--url %q is not an http(s) URL", target)
	}
	if u.RawQuery != "" {
		return errors.New("--url must not have a query string: the notification's own fields go there")
	}
	o.base = u.Scheme + "://" + u.Host
	m, ack, err := o.build(provider, u.EscapedPath())
	if err != nil {
		return err
	}
	base := u.Scheme + "://" + u.Host
	if !send || o.curl {
		_, err := fmt.Fprintln(stdout, curlCommand(m, base))
		return err
	}

	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, m.Method, base+m.Path, bytes.NewReader(m.Body))
	if err != nil {
		return err
	}
	req.Header = m.Header.Clone()
	res, err := o.client.Do(req)
	if err != nil {
		return fmt.Errorf("sending the notification: %v", err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("reading the reply: %v", err)
	}
	fmt.Fprintf(stdout, "%s %s\n%s", res.Proto, res.Status, body)
	if len(body) > 0 && !bytes.HasSuffix(body, []byte("\n")) {
		fmt.Fprintln(stdout)
	}
	if o.ack != "" {
		ack.Body = o.ack
	}
	if res.StatusCode == ack.Status && string(body) == ack.Body {
		fmt.Fprintf(stderr, "acknowledged: this is %s's ACK\n", provider)
		if ack.Body == "" {
			fmt.Fprintf(stderr, "(an empty %d, which a route without paynotify would also answer: its \"notification\" log line says delivered)\n", ack.Status)
		}
		return nil
	}
	hint := hints[res.StatusCode]
	if p, err := verifiers.LookupProvider(provider); err == nil {
		// GoCardless answers a bad signature with 498, its convention.
		if ss, ok := p.(verifiers.SignatureStatuser); ok && res.StatusCode == ss.SignatureStatus() {
			hint = strconv.Itoa(res.StatusCode) + strings.TrimPrefix(hints[http.StatusUnauthorized], "401")
		}
	}
	if res.StatusCode == ack.Status {
		hint = "200 but not the ACK: is --url the path of a paynotify directive for " + provider + "? With the directive's ack option, pass --ack."
	}
	if hint != "" {
		fmt.Fprintln(stderr, hint)
	}
	return fmt.Errorf("the reply is not %s's acknowledgement (%d %q)", provider, ack.Status, ack.Body)
}

// hints say what a status from paynotify means for the one testing it.
var hints = map[int]string{
	http.StatusUnauthorized:          "401: the signature did not verify. --secret must be one of the directive's secrets (and --algorithm its algorithm), or --private-key the private half of its public_key (wechatpay: and apiv3_key its APIv3 key); Caddy's log line \"notification\" gives the reason.",
	http.StatusForbidden:             "403: the source address is not in allow_ip, or --authorization (checkout) or --key (octopus) is not the configured value.",
	http.StatusBadRequest:            "400: the notification is malformed or misses a mandatory field; Caddy's log line \"notification\" names it.",
	http.StatusMethodNotAllowed:      "405: the provider does not send notifications with this method.",
	http.StatusRequestEntityTooLarge: "413: the body is over max_body.",
	http.StatusConflict:              "409: the same event is being delivered by another request; send it again after Retry-After.",
	http.StatusBadGateway:            "502: the notification verified, but the app behind paynotify answered non-2xx, could not be reached or timed out.",
	http.StatusServiceUnavailable:    "503: the dedup store is unavailable.",
	http.StatusNotFound:              "404: nothing answers at --url; is it the path of a paynotify directive?",
}

// build makes the signed notification the options describe, aimed at
// path, and returns it with the ACK the provider expects.
func (o *signOptions) build(name, path string) (verifiers.Notification, verifiers.ACK, error) {
	var n verifiers.Notification
	p, err := o.provider(name)
	if err != nil {
		return n, verifiers.ACK{}, err
	}
	signer, ok := p.(verifiers.Signer)
	if !ok {
		return n, verifiers.ACK{}, fmt.Errorf("provider %s cannot build test notifications (its module does not implement verifiers.Signer)", name)
	}
	order := o.order
	if order == "" {
		order = fmt.Sprintf("ORD-%d-%04d", o.now().Unix(), rand.IntN(10000))
	}
	fields := signer.Example(order, o.now())
	if o.jsonFile != "" {
		if fields, err = o.readJSON(); err != nil {
			return n, verifiers.ACK{}, err
		}
	}
	for _, f := range o.fields {
		if err := setField(fields, f); err != nil {
			return n, verifiers.ACK{}, fmt.Errorf("--field %s: %v", f, err)
		}
	}
	for _, name := range o.drop {
		if !dropField(fields, name) {
			return n, verifiers.ACK{}, fmt.Errorf("--drop %s: there is no such field", name)
		}
	}
	d := verifiers.Draft{Fields: fields, Path: path, URL: o.base + path, Method: strings.ToUpper(o.method), Now: o.now()}
	if o.privateKey != "" {
		text, err := os.ReadFile(o.privateKey)
		if err != nil {
			return n, verifiers.ACK{}, fmt.Errorf("--private-key: %v", err)
		}
		if d.PrivateKey, err = verifiers.ParsePrivateKey(text); err != nil {
			return n, verifiers.ACK{}, fmt.Errorf("--private-key %s: %v", o.privateKey, err)
		}
	}
	n, err = signer.Sign(d)
	return n, p.ACK(), err
}

// provider is the named provider module configured with --secret and
// --option (and the shorthand flags), as the directive would be.
func (o *signOptions) provider(name string) (verifiers.Provider, error) {
	p, err := verifiers.LookupProvider(name)
	if err != nil {
		return nil, err
	}
	options := map[string]verifiers.Option{}
	for _, opt := range p.Options() {
		options[opt.Name] = opt
	}
	given := map[string]string{} // option → the flag that gave it
	apply := func(flag string, tokens []caddyfile.Token) error {
		d := caddyfile.NewDispenser(tokens)
		d.Next()
		opt, ok := options[d.Val()]
		if !ok {
			return fmt.Errorf("%s: %s", flag, unknownOption(name, d.Val(), p))
		}
		if first, twice := given[opt.Name]; twice && !opt.Repeatable {
			return fmt.Errorf("%s: %s is already given by %s", flag, opt.Name, first)
		}
		given[opt.Name] = flag
		if err := verifiers.ParseOption(d, opt); err != nil {
			return fmt.Errorf("%s: %v", flag, err)
		}
		return nil
	}
	// A flag's value is taken literally, as a test secret is typed: its
	// braces are not placeholders (--option reads the Caddyfile's syntax).
	literal := strings.NewReplacer("{", `\{`, "}", `\}`)
	option := func(name, value string) []caddyfile.Token {
		return []caddyfile.Token{{File: "--" + name, Text: name}, {File: "--" + name, Text: literal.Replace(value)}}
	}
	for _, f := range []struct{ name, value string }{
		{"secret", o.secret}, {"algorithm", o.algorithm}, {"authorization", o.authorization}, {"key", o.key},
	} {
		if f.value != "" {
			if err := apply("--"+f.name, option(f.name, f.value)); err != nil {
				return nil, err
			}
		}
	}
	for i, text := range o.options {
		tokens, err := caddyfile.Tokenize([]byte(text), "--option")
		if err != nil || len(tokens) == 0 {
			// Not the text: it may hold a secret.
			return nil, fmt.Errorf("--option %d: not a Caddyfile option line such as 'algorithm hmac-sha256'", i+1)
		}
		if err := apply("--option", tokens); err != nil {
			return nil, err
		}
	}
	if err := p.CheckConfig(); err != nil {
		var oe *verifiers.OptionError
		if errors.As(err, &oe) && oe.Option == "secret" && o.secret == "" {
			return nil, fmt.Errorf("--secret is required: the shared secret the directive is configured with (%v)", err)
		}
		return nil, err
	}
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	if err := p.Provision(ctx); err != nil {
		return nil, err
	}
	return p, nil
}

func (o *signOptions) readJSON() (map[string]any, error) {
	var raw []byte
	var err error
	if o.jsonFile == "-" {
		raw, err = io.ReadAll(o.stdin)
	} else {
		raw, err = os.ReadFile(o.jsonFile)
	}
	if err != nil {
		return nil, fmt.Errorf("--json: %v", err)
	}
	var fields map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&fields); err != nil || fields == nil {
		return nil, fmt.Errorf("--json %s: not a JSON object: %v", o.jsonFile, err)
	}
	return fields, nil
}

// setField applies name=value (a string, or a number where the field holds
// one) or name:=json; dots in name reach into nested objects.
func setField(fields map[string]any, spec string) error {
	name, value, raw := spec, "", false
	if i := strings.IndexByte(spec, '='); i > 0 {
		name, value = spec[:i], spec[i+1:]
		if strings.HasSuffix(name, ":") {
			name, raw = strings.TrimSuffix(name, ":"), true
		}
	} else {
		return errors.New("is not name=value or name:=json")
	}
	parent, key, err := walk(fields, name, true)
	if err != nil {
		return err
	}
	switch {
	case raw:
		dec := json.NewDecoder(strings.NewReader(value))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			return fmt.Errorf("not JSON: %v", err)
		}
		parent[key] = v
	default:
		if _, isNumber := parent[key].(json.Number); isNumber && json.Valid([]byte(value)) {
			if _, err := json.Number(value).Float64(); err == nil {
				parent[key] = json.Number(value)
				return nil
			}
		}
		parent[key] = value
	}
	return nil
}

func dropField(fields map[string]any, name string) bool {
	parent, key, err := walk(fields, name, false)
	if err != nil {
		return false
	}
	if _, ok := parent[key]; !ok {
		return false
	}
	delete(parent, key)
	return true
}

// walk finds the object that holds the last part of the dotted name,
// creating the objects on the way when create is set.
func walk(fields map[string]any, name string, create bool) (map[string]any, string, error) {
	parts := strings.Split(name, ".")
	if slices.Contains(parts, "") {
		return nil, "", fmt.Errorf("%q is not a field name", name)
	}
	var cur any = fields
	for _, p := range parts[:len(parts)-1] {
		switch c := cur.(type) {
		case map[string]any:
			next, exists := c[p]
			switch next.(type) {
			case map[string]any, []any:
			default:
				if exists || !create {
					return nil, "", fmt.Errorf("%s is not an object", p)
				}
				next = map[string]any{}
				c[p] = next
			}
			cur = next
		case []any:
			// An element of an array, by its index: the items of a batch
			// (notificationItems.0.NotificationRequestItem.eventCode).
			i, err := strconv.Atoi(p)
			if err != nil || i < 0 || i >= len(c) || p != strconv.Itoa(i) {
				return nil, "", fmt.Errorf("%s is not an index of the array (0 to %d)", p, len(c)-1)
			}
			cur = c[i]
		default:
			return nil, "", fmt.Errorf("%s is inside a value that is not an object", p)
		}
	}
	m, ok := cur.(map[string]any)
	if !ok {
		return nil, "", fmt.Errorf("%s is not inside an object", parts[len(parts)-1])
	}
	return m, parts[len(parts)-1], nil
}

// curlCommand prints m as a curl command line for a POSIX shell.
func curlCommand(m verifiers.Notification, base string) string {
	args := []string{"curl", "-sS", "-i"}
	if m.Method != http.MethodGet {
		args = append(args, "-X", m.Method)
	}
	names := make([]string, 0, len(m.Header))
	for name := range m.Header {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		args = append(args, "-H", quote(name+": "+m.Header.Get(name)))
	}
	if len(m.Body) > 0 {
		args = append(args, "--data-binary", quote(string(m.Body)))
	}
	args = append(args, quote(base+m.Path))
	return strings.Join(args, " ")
}

// quote quotes s for a POSIX shell.
func quote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
