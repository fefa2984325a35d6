package verifiers

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
)

// ErrInquiry: the provider's API could not be asked, or gave no usable
// answer: unreachable, too slow, a 5xx, an error code or an unreadable
// answer (503 with Retry-After, outcome inquiry_failed). Nothing is
// forwarded and nothing is acknowledged, so the provider retries.
var ErrInquiry = errors.New("inquiry failed")

// Inquirer is implemented by a verifier that confirms a notification by
// asking the provider's API (verify by inquiry), because the notification
// cannot prove itself: no signature (Mollie's classic webhook, PayPal IPN),
// a signature that can be regrouped (oobit, octopus), or one only the
// provider can check (PayPal's REST webhooks).
//
// Its Verify is VerifyByInquiry. The paynotify handler calls the two halves
// itself, so that an event it delivered already is acknowledged without a
// call to the API: Notice, then a look at the dedup store, then Inquire for
// the events that are not duplicates, then the claims of the confirmed
// events (nothing is held during the call: a forged copy must not hold the
// genuine one out).
type Inquirer interface {
	Verifier
	// Inquires reports whether this instance asks the provider's API.
	// oobit and octopus ask only when inquire is configured.
	Inquires() bool
	// Notice does the checks the notification allows by itself (method,
	// form, signature where there is one, receiver) and returns the events
	// it states, unconfirmed. An event whose id can only be known from the
	// provider's answer (Mollie) has an empty ID.
	Notice(r *Request) ([]Event, error)
	// Inquire asks the provider's API about stated (events Notice returned)
	// and returns the confirmed events, which may carry what the API
	// answered. The error wraps ErrSignature when the provider disagrees or
	// does not know the transaction (the reason names the field), and
	// ErrInquiry when it could not be asked.
	Inquire(ctx context.Context, r *Request, stated []Event) ([]Event, error)
}

// VerifyByInquiry is the Verify of an Inquirer: Notice, then, when it
// inquires, Inquire. No event is returned unconfirmed.
func VerifyByInquiry(ctx context.Context, v Inquirer, r *Request) ([]Event, error) {
	stated, err := v.Notice(r)
	if err != nil || !v.Inquires() {
		return stated, err
	}
	return v.Inquire(ctx, r, stated)
}

// InquireEach asks about each stated event in turn with one and returns
// the confirmed events, or the first error: for providers whose API is
// asked about one transaction at a time.
func InquireEach(ctx context.Context, stated []Event, one func(context.Context, Event) (Event, error)) ([]Event, error) {
	confirmed := make([]Event, 0, len(stated))
	for _, e := range stated {
		c, err := one(ctx, e)
		if err != nil {
			return nil, err
		}
		confirmed = append(confirmed, c)
	}
	return confirmed, nil
}

// The limits of an inquiry.
const (
	// DefaultInquiryTimeout bounds each call of an inquiry unless
	// inquiry_timeout says otherwise.
	DefaultInquiryTimeout = 10 * time.Second
	// MaxInquiryTimeout is the longest inquiry_timeout, and the paynotify
	// handler's bound on a whole inquiry (every call it makes): the
	// inquiry and the delivery must end before the dedup claim's lease, and
	// providers stop waiting for an answer after 10 to 30 seconds.
	MaxInquiryTimeout = 30 * time.Second
	// MaxInquiryAnswer is the largest answer read; a longer one is a
	// failed inquiry.
	MaxInquiryAnswer = 1 << 20
	// maxInquiryRedirects bounds the redirects followed, all to the host
	// asked.
	maxInquiryRedirects = 3
)

// inquiryUserAgent names paynotify to the provider's API (PayPal refuses
// IPN postbacks without a User-Agent).
const inquiryUserAgent = "paynotify-inquiry/1"

