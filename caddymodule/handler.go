// Package caddymodule is the Caddy glue of paynotify: configuration,
// provisioning and the request flow. Verification and normalization live in
// package verifiers.
package caddymodule

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/textproto"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/paynotify/paynotify/dedup"
	"github.com/paynotify/paynotify/verifiers"
)

func init() {
	caddy.RegisterModule(Handler{})
}

// Defaults of the optional settings.
const (
	DefaultMaxBody     = 64 << 10
	DefaultBodyTimeout = 10 * time.Second
	DefaultDedupWindow = 168 * time.Hour
)

// Handler verifies payment notifications from one provider, forwards those
// that are authentic to the next handler (normally reverse_proxy to the
// merchant's app), and answers the provider with its own acknowledgement only
// when the app accepted the notification. Anything else gets an error status
// without the acknowledgement, so that the provider retries.
type Handler struct {
	// ProviderRaw is the provider module: an object whose "name" is the
	// provider (octo3, thedao, checkout, octopus, oobit, or any module in
	// the namespace http.handlers.paynotify.providers) and whose other
	// members are that provider's options, e.g. {"name": "octo3",
	// "secrets": ["{env.OCTO3_SECRET}"]}.
	ProviderRaw json.RawMessage `json:"provider,omitempty" caddy:"namespace=http.handlers.paynotify.providers inline_key=name"`

	// AllowIP lists the IP addresses and CIDR ranges notifications may come
	// from, as Caddy resolves the client IP (honouring the server's
	// trusted_proxies). Empty allows any source, and a warning is logged.
	AllowIP []string `json:"allow_ip,omitempty"`

	// Forward is what the next handler receives: "normalized" (default), a
	// POST of the paynotify.v1 event as JSON without the query string, or
	// "original", the request as the provider sent it.
	Forward string `json:"forward,omitempty"`

	// MaxBody is the largest request body accepted, in bytes. Default 64 KiB.
	MaxBody int64 `json:"max_body,omitempty"`

	// BodyTimeout is how long the body may take to arrive once paynotify
	// starts reading it; a slower one gets 408. Default 10s. The server's
	// own read timeout (timeouts read_body), when shorter, still applies.
	BodyTimeout caddy.Duration `json:"body_timeout,omitempty"`

	// Dedup is how long a delivered event is remembered so that a retry of
	// it is acknowledged without reaching the app again: a duration such as
	// "168h" (the default) or "off".
	Dedup string `json:"dedup,omitempty"`

	// DedupScope names the set of dedup records this route shares: routes
	// with the same provider, store and scope are one endpoint, and an event
	// delivered through one is a duplicate at the others (across reloads,
	// restarts and nodes sharing Redis). Default "default". Two routes that
	// forward to different apps need different scopes; a config in which two
	// routes of one provider would share a scope by accident, whatever
	// stores they name, is refused at load.
	DedupScope string `json:"dedup_scope,omitempty"`

	// Store is where dedup records are kept. Default: a bolt file,
	// paynotify/dedup.db under Caddy's data directory.
	Store *Store `json:"store,omitempty"`

	// ACK replaces the body of the provider's acknowledgement.
	ACK string `json:"ack,omitempty"`

	// UpstreamSecret ("whsec_" and 24 to 64 bytes in base64) signs every
	// forwarded request with Standard Webhooks headers (webhook-id,
	// webhook-timestamp, webhook-signature), so that the app can check that
	// it came through paynotify. {env.*} and {file.*} placeholders are
	// resolved when the config is loaded.
	UpstreamSecret string `json:"upstream_secret,omitempty"`

	// Deliver selects direct delivery (the default: the next handler, and
	// the ACK waits for the app) or queued delivery (the ACK once the
	// notification is stored; paynotify delivers it to the app itself).
	Deliver *Deliver `json:"deliver,omitempty"`

	verifier          verifiers.Provider
	inquirer          verifiers.Inquirer // the verifier, when it asks the provider's API
	provider          string             // the provider's name
	allow             []netip.Prefix
	credentialHeaders []string // the provider's signature and credential headers
	bodyTimeout       time.Duration
	dedupWindow       time.Duration
	scope             string        // DedupScope or defaultScope
	deliveryTimeout   time.Duration // see the package defaults of the same names
	claimLease        time.Duration
	store             dedup.Store // nil with dedup off
	queue             *queueRoute // nil unless deliver queued
	pooled            dedup.Store // the store from the pool: dedup records and the outbox
	storeKeyInPool    string
	redisURL          string                    // Store.URL with its placeholders resolved
	upstreamSigner    *standardwebhooks.Webhook // nil without upstream_secret
	metrics           *metrics
	logger            *zap.Logger

	// The acknowledgement, worked out once at provision.
	ackStatus      int
	ackContentType string // "" for none
	ackLength      string // the Content-Length value
	ackBody        []byte
	providerValue  any      // provider, boxed once for the replacer
	methods        []string // the provider's Methods()
}

// Store selects the dedup store.
type Store struct {
	// Type is "bolt" or "redis".
	Type string `json:"type"`
	// Path is the bolt file. Default: paynotify/dedup.db under Caddy's data directory.
	Path string `json:"path,omitempty"`
	// URL is the Redis URL, redis://[user:password@]host:port/db (rediss://
	// for TLS). {env.*} and {file.*} placeholders are resolved when the config
	// is loaded, so that a password need not be in the config.
	URL string `json:"url,omitempty"`
}

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.paynotify",
		New: func() caddy.Module { return new(Handler) },
	}
}

// Provision resolves the secrets and checks every option; a misconfiguration
// fails here with a message that names the option.
func (h *Handler) Provision(ctx caddy.Context) error {
	h.logger = ctx.Logger()
	config, err := json.Marshal(h) // as configured, to tell routes apart
	if err != nil {
		return fmt.Errorf("paynotify: %v", err)
	}
	for _, expr := range h.AllowIP {
		prefix, err := caddyhttp.CIDRExpressionToPrefix(expr)
		if err != nil {
			return fmt.Errorf("paynotify: allow_ip: %v", err)
		}
		h.allow = append(h.allow, prefix.Masked())
	}
	v, err := h.loadProvider(ctx)
	if err != nil {
		return err
	}
	h.verifier, h.provider, h.methods = v, v.Provider(), v.Methods()
	if iq, ok := v.(verifiers.Inquirer); ok && iq.Inquires() {
		h.inquirer = iq
	}
	if h.metrics, err = newMetrics(ctx.GetMetricsRegistry(), h.provider); err != nil {
		return fmt.Errorf("paynotify: registering metrics: %v", err)
	}
	weakness := "" // why the provider's signature alone is weak, if it is
	if sc, ok := v.(verifiers.SourceChecker); ok {
		var required bool
		required, weakness = sc.SourceCheck()
		if required && !h.restrictsSources() {
			return fmt.Errorf("paynotify: allow_ip: required for %s as configured, and narrower than 0.0.0.0/0 or ::/0: %s", h.provider, weakness)
		}
	}
	if ch, ok := v.(verifiers.CredentialHeaderer); ok {
		// Canonical, as Header.Del would make them on every request.
		for _, name := range ch.CredentialHeaders() {
			h.credentialHeaders = append(h.credentialHeaders, textproto.CanonicalMIMEHeaderKey(name))
		}
	}
	h.providerValue = h.provider

	switch h.Forward {
	case "":
		h.Forward = "normalized"
	case "normalized", "original":
	default:
		return fmt.Errorf("paynotify: forward: %q is not normalized or original", h.Forward)
	}
	if h.MaxBody == 0 {
		h.MaxBody = DefaultMaxBody
	}
	if h.MaxBody < 0 {
		return fmt.Errorf("paynotify: max_body: %d is negative", h.MaxBody)
	}
	switch {
	case h.BodyTimeout == 0:
		h.bodyTimeout = DefaultBodyTimeout
	case h.BodyTimeout < 0:
		return fmt.Errorf("paynotify: body_timeout: %v is negative", time.Duration(h.BodyTimeout))
	default:
		h.bodyTimeout = time.Duration(h.BodyTimeout)
	}
	if h.dedupWindow, err = parseDedup(h.Dedup); err != nil {
		return fmt.Errorf("paynotify: dedup: %v", err)
	}
	if h.Store != nil && h.Store.Type == "redis" {
		// The URL may carry the Redis password: {env.*} and {file.*} work.
		resolved, err := verifiers.ResolveSecret(h.Store.URL)
		if err != nil {
			return fmt.Errorf("paynotify: store: %v", err)
		}
		h.redisURL = resolved
	}
	if err := h.Store.validate(h.redisURL, false); err != nil {
		return fmt.Errorf("paynotify: store: %v", err)
	}
	var to *url.URL
	if h.Deliver != nil {
		if to, err = h.Deliver.check(); err != nil {
			return fmt.Errorf("paynotify: deliver: %v", err)
		}
	}
	if h.dedupWindow == 0 && h.Store != nil && !h.Deliver.queued() {
		return errors.New("paynotify: store: has no effect with dedup off; remove one of them")
	}
	h.scope = defaultScope
	if h.DedupScope != "" {
		if err := checkScope(h.DedupScope); err != nil {
			return fmt.Errorf("paynotify: %v", err)
		}
		h.scope = h.DedupScope
	}
	h.deliveryTimeout, h.claimLease = deliveryTimeout, claimLease
	if h.dedupWindow > 0 || h.Deliver.queued() {
		if err := h.openStore(ctx); err != nil {
			return err
		}
		if err := h.claimScope(ctx, string(config)); err != nil {
			return err
		}
	}
	if h.UpstreamSecret != "" {
		secret, err := verifiers.ResolveSecret(h.UpstreamSecret)
		if err == nil {
			h.upstreamSigner, err = newUpstreamSigner(secret)
		}
		if err != nil {
			return fmt.Errorf("paynotify: upstream_secret: %v", err)
		}
		// Standard Webhooks signs the body: a GET forwarded as it came has
		// none, and its query would go unsigned.
		if h.Forward == "original" && slices.Contains(v.Methods(), http.MethodGet) {
			return fmt.Errorf("paynotify: upstream_secret: %s notifications may be GET requests, whose query a signature of the body would not cover with forward original; use forward normalized", h.provider)
		}
	}
	if h.Deliver.queued() {
		if err := h.provisionQueue(ctx, to); err != nil {
			return err
		}
	}
	h.provisionACK()

	if len(h.allow) == 0 {
		fields := []zap.Field{zap.String("provider", h.provider)}
		if weakness != "" {
			fields = append(fields, zap.String("weakness", weakness))
		}
		h.logger.Warn("allow_ip is not set: notifications are accepted from any source address; restrict them to the provider's addresses", fields...)
	}
	return nil
}

// loadProvider loads and provisions the provider module; its errors name
// the provider and the option.
func (h *Handler) loadProvider(ctx caddy.Context) (verifiers.Provider, error) {
	if len(h.ProviderRaw) == 0 {
		return nil, fmt.Errorf("paynotify: provider: required, e.g. {\"name\": \"octo3\", \"secrets\": [...]}")
	}
	if bytes.HasPrefix(bytes.TrimSpace(h.ProviderRaw), []byte(`"`)) {
		return nil, fmt.Errorf(`paynotify: provider: an object such as {"name": "octo3", "secrets": [...]} since providers are modules: the provider's options (secrets, algorithm, authorization, key, ...) moved into it`)
	}
	// The name exactly as Caddy reads it (encoding/json would also take
	// "Name", and Caddy's error for that quotes the whole object, secrets
	// and all).
	var members map[string]json.RawMessage
	var name string
	if err := json.Unmarshal(h.ProviderRaw, &members); err != nil {
		return nil, fmt.Errorf("paynotify: provider: not a JSON object: %v", err)
	}
	if raw, ok := members["name"]; !ok || json.Unmarshal(raw, &name) != nil {
		return nil, fmt.Errorf("paynotify: provider: the object has no \"name\" string (supported: %v)", verifiers.Providers())
	}
	if _, err := verifiers.LookupProvider(name); err != nil {
		return nil, fmt.Errorf("paynotify: %w", err)
	}
	mod, err := ctx.LoadModule(h, "ProviderRaw")
	if err != nil {
		// Caddy wraps the module's error in text ("loading module 'octo3':
		// provision http.handlers.paynotify.providers.octo3: ..."), not
		// with %w: keep the provider's own message, which names the option.
		msg := err.Error()
		if _, own, ok := strings.Cut(msg, "provision "+verifiers.Namespace+"."+name+": "); ok {
			msg = own
		}
		return nil, fmt.Errorf("paynotify %s: %s", name, msg)
	}
	p := mod.(verifiers.Provider)
	// Again, in case the provider's Provision does not: its options as
	// written (unresolved) are still there.
	if err := p.CheckConfig(); err != nil {
		return nil, fmt.Errorf("paynotify %s: %w", name, err)
	}
	// The name is in the metrics, the logs and the dedup keys.
	if p.Provider() != name {
		return nil, fmt.Errorf("paynotify %s: provider: the module calls itself %q in its events", name, p.Provider())
	}
	return p, nil
}