// inquiryTransport is shared by every inquiring provider of the process, so
// that connections to an API are reused across notifications, handlers and
// config reloads. TLS certificates are always verified; there is no option
// to turn that off.
var inquiryTransport = &http.Transport{
	Proxy:                  http.ProxyFromEnvironment,
	DialContext:            (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
	ForceAttemptHTTP2:      true,
	MaxIdleConns:           64,
	MaxIdleConnsPerHost:    16,
	IdleConnTimeout:        90 * time.Second,
	TLSHandshakeTimeout:    10 * time.Second,
	ExpectContinueTimeout:  time.Second,
	MaxResponseHeaderBytes: 64 << 10,
	TLSClientConfig:        &tls.Config{MinVersion: tls.VersionTLS12},
}

// Inquiry holds the inquire and inquiry_timeout options of a provider that
// asks the provider's API, and makes the calls. Embed it in the provider's
// module: its JSON fields become the provider's.
type Inquiry struct {
	// URL is the API's base URL (or, for oobit and octopus, the full URL
	// of the call): https, or http on a loopback address for a stand-in.
	URL string `json:"inquire,omitempty"`
	// Timeout bounds each call to the API; default 10s, at most 30s.
	Timeout caddy.Duration `json:"inquiry_timeout,omitempty"`

	base    *url.URL // nil: not configured
	timeout time.Duration
	client  *http.Client
}

// Options returns the inquire and inquiry_timeout options; what says what
// inquire names ("the API's base URL").
func (q *Inquiry) Options(what string) []Option {
	return []Option{
		StringOption("inquire", "<url>", what+": https, or http on loopback for a stand-in", &q.URL),
		DurationOption("inquiry_timeout", fmt.Sprintf("bounds each call to the API (default %s, at most %s)",
			DefaultInquiryTimeout, MaxInquiryTimeout), &q.Timeout),
	}
}

// Set reports whether the inquire URL is configured (or defaulted).
func (q *Inquiry) Set() bool { return q.URL != "" }

// CheckConfig checks the options as written; def is the provider's default
// URL ("" when it has none). A URL with placeholders is checked at
// provision, once they are resolved.
func (q *Inquiry) CheckConfig(def string) error {
	if time.Duration(q.Timeout) < 0 || time.Duration(q.Timeout) > MaxInquiryTimeout {
		return &OptionError{Option: "inquiry_timeout", Msg: fmt.Sprintf("%s is not between 0 and %s", time.Duration(q.Timeout), MaxInquiryTimeout)}
	}
	if q.Timeout != 0 && q.URL == "" && def == "" {
		return &OptionError{Option: "inquiry_timeout", Msg: "applies only with inquire"}
	}
	if q.URL != "" && !strings.Contains(q.URL, "{") {
		_, err := parseInquiryURL(q.URL)
		return err
	}
	return nil
}

// Provision resolves the URL (def when none is configured; no inquiry when
// both are empty) and prepares the client.
func (q *Inquiry) Provision(def string) error {
	if err := q.CheckConfig(def); err != nil {
		return err
	}
	if q.URL == "" {
		q.URL = def
	}
	if q.URL == "" {
		return nil
	}
	resolved, err := ResolveSecret(q.URL)
	if err != nil {
		return &OptionError{Option: "inquire", Msg: err.Error()}
	}
	if q.base, err = parseInquiryURL(resolved); err != nil {
		return err
	}
	q.timeout = time.Duration(q.Timeout)
	if q.timeout == 0 {
		q.timeout = DefaultInquiryTimeout
	}
	q.client = &http.Client{Transport: inquiryTransport, CheckRedirect: sameHostRedirect}
	return nil
}

// parseInquiryURL accepts an absolute https URL, or http to a loopback
// host, without credentials or a fragment.
func parseInquiryURL(raw string) (*url.URL, error) {
	bad := func(msg string) error { return &OptionError{Option: "inquire", Msg: msg} }
	u, err := url.Parse(raw)
	if err != nil {
		return nil, bad("not a URL")
	}
	// The URL is never quoted: it may hold credentials (a mistake, but
	// one that should not end up in a log).
	switch {
	case u.User != nil || strings.Contains(u.Opaque, "@"):
		return nil, bad("a URL with credentials; credentials are options of their own")
	case u.Scheme != "https" && u.Scheme != "http", u.Host == "", u.Opaque != "":
		return nil, bad("not an absolute http(s) URL such as https://api.example.com")
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return nil, bad("a URL with a fragment")
	case u.Scheme == "http" && !loopbackHost(u.Hostname()):
		return nil, bad(fmt.Sprintf("http is only for a stand-in on a loopback address, and %s is not one: the provider's API is https", u.Hostname()))
	}
	return u, nil
}

// loopbackHost reports whether host is localhost or a loopback address.
func loopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

// sameHostRedirect follows a few redirects to the host asked, never to
// another host and never from https to http.
func sameHostRedirect(req *http.Request, via []*http.Request) error {
	first := via[0].URL
	switch {
	case len(via) > maxInquiryRedirects:
		return fmt.Errorf("more than %d redirects", maxInquiryRedirects)
	case !strings.EqualFold(req.URL.Host, first.Host):
		return fmt.Errorf("redirect to another host (%s) refused", req.URL.Hostname())
	case first.Scheme == "https" && req.URL.Scheme != "https":
		return errors.New("redirect from https to http refused")
	}
	return nil
}

// Endpoint returns the base URL with path appended (path starts with /),
// and query, already encoded, when not empty.
func (q *Inquiry) Endpoint(path, query string) string {
	u := *q.base
	u.Path = strings.TrimSuffix(u.Path, "/") + path
	u.RawPath = ""
	if query != "" {
		u.RawQuery = query
	}
	return u.String()
}

// Base is the resolved base URL's string, "" when there is none.
func (q *Inquiry) Base() string {
	if q.base == nil {
		return ""
	}
	return q.base.String()
}

// Answer is the provider API's answer to one call.
type Answer struct {
	Status int
	Header http.Header
	Body   []byte
}

// Do sends req with the inquiry's timeout (from the start of this call) and
// reads the answer, at most MaxInquiryAnswer bytes. A call that fails, times
// out or whose answer is too long is ErrInquiry; the reason names the
// host, never the query (oobit's carries a signature made with the secret).
func (q *Inquiry) Do(ctx context.Context, req *http.Request) (*Answer, error) {
	if q.client == nil {
		return nil, fmt.Errorf("%w: inquire is not configured (is the provider provisioned?)", ErrInquiry)
	}
	ctx, cancel := context.WithTimeout(ctx, q.timeout)
	defer cancel()
	req = req.WithContext(ctx)
	req.Header.Set("User-Agent", inquiryUserAgent)
	where := req.URL.Host
	resp, err := q.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrInquiry, q.describe(ctx, where, err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxInquiryAnswer+1))
	if err != nil {
		return nil, fmt.Errorf("%w: reading the answer of %s: %s", ErrInquiry, where, q.describe(ctx, where, err))
	}
	if len(body) > MaxInquiryAnswer {
		return nil, fmt.Errorf("%w: the answer of %s is over %d bytes", ErrInquiry, where, MaxInquiryAnswer)
	}
	return &Answer{Status: resp.StatusCode, Header: resp.Header, Body: body}, nil
}