// parseDedup reads the dedup option: "off" (0), a duration, or empty for the default.
func parseDedup(s string) (time.Duration, error) {
	switch s {
	case "":
		return DefaultDedupWindow, nil
	case "off":
		return 0, nil
	}
	d, err := caddy.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration or off", s)
	}
	if d <= 0 {
		return 0, fmt.Errorf("%q must be positive (or off)", s)
	}
	return d, nil
}

// validate checks the store settings; redisURL is the URL to check, which
// may differ from s.URL once placeholders are resolved. A URL that is still
// a placeholder is let through when placeholders is set (Caddyfile parsing).
func (s *Store) validate(redisURL string, placeholders bool) error {
	if s == nil {
		return nil
	}
	switch s.Type {
	case "bolt":
		if s.URL != "" {
			return errors.New("bolt takes a path, not a url")
		}
	case "redis":
		if s.Path != "" {
			return errors.New("redis takes a url, not a path")
		}
		if placeholders && strings.Contains(redisURL, "{") {
			return nil // checked once it is resolved at provision
		}
		u, err := url.Parse(redisURL)
		if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") || u.Host == "" {
			return errors.New("redis needs a url such as redis://127.0.0.1:6379/0 (rediss:// for TLS)")
		}
	default:
		return fmt.Errorf("%q is not bolt or redis", s.Type)
	}
	return nil
}

// The outcomes of a notification, as logs and placeholders name them.
const (
	outcomeDelivered        = "delivered"
	outcomeDuplicate        = "duplicate"
	outcomeInFlight         = "in_flight"
	outcomeStoreUnavailable = "store_unavailable"
	outcomeUpstreamFailed   = "upstream_failed"
	outcomeInvalidSignature = "invalid_signature"
	outcomeForbiddenSource  = "forbidden_source"
	outcomeMalformed        = "malformed"
	outcomeTooLarge         = "too_large"
	outcomeBadMethod        = "bad_method"
	outcomeBodyTimeout      = "body_timeout"
	outcomeInquiryFailed    = "inquiry_failed"
	outcomeQueued           = "queued"
)

// outcomeValues are the outcomes boxed once, for the replacer.
var outcomeValues = func() map[string]any {
	m := make(map[string]any, len(outcomes))
	for _, o := range outcomes {
		m[o] = o
	}
	return m
}()

// ServeHTTP implements caddyhttp.MiddlewareHandler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	n := &notification{h: h, w: w, start: time.Now()}
	n.repl, _ = r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	defer func() {
		// A panic of the next handler passes through (net/http drops the
		// connection: no ACK), but the notification still gets its line
		// and its count.
		if v := recover(); v != nil {
			if !n.answered {
				n.outcome(outcomeUpstreamFailed, fmt.Errorf("panic in the next handler: %v", v))
			}
			panic(v)
		}
	}()
	n.setValue("paynotify.provider", h.providerValue)
	serverDeadline, deadlineSet := h.bodyDeadline(w, r, n.start)

	// Like Caddy's client_ip matcher: the client IP is not trustworthy
	// before the TLS handshake is complete (0-RTT).
	n.clientIP, n.clientIPText = clientAddr(r)
	if r.TLS != nil && !r.TLS.HandshakeComplete {
		return n.reject(http.StatusTooEarly, outcomeForbiddenSource, errors.New("TLS handshake not complete (0-RTT): the source is not established yet"))
	}
	if len(h.allow) > 0 {
		if entry, skipped := skippedClientIPEntry(r, n.clientIP); skipped {
			return n.reject(http.StatusForbidden, outcomeForbiddenSource,
				fmt.Errorf("the client address header holds an entry that is not an IP address (%.40q) where Caddy looked for the client: the source cannot be established", entry))
		}
	}
	if !h.sourceAllowed(n.clientIP) {
		return n.reject(http.StatusForbidden, outcomeForbiddenSource, fmt.Errorf("source %s is not in allow_ip", n.clientIP))
	}
	if !slices.Contains(h.methods, r.Method) {
		w.Header().Set("Allow", strings.Join(h.methods, ", "))
		return n.reject(http.StatusMethodNotAllowed, outcomeBadMethod, fmt.Errorf("method %s", r.Method))
	}
	if r.ContentLength > h.MaxBody {
		return n.reject(http.StatusRequestEntityTooLarge, outcomeTooLarge,
			fmt.Errorf("body of %d bytes is over max_body %d", r.ContentLength, h.MaxBody))
	}
	body, err := readBody(w, r, h.MaxBody)
	if err != nil {
		switch {
		case errors.As(err, new(*http.MaxBytesError)):
			return n.reject(http.StatusRequestEntityTooLarge, outcomeTooLarge, fmt.Errorf("body is over max_body %d", h.MaxBody))
		case errors.Is(err, os.ErrDeadlineExceeded):
			return n.reject(http.StatusRequestTimeout, outcomeBodyTimeout,
				fmt.Errorf("body not received within body_timeout %v (%d bytes arrived)", h.bodyTimeout, len(body)))
		}
		return n.reject(http.StatusBadRequest, outcomeMalformed, fmt.Errorf("reading body: %v", err))
	}
	if deadlineSet {
		// The server's own read deadline again, for what follows the body.
		_ = http.NewResponseController(w).SetReadDeadline(serverDeadline)
	}

	n.request = verifiers.Request{
		Method:     r.Method,
		Header:     r.Header,
		RawQuery:   r.URL.RawQuery,
		Body:       body,
		ClientIP:   n.clientIP,
		ReceivedAt: n.start,
	}
	vr := &n.request
	verifyStart := time.Now()
	var events []verifiers.Event
	if h.inquirer != nil {
		// The provider's API is asked below, once the events that were
		// delivered already are known: those are acknowledged without a call.
		events, err = h.inquirer.Notice(vr)
	} else {
		events, err = h.verifier.Verify(r.Context(), vr)
	}
	n.verifyDuration = time.Since(verifyStart)
	h.metrics.observeVerify(n.verifyDuration)
	if err != nil {
		return n.rejectVerification(err)
	}
	if len(events) == 0 {
		// Nothing to deliver is nothing to acknowledge.
		return n.reject(http.StatusBadRequest, outcomeMalformed, errors.New("the notification carries no event"))
	}
	n.events = events
	n.set("paynotify.event_id", events[0].ID)
	n.set("paynotify.status", string(events[0].Status))
	n.set("paynotify.order_id", events[0].OrderID)
	stripPaynotifyHeaders(r.Header)
	if h.upstreamSigner != nil {
		stripHeaders(r.Header, standardwebhooks.HeaderWebhookID, standardwebhooks.HeaderWebhookTimestamp,
			standardwebhooks.HeaderWebhookSignature)
	}

	// From here on the notification is seen through even if the provider
	// hangs up: a delivery cut short by the provider's own timeout would
	// otherwise be released while the app keeps it, and forwarded again.
	ctx := context.WithoutCancel(r.Context())

	// Claim every event before anything is forwarded.
	held := &claims{h: h}
	defer held.release(ctx) // whatever is left unsettled, a panic included
	pending, answered, err := n.claim(ctx, held, n.events)
	if answered {
		return err
	}
	if h.inquirer != nil {
		// The stated ids come from a notification the provider has not
		// confirmed yet: claimed while it is asked about, a forged copy
		// (an IPN's txn_id is on the buyer's receipt) would hold the
		// genuine one out with 409 at every retry. The claims above only
		// told which events were delivered already (ACKed without a
		// call); they are taken again once the provider confirmed.
		held.release(ctx)
		if pending, answered, err = n.inquire(r.Context(), ctx, vr, held, pending); answered {
			return err
		}
	}

	if h.queue != nil {
		return n.enqueue(ctx, r, body, pending, held)
	}

	// The delivery must end before the claims' leases do.
	deliveryCtx, cancel := context.WithTimeout(ctx, h.deliveryTimeout)
	defer cancel()
	fail := h.deliver(n, r.WithContext(deliveryCtx), body, pending, next, func(e verifiers.Event) {
		held.delivered(ctx, e.ID)
	})
	if fail != nil {
		if fail.unknown {
			held.keep() // the app may have it: no second copy before the lease ends
		}
		return n.reject(http.StatusBadGateway, outcomeUpstreamFailed, fail)
	}
	n.outcome(outcomeDelivered, nil)
	n.writeACK()
	return nil
}

// rejectVerification answers a verifier's (or an inquiry's) error.
func (n *notification) rejectVerification(err error) error {
	if errors.Is(err, verifiers.ErrInquiry) {
		n.w.Header().Set("Retry-After", inquiryRetryAfter)
		return n.reject(http.StatusServiceUnavailable, outcomeInquiryFailed, err)
	}
	status, outcome := rejection(err)
	if ss, ok := n.h.verifier.(verifiers.SignatureStatuser); ok && errors.Is(err, verifiers.ErrSignature) {
		status = ss.SignatureStatus()
	}
	return n.reject(status, outcome, err)
}

// claim claims, in the dedup store, each of events that is not held yet and
// returns those to deliver: not delivered within the window. answered is
// true when the provider is answered already, and then ServeHTTP returns
// err: every event is a duplicate (ACK), in flight (409) or the store
// failed (503). Without a store every event is pending. An event without an
// id yet (its provider's API tells it) is pending and claimed once it has
// one.
func (n *notification) claim(ctx context.Context, held *claims, events []verifiers.Event) (pending []verifiers.Event, answered bool, err error) {
	h := n.h
	if h.store == nil {
		return events, false, nil
	}
	for _, e := range events {
		if e.ID == "" {
			pending = append(pending, e)
			continue
		}
		if held.holds(e.ID) {
			continue // the same event twice in one request
		}
		key := h.eventKey(e)
		state, token, err := h.store.Claim(ctx, key, h.claimLease)
		switch {
		case err != nil:
			held.release(ctx)
			return nil, true, n.reject(http.StatusServiceUnavailable, outcomeStoreUnavailable, err)
		case state == dedup.InFlight:
			held.release(ctx)
			n.w.Header().Set("Retry-After", retryAfter)
			return nil, true, n.reject(http.StatusConflict, outcomeInFlight, fmt.Errorf("event %s is being delivered by another request", e.ID))
		case state == dedup.Claimed:
			held.add(e.ID, key, token)
			pending = append(pending, e)
		}
	}
	if len(pending) == 0 {
		n.outcome(outcomeDuplicate, nil)
		n.writeACK() // delivered within the window: the app has it
		return nil, true, nil
	}
	return pending, false, nil
}

// inquire asks the provider's API about the stated events that were not
// delivered yet, and claims the confirmed ones in held. reqCtx is the
// provider's request's context: a provider that hangs up ends the call.
func (n *notification) inquire(reqCtx, ctx context.Context, vr *verifiers.Request, held *claims, stated []verifiers.Event) (pending []verifiers.Event, answered bool, err error) {
	h := n.h
	start := time.Now()
	// inquiry_timeout bounds each call; the inquiry as a whole (PayPal:
	// a token, then the verification, maybe again) ends well before the
	// claims' lease does.
	inquiryCtx, cancel := context.WithTimeout(reqCtx, verifiers.MaxInquiryTimeout)
	defer cancel()
	var confirmed []verifiers.Event
	confirmed, err = h.inquirer.Inquire(inquiryCtx, vr, stated)
	n.inquiryDuration = time.Since(start)
	h.metrics.observeInquiry(n.inquiryDuration)
	switch {
	case err == nil:
		n.inquiryResult = "confirmed"
	case errors.Is(err, verifiers.ErrInquiry):
		n.inquiryResult = "failed"
	default:
		n.inquiryResult = "refused"
	}
	if err == nil && len(confirmed) == 0 {
		err = fmt.Errorf("%w: the provider's answer confirms no event", verifiers.ErrInquiry)
	}
	for _, e := range confirmed {
		if err == nil && e.ID == "" {
			err = fmt.Errorf("%w: a confirmed event has no id", verifiers.ErrInquiry)
		}
	}
	if err != nil {
		return nil, true, n.rejectVerification(err)
	}
	n.events = confirmed
	n.set("paynotify.event_id", confirmed[0].ID)
	n.set("paynotify.status", string(confirmed[0].Status))
	n.set("paynotify.order_id", confirmed[0].OrderID)
	return n.claim(ctx, held, confirmed)
}