// timeoutOrDefault is the inquiry's timeout, also before provision.
func (q *Inquiry) timeoutOrDefault() time.Duration {
	if q.timeout == 0 {
		return DefaultInquiryTimeout
	}
	return q.timeout
}

// describe turns a client error into a reason without the URL.
func (q *Inquiry) describe(ctx context.Context, host string, err error) string {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Sprintf("%s did not answer within inquiry_timeout %s", host, q.timeoutOrDefault())
	}
	if errors.Is(err, context.Canceled) {
		return fmt.Sprintf("the call to %s was cancelled (the provider hung up)", host)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return fmt.Sprintf("calling %s: %v", host, err)
}

// Unexpected is the ErrInquiry for an answer of an unexpected status: a
// 5xx, a refused credential, anything the provider's API does not answer
// when it works. what names the call ("Mollie's payments API").
func (a *Answer) Unexpected(what string) error {
	switch {
	case a.Status == http.StatusUnauthorized || a.Status == http.StatusForbidden:
		return fmt.Errorf("%w: %s answered %d: check the API credentials", ErrInquiry, what, a.Status)
	case a.Status == http.StatusTooManyRequests:
		return fmt.Errorf("%w: %s answered 429 (rate limited)", ErrInquiry, what)
	}
	return fmt.Errorf("%w: %s answered %d", ErrInquiry, what, a.Status)
}

// InquiryCredential is a credential option for the provider's API (api_key,
// client_secret): its placeholders are resolved at provision, and neither
// it nor its value is ever logged or echoed.
func InquiryCredential(option, value string, required bool) (string, error) {
	resolved, err := ResolveSecret(value)
	if err != nil {
		return "", &OptionError{Option: option, Msg: err.Error()}
	}
	if required && resolved == "" {
		if value == "" {
			return "", &OptionError{Option: option, Msg: "required"}
		}
		return "", &OptionError{Option: option, Msg: "empty (is the {env.*} or {file.*} placeholder set?)"}
	}
	return resolved, nil
}