// bodyDeadline sets the connection's read deadline to body_timeout from
// start: a client that sends its headers and then trickles the body holds a
// connection and a buffer, and a few hundred of them would otherwise hold
// them for as long as they like. It is set before anything is checked, so
// that it also bounds what net/http reads of an unread body after an early
// refusal (403, 405, 413), before it writes the answer. The server's own
// read deadline (timeouts read_body), when sooner, is kept: it is returned,
// with whether the connection took the new deadline, to be put back once
// the body is read.
func (h *Handler) bodyDeadline(w http.ResponseWriter, r *http.Request, start time.Time) (serverDeadline time.Time, set bool) {
	if srv, ok := r.Context().Value(caddyhttp.ServerCtxKey).(*caddyhttp.Server); ok && srv.ReadTimeout > 0 {
		serverDeadline = start.Add(time.Duration(srv.ReadTimeout))
	}
	deadline := start.Add(h.bodyTimeout)
	if !serverDeadline.IsZero() && serverDeadline.Before(deadline) {
		deadline = serverDeadline
	}
	if err := http.NewResponseController(w).SetReadDeadline(deadline); err != nil {
		return serverDeadline, false // not supported by this connection: the server's timeouts apply
	}
	return serverDeadline, true
}

// maxBodyBuffer is the most readBody allocates before bytes arrive: the
// buffer grows with the body as it comes, so that a client that declares a
// large Content-Length and then stalls costs no more than what it sent.
const maxBodyBuffer = 16 << 10

// readBody reads the body, up to max bytes; a body of up to maxBodyBuffer
// bytes in one allocation of its declared length (it is kept: the event's
// raw fields and an original forward refer to it).
func readBody(w http.ResponseWriter, r *http.Request, max int64) ([]byte, error) {
	size := int64(512)
	if r.ContentLength > 0 && r.ContentLength <= max {
		size = min(r.ContentLength+1, maxBodyBuffer) // +1: room for the read that sees the end
	}
	body, limited := make([]byte, 0, size), http.MaxBytesReader(w, r.Body, max)
	for {
		if len(body) == cap(body) {
			body = append(body, 0)[:len(body)] // as io.ReadAll grows
		}
		n, err := limited.Read(body[len(body):cap(body)])
		body = body[:len(body)+n]
		if err == io.EOF {
			return body, nil
		}
		if err != nil {
			return body, err
		}
	}
}

// rejection maps a verifier error to the status the provider gets.
func rejection(err error) (int, string) {
	switch {
	case errors.Is(err, verifiers.ErrMethod):
		return http.StatusMethodNotAllowed, outcomeBadMethod
	case errors.Is(err, verifiers.ErrSignature):
		return http.StatusUnauthorized, outcomeInvalidSignature
	case errors.Is(err, verifiers.ErrForbidden):
		// A wrong credential header is an authentication failure like a bad
		// signature, even though its status is 403.
		return http.StatusForbidden, outcomeInvalidSignature
	default:
		return http.StatusBadRequest, outcomeMalformed
	}
}

// deliver forwards the notification: in normalized mode each event as its own
// JSON POST, in original mode the request as received. Every forward must be
// answered 2xx; accepted is called for each event the app accepted, as soon
// as it did. The events' buffers go back to their pool once every request
// is answered and the app's side closed its body (see eventBody).
func (h *Handler) deliver(n *notification, r *http.Request, body []byte, events []verifiers.Event, next caddyhttp.Handler,
	accepted func(verifiers.Event)) *upstreamFailure {
	var one [1]forwarded // a notification of one event needs no slice on the heap
	requests, err := h.forwards(one[:0], r, body, events, true, true)
	if err != nil {
		return &upstreamFailure{err: err}
	}
	defer releaseForwards(requests)
	for _, f := range requests {
		fail := h.forward(n, f.alloc, next)
		if fail == nil || fail.accepted {
			for _, e := range f.events {
				accepted(e)
			}
		}
		if fail != nil {
			return fail
		}
	}
	return nil
}

// forwarded is a request to the app and the events it carries.
type forwarded struct {
	request *http.Request
	body    []byte
	events  []verifiers.Event
	alloc   *forwardAlloc
}

// releaseForwards gives the events' buffers back (once their readers are
// closed too) and ends their GetBody.
func releaseForwards(requests []forwarded) {
	for _, f := range requests {
		f.alloc.release()
	}
}

// forwards appends to dst what the app gets: in normalized mode each event
// as its own JSON POST, in original mode the request as received. With
// sign, the requests carry upstream_secret's signature (queued deliveries
// are signed at each attempt instead). With pooled, the events are written
// into buffers from eventBodies, which the caller hands back with
// releaseForwards once the next handler returned; the queue keeps what it
// is given, so it gets buffers of its own.
func (h *Handler) forwards(dst []forwarded, r *http.Request, body []byte, events []verifiers.Event, sign, pooled bool) ([]forwarded, error) {
	if h.Forward == "original" {
		fa := h.forwardRequest(r, body, nil, sign, events)
		return append(dst, forwarded{&fa.req, body, events, fa}), nil
	}
	first := len(dst)
	for i := range events {
		e := &events[i]
		var eb *eventBody
		var event []byte
		var err error
		if pooled {
			eb = eventBodies.Get().(*eventBody)
			eb.refs.Store(1) // the handler's, until releaseForwards
			eb.buf, err = e.AppendJSON(eb.buf[:0])
			event = eb.buf
		} else {
			event, err = e.AppendJSON(make([]byte, 0, len(e.Raw)+eventJSONOverhead))
		}
		if err != nil {
			if eb != nil {
				eb.release()
			}
			releaseForwards(dst[first:])
			return nil, fmt.Errorf("encoding event: %v", err)
		}
		fa := h.forwardRequest(r, event, eb, sign, events[i:i+1])
		fr := &fa.req
		fr.Method = http.MethodPost
		fr.URL.RawQuery = ""
		fr.RequestURI = fr.URL.RequestURI()
		fa.values[forwardContentType] = "application/json"
		fr.Header["Content-Type"] = fa.value(forwardContentType)
		for _, name := range [...]string{"Content-Encoding", "Content-Md5", "Digest", "Content-Digest"} {
			delete(fr.Header, name)
		}
		// The provider's signature does not sign the event, and its
		// credential (Authorization, OC-Key) is a secret of this config.
		// With upstream_secret, the Standard Webhooks headers are ours
		// (the provider's were stripped before): a provider whose own
		// signature travels in one of them (GoCardless' Webhook-Signature,
		// a standardwebhooks sender's three) must not take ours away.
		for _, name := range h.credentialHeaders {
			if h.upstreamSigner != nil && isUpstreamSignatureHeader(name) {
				continue
			}
			delete(fr.Header, name)
		}
		dst = append(dst, forwarded{fr, event, events[i : i+1], fa})
	}
	return dst, nil
}

// isUpstreamSignatureHeader reports whether the canonical header name is one
// of the Standard Webhooks headers upstream_secret signs with.
func isUpstreamSignatureHeader(name string) bool {
	return name == "Webhook-Id" || name == "Webhook-Timestamp" || name == "Webhook-Signature"
}

// eventJSONOverhead is room for an event's members besides raw.
const eventJSONOverhead = 1024

// The header values paynotify sets on a forwarded request, by index into
// forwardAlloc.values.
const (
	forwardContentLength = iota
	forwardEventID
	forwardProvider
	forwardStatus
	forwardContentType
	forwardValues
)

// forwardAlloc is one forwarded request and what it is made of, in one
// allocation: the request, its URL, the header values paynotify sets (each
// its own slice of values, so that a handler that edits values in place,
// such as Caddy's header replacements, edits only this request's), room
// for the values copied from the provider's request, its first body reader
// and the recorder of the app's reply. It is never pooled: the next
// handler may keep the request or its body past the forward.
type forwardAlloc struct {
	req    http.Request
	url    url.URL
	values [forwardValues]string
	copied [forwardCopied]string
	reader eventBodyReader
	reply  upstreamReply

	mu    sync.Mutex
	event *eventBody // the pooled event, until release; nil if not pooled
}

// value is values[i] as a header's values.
func (fa *forwardAlloc) value(i int) []string { return fa.values[i : i+1 : i+1] }

// getBody is the request's GetBody with a pooled event: a new reader of the
// event while the handler holds it, an error after (the buffer may belong
// to another request by then; net/http only asks during the forward).
func (fa *forwardAlloc) getBody() (io.ReadCloser, error) {
	fa.mu.Lock()
	defer fa.mu.Unlock()
	if fa.event == nil {
		return nil, errors.New("paynotify: the forwarded event is no longer available")
	}
	r := &eventBodyReader{}
	r.open(fa.event)
	return r, nil
}

// release drops the handler's hold on the pooled event.
func (fa *forwardAlloc) release() {
	fa.mu.Lock()
	eb := fa.event
	fa.event = nil
	fa.mu.Unlock()
	if eb != nil {
		eb.release()
	}
}

// eventBodies pools the buffers events are written into for a direct
// delivery.
var eventBodies = sync.Pool{New: func() any { return new(eventBody) }}

// maxPooledEvent is the largest buffer given back to eventBodies; a larger
// event's buffer is left to the garbage collector.
const maxPooledEvent = 64 << 10

// eventBody is a pooled buffer holding one forwarded event. It goes back
// to the pool when the last of its holders lets go: the handler (once the
// next handler returned) and every reader of it, at Close. net/http's
// transport may close a request's body after RoundTrip returned, and reads
// nothing after Close; a reader that is never closed keeps the buffer out
// of the pool (the garbage collector takes it).
type eventBody struct {
	buf  []byte
	refs atomic.Int32
}

func (eb *eventBody) release() {
	if eb.refs.Add(-1) == 0 && cap(eb.buf) <= maxPooledEvent {
		eb.buf = eb.buf[:0]
		eventBodies.Put(eb)
	}
}

// eventBodyReader reads a pooled event until it is closed, and fails after.
// Read and Close exclude each other, so that a Close from another goroutine
// does not hand the buffer back during a Read.
type eventBodyReader struct {
	mu    sync.Mutex
	event *eventBody // nil once closed
	r     bytes.Reader
}

func (r *eventBodyReader) open(eb *eventBody) {
	eb.refs.Add(1)
	r.event = eb
	r.r.Reset(eb.buf)
}

func (r *eventBodyReader) Read(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.event == nil {
		return 0, errors.New("paynotify: read of a closed forwarded body")
	}
	return r.r.Read(p)
}

func (r *eventBodyReader) Close() error {
	r.mu.Lock()
	eb := r.event
	r.event = nil
	r.r.Reset(nil)
	r.mu.Unlock()
	if eb != nil {
		eb.release()
	}
	return nil
}

// forwardRequest copies r with body as its body (read from eb when it is
// pooled), the Paynotify-* headers describing events and, with
// upstream_secret and sign, the Standard Webhooks signature of body.
//
// It is r.Clone without the deep copies a forward does not need: the
// header is copied (it is edited) without the fields dropped here, and the
// URL (normalized mode edits it); the rest is shared with r as
// r.WithContext shares it.
func (h *Handler) forwardRequest(r *http.Request, body []byte, eb *eventBody, sign bool, events []verifiers.Event) *forwardAlloc {
	fa := &forwardAlloc{req: *r}
	fr := &fa.req
	if r.URL != nil {
		fa.url = *r.URL
		fr.URL = &fa.url
	}
	fr.Header = forwardHeader(r.Header, fa.copied[:0])
	if eb != nil {
		fa.event = eb
		fa.reader.open(eb)
		fr.Body = &fa.reader
		fr.GetBody = fa.getBody
	} else {
		fr.Body = io.NopCloser(bytes.NewReader(body))
		fr.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	}
	fr.ContentLength = int64(len(body))
	fa.values[forwardContentLength] = strconv.Itoa(len(body))
	fr.Header["Content-Length"] = fa.value(forwardContentLength)
	fr.TransferEncoding = nil
	fr.Trailer = nil // trailers are not signed; a Paynotify-* one would pass as ours
	// Hop-by-hop headers concern the provider's connection, not the app's
	// (forwardHeader leaves out the usual ones). reverse_proxy would also
	// delete every header Connection names, which would let the provider's
	// side strip Paynotify-* or Content-Type.
	for _, value := range r.Header["Connection"] {
		for {
			listed, rest, more := strings.Cut(value, ",")
			fr.Header.Del(strings.TrimSpace(listed))
			if !more {
				break
			}
			value = rest
		}
	}
	id, status := "", ""
	if len(events) == 1 {
		id, status = events[0].ID, string(events[0].Status)
	} else {
		ids, statuses := make([]string, len(events)), make([]string, len(events))
		for i, e := range events {
			ids[i], statuses[i] = e.ID, string(e.Status)
		}
		id, status = strings.Join(ids, ", "), strings.Join(statuses, ", ")
	}
	fa.values[forwardEventID], fa.values[forwardProvider], fa.values[forwardStatus] = id, h.provider, status
	fr.Header["Paynotify-Event-Id"] = fa.value(forwardEventID)
	fr.Header["Paynotify-Provider"] = fa.value(forwardProvider)
	fr.Header["Paynotify-Status"] = fa.value(forwardStatus)
	if h.upstreamSigner != nil && sign {
		signUpstream(h.upstreamSigner, fr.Header, id, time.Now(), body)
	}
	return fa
}

// forwardCopied is how many header values a forwardAlloc holds; a request
// with more gets an array of its own.
const forwardCopied = 16

// forwardHeader is header.Clone() without the fields no forward carries:
// the hop-by-hop ones, Cookie (providers send none; ASP.NET's Request[] and
// PHP's $_REQUEST read cookies as parameters), and those forwardRequest
// sets, with room for those. The values are copied into room when it has
// the capacity.
func forwardHeader(header http.Header, room []string) http.Header {
	nv := 0
	for _, vv := range header {
		nv += len(vv)
	}
	values := room[:cap(room)] // one array for every value, as Clone does
	if nv > len(values) {
		values = make([]string, nv)
	}
	out := make(http.Header, len(header)+forwardValues)
	for name, vv := range header {
		switch name {
		case "Connection", "Keep-Alive", "Proxy-Connection", "Te", "Trailer", "Upgrade", "Expect",
			"Proxy-Authorization", "Proxy-Authenticate", "Alt-Svc", "Cookie",
			"Content-Length", "Paynotify-Event-Id", "Paynotify-Provider", "Paynotify-Status":
			continue
		}
		if vv == nil {
			out[name] = nil // as Clone keeps it
			continue
		}
		n := copy(values, vv)
		out[name] = values[:n:n]
		values = values[n:]
	}
	return out
}

// upstreamFailure is why a forward did not end in a 2xx.
type upstreamFailure struct {
	err error
	// accepted: the app answered 2xx and then its reply broke off. It has
	// the event; the provider gets no ACK this time, its retry will.
	accepted bool
	// unknown: the delivery timed out while the app worked on it, so the
	// app may have the event.
	unknown bool
}

func (f *upstreamFailure) Error() string { return f.err.Error() }

// forward calls the next handler with a recorder that keeps all of its reply
// from the provider, and fails unless the reply is 2xx.
func (h *Handler) forward(n *notification, fa *forwardAlloc, next caddyhttp.Handler) *upstreamFailure {
	rec := &fa.reply
	rec.header = make(http.Header)
	start := time.Now()
	err := serveRecovered(next, rec, &fa.req)
	took := time.Since(start)
	n.upstreamDuration += took
	h.metrics.observeUpstream(took)
	n.upstreamStatus = rec.status
	twoXX := rec.status >= 200 && rec.status <= 299
	switch {
	case err != nil:
		var he caddyhttp.HandlerError
		timedOut := errors.Is(err, context.DeadlineExceeded)
		if errors.As(err, &he) {
			timedOut = timedOut || he.StatusCode == http.StatusGatewayTimeout
			if he.Err != nil {
				err = he.Err // without Caddy's trace id and source line
			}
		}
		return &upstreamFailure{err: fmt.Errorf("upstream: %v", err), accepted: twoXX, unknown: timedOut}
	case rec.status == 0:
		return &upstreamFailure{err: errors.New("the next handler wrote no response (is reverse_proxy configured after paynotify?)")}
	case !twoXX:
		return &upstreamFailure{err: fmt.Errorf("upstream answered %d", rec.status)}
	}
	return nil
}

// serveRecovered calls next, turning reverse_proxy's abort of a response cut
// short (a panic with http.ErrAbortHandler) into an error, so that the
// provider gets a 502 rather than a dropped connection.
func serveRecovered(next caddyhttp.Handler, w http.ResponseWriter, r *http.Request) (err error) {
	defer func() {
		if v := recover(); v != nil {
			if v != http.ErrAbortHandler {
				panic(v)
			}
			err = errors.New("upstream response aborted")
		}
	}()
	return next.ServeHTTP(w, r)
}

// provisionACK works out the acknowledgement: the provider's, with the ack
// option's text instead of its body.
func (h *Handler) provisionACK() {
	ack := h.verifier.ACK()
	body := ack.Body
	if h.ACK != "" {
		body = h.ACK
		ack.ContentType = "text/plain; charset=utf-8"
		if ack.Status == http.StatusNoContent {
			ack.Status = http.StatusOK // a 204 carries no body: the ack text would be dropped
		}
	}
	h.ackStatus, h.ackContentType = ack.Status, ack.ContentType
	h.ackLength, h.ackBody = strconv.Itoa(len(body)), []byte(body)
}

// writeACK answers the provider with its acknowledgement.
func (n *notification) writeACK() {
	h := n.h
	// The header values are this response's own (a handler may edit values
	// in place), in the notification's allocation.
	n.ackValues[0], n.ackValues[1] = h.ackLength, h.ackContentType
	header := n.w.Header()
	if h.ackContentType != "" {
		header["Content-Type"] = n.ackValues[1:2:2]
	}
	header["Content-Length"] = n.ackValues[0:1:1]
	n.w.WriteHeader(h.ackStatus)
	_, _ = n.w.Write(h.ackBody) // writers do not keep or change what they are given
}

// restrictsSources reports whether allow_ip is set and allows less than every address.
func (h *Handler) restrictsSources() bool {
	for _, p := range h.allow {
		if p.Bits() == 0 {
			return false
		}
	}
	return len(h.allow) > 0
}

func (h *Handler) sourceAllowed(ip netip.Addr) bool {
	if len(h.allow) == 0 {
		return true
	}
	ip = ip.Unmap()
	for _, p := range h.allow {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// clientAddr is the client address as Caddy resolved it, which honours the
// server's trusted_proxies, and its text (ip.String()), which is Caddy's own
// text of it when that is already written the same way.
func clientAddr(r *http.Request) (netip.Addr, string) {
	s, _ := caddyhttp.GetVar(r.Context(), caddyhttp.ClientIPVarKey).(string)
	if s == "" {
		s, _, _ = net.SplitHostPort(r.RemoteAddr)
	}
	ip, _ := netip.ParseAddr(s)
	ip = ip.WithZone("")
	var text [64]byte
	if ip.IsValid() && string(ip.AppendTo(text[:0])) == s {
		return ip, s
	}
	return ip, ip.String()
}

// skippedClientIPEntry reports an entry of the client address headers that
// Caddy passed over, unparsed, on its way to the client address: a balancer
// that appends "unknown" or "_hidden" to X-Forwarded-For would otherwise
// make the address to its left, which the client wrote, pass for the
// client's. It walks the headers as Caddy does for a request from a trusted
// proxy: with trusted_proxies_strict from the right to the first untrusted
// address (the client address), otherwise from the left to the first address.
func skippedClientIPEntry(r *http.Request, clientIP netip.Addr) (string, bool) {
	if trusted, _ := caddyhttp.GetVar(r.Context(), caddyhttp.TrustedProxyVarKey).(bool); !trusted {
		return "", false
	}
	srv, _ := r.Context().Value(caddyhttp.ServerCtxKey).(*caddyhttp.Server)
	if srv == nil {
		return "", false
	}
	parse := func(part string) (netip.Addr, bool) {
		host, _, err := net.SplitHostPort(part)
		if err != nil {
			host = part
		}
		host, _, _ = strings.Cut(strings.TrimSpace(host), "%")
		ip, err := netip.ParseAddr(host)
		return ip.WithZone(""), err == nil
	}
	if srv.TrustedProxiesStrict > 0 {
		for _, name := range srv.ClientIPHeaders {
			values := r.Header.Values(name)
			if len(values) == 0 {
				continue
			}
			parts := strings.Split(strings.Join(values, ","), ",")
			for _, part := range slices.Backward(parts) {
				ip, ok := parse(part)
				if !ok {
					return part, true
				}
				if ip == clientIP {
					return "", false
				}
			}
		}
		return "", false
	}
	var values []string
	for _, name := range srv.ClientIPHeaders {
		values = append(values, r.Header.Values(name)...)
	}
	if len(values) == 0 {
		return "", false
	}
	// Caddy takes the first entry that parses: any entry before it was skipped.
	first, _, _ := strings.Cut(strings.Join(values, ","), ",")
	if _, ok := parse(first); ok {
		return "", false
	}
	return first, true
}

// stripPaynotifyHeaders removes every Paynotify-* header that came from
// outside, including spellings with underscores or dots, which CGI, FastCGI
// and PHP apps read as the same variable (Caddy drops those spellings unless
// the server's expected_underscore_headers or expected_dot_headers allow them).
func stripPaynotifyHeaders(header http.Header) {
	const prefix = "paynotify-"
	for name := range header {
		if len(name) >= len(prefix) && cgiEqual(name[:len(prefix)], prefix) {
			delete(header, name)
		}
	}
}

// stripHeaders removes the headers names (lower case), in every spelling
// that a CGI app reads as the same variable.
func stripHeaders(header http.Header, names ...string) {
	for name := range header {
		if slices.ContainsFunc(names, func(n string) bool { return cgiEqual(name, n) }) {
			delete(header, name)
		}
	}
}

// cgiEqual reports whether the header name is lower as a CGI variable: with
// dashes for underscores and dots, regardless of case. (It allocates only
// for a name with an underscore or a dot.)
func cgiEqual(name, lower string) bool {
	return len(name) == len(lower) && strings.EqualFold(cgiSeparators.Replace(name), lower)
}

var cgiSeparators = strings.NewReplacer("_", "-", ".", "-")

// notification carries one request's state for logging and placeholders.
type notification struct {
	h                *Handler
	w                http.ResponseWriter
	repl             *caddy.Replacer
	start            time.Time
	clientIP         netip.Addr
	clientIPText     string // clientIP.String()
	events           []verifiers.Event
	answered         bool // the outcome is logged and counted
	upstreamStatus   int
	verifyDuration   time.Duration
	upstreamDuration time.Duration
	inquiryDuration  time.Duration
	inquiryResult    string // confirmed, refused or failed; "" without a call

	// In the notification's own allocation: the request as the verifier
	// sees it, the log line's fields (the line has at most this many) and
	// the ACK's header values.
	request   verifiers.Request
	fields    [13]zap.Field
	ackValues [2]string
}

func (n *notification) set(key, value string) {
	if n.repl != nil && value != "" {
		n.repl.Set(key, value)
	}
}

// setValue sets a placeholder to a value boxed beforehand.
func (n *notification) setValue(key string, value any) {
	if n.repl != nil {
		n.repl.Set(key, value)
	}
}

// outcome logs the one line every notification gets and sets the outcome
// placeholder. The reason never holds secret material or the body.
func (n *notification) outcome(outcome string, reason error) {
	n.answered = true
	n.setValue("paynotify.outcome", outcomeValues[outcome])
	n.h.metrics.count(outcome)
	level := zapcore.InfoLevel
	if reason != nil {
		level = zapcore.WarnLevel
	}
	ce := n.h.logger.Check(level, "notification")
	if ce == nil {
		return
	}
	fields := append(n.fields[:0],
		zap.String("provider", n.h.provider),
		zap.String("outcome", outcome),
		zap.String("client_ip", n.clientIPText),
	)
	if len(n.events) > 0 {
		fields = append(fields, zap.String("event_id", n.events[0].ID), zap.String("order_id", n.events[0].OrderID),
			zap.String("status", string(n.events[0].Status)))
	}
	if reason != nil {
		fields = append(fields, zap.String("reason", reason.Error()))
	}
	if n.upstreamStatus != 0 {
		fields = append(fields, zap.Int("upstream_status", n.upstreamStatus))
	}
	fields = append(fields, zap.Duration("duration", time.Since(n.start)))
	if n.verifyDuration > 0 {
		fields = append(fields, zap.Duration("verify_duration", n.verifyDuration))
	}
	if n.inquiryResult != "" {
		fields = append(fields, zap.String("inquiry", n.inquiryResult), zap.Duration("inquiry_duration", n.inquiryDuration))
	}
	if n.upstreamDuration > 0 {
		fields = append(fields, zap.Duration("upstream_duration", n.upstreamDuration))
	}
	ce.Write(fields...)
}

// reject logs the outcome and answers status, without the provider's ACK.
// A 4xx is returned as a caddyhttp.Error, so that handle_errors and the
// access log see it (Caddy logs those at debug level). A 5xx is written here:
// Caddy would log it at error level together with the request as received,
// headers and query included, and that prints a provider's credential header
// (OC-Key) or a GET notification (oobit) itself. The reason is in the
// notification line logged here.
func (n *notification) reject(status int, outcome string, reason error) error {
	n.outcome(outcome, reason)
	if status >= 500 {
		n.w.WriteHeader(status)
		return nil
	}
	return caddyhttp.Error(status, fmt.Errorf("paynotify: %s: %w", outcome, reason))
}

// Interface guards.
var (
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddy.CleanerUpper          = (*Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
)
