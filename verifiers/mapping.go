package verifiers

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// Mapping is the field mapping of the providers whose payload is the
// sender's own (hmac, standardwebhooks): where in the JSON body the event's
// members are, which of the sender's status values mean which status, and
// where the event id comes from. Its Caddyfile lines are
//
//	field       order_id|transaction_id|status|amount|currency|occurred_at <path>
//	status      <normalized> <value> [<value>...]
//	event_id    <path> | header:<Name>
//	amount_unit major | minor
//
// A provider embeds it, adds Options() to its own and calls Check from
// CheckConfig and prepare from Provision.
type Mapping struct {
	// Fields maps an event member (MappedFields) to a dot-separated path
	// into the JSON body.
	Fields map[string]string `json:"fields,omitempty"`
	// Statuses maps a paynotify.v1 status to the sender's values, found at
	// Fields["status"], that mean it. Other values are StatusUnknown.
	Statuses map[string][]string `json:"statuses,omitempty"`
	// EventID is "<path>" (into the body) or "header:<Name>"; "" is the
	// provider's default.
	EventID string `json:"event_id,omitempty"`
	// AmountUnit is major (12.50, the default) or minor (1250).
	AmountUnit string `json:"amount_unit,omitempty"`

	paths    map[string]JSONPath
	statusOf map[string]Status
	idPath   JSONPath
	idHeader string
}

// MappedFields are the event members a field line can map, in the order
// the documentation lists them.
var MappedFields = []string{"order_id", "transaction_id", "status", "amount", "currency", "occurred_at"}

// maxEventID bounds an event id taken from a header or the body: it becomes
// a dedup key.
const maxEventID = 200

// Options are the mapping's Caddyfile options.
func (m *Mapping) Options() []Option {
	return []Option{
		{
			Name: "field", Args: strings.Join(MappedFields, "|") + " <path>", Repeatable: true,
			Doc: "where an event member is in the JSON body (a dot-separated path, e.g. data.metadata.order_id); one line per member",
			Parse: func(d *caddyfile.Dispenser) error {
				var member, path string
				if !d.Args(&member, &path) {
					return d.Errf("field needs a member (%s) and a path", strings.Join(MappedFields, ", "))
				}
				if !slices.Contains(MappedFields, member) {
					return d.Errf("field: %q is not one of %s", member, strings.Join(MappedFields, ", "))
				}
				if _, dup := m.Fields[member]; dup {
					return d.Errf("field %s given twice", member)
				}
				if _, err := ParseJSONPath(path); err != nil {
					return d.Errf("field %s: %v", member, err)
				}
				if m.Fields == nil {
					m.Fields = map[string]string{}
				}
				m.Fields[member] = path
				return nil
			},
		},
		{
			Name: "status", Args: "<normalized> <value> [<value>...]", Repeatable: true,
			Doc: "the values of field status that mean a paynotify.v1 status, e.g. status succeeded paid settled; other values are unknown",
			Parse: func(d *caddyfile.Dispenser) error {
				args := d.RemainingArgs()
				if len(args) < 2 {
					return d.Errf("status needs a status and at least one value, e.g. status succeeded paid")
				}
				if m.Statuses == nil {
					m.Statuses = map[string][]string{}
				}
				m.Statuses[args[0]] = append(m.Statuses[args[0]], args[1:]...)
				if err := m.checkStatuses(); err != nil {
					return d.Err(err.Error())
				}
				return nil
			},
		},
		StringOption("event_id", "<path> | header:<Name>", "where the event id is: a path into the JSON body or header:<Name>; it must be the same on every retry of the event", &m.EventID),
		StringOption("amount_unit", "major | minor", "the unit of field amount: major (12.50, the default) or minor (1250)", &m.AmountUnit),
	}
}

// checkStatuses checks the status lines.
func (m *Mapping) checkStatuses() error {
	owner := map[string]string{}
	for _, status := range sortedKeys(m.Statuses) {
		if !slices.Contains(Statuses, Status(status)) {
			return &OptionError{Option: "status", Msg: fmt.Sprintf("%q is not a paynotify.v1 status (%s)", status, statusList())}
		}
		if len(m.Statuses[status]) == 0 {
			return &OptionError{Option: "status", Msg: fmt.Sprintf("%s has no value", status)}
		}
		for _, value := range m.Statuses[status] {
			if value == "" {
				return &OptionError{Option: "status", Msg: fmt.Sprintf("%s: empty value", status)}
			}
			if other, ok := owner[value]; ok && other != status {
				return &OptionError{Option: "status", Msg: fmt.Sprintf("value %q is listed under both %s and %s", value, other, status)}
			}
			owner[value] = status
		}
	}
	return nil
}

func statusList() string {
	names := make([]string, len(Statuses))
	for i, s := range Statuses {
		names[i] = string(s)
	}
	return strings.Join(names, ", ")
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Check reports what is wrong with the mapping as written.
func (m *Mapping) Check() error {
	for _, member := range sortedKeys(m.Fields) {
		if !slices.Contains(MappedFields, member) {
			return &OptionError{Option: "field", Msg: fmt.Sprintf("%q is not one of %s", member, strings.Join(MappedFields, ", "))}
		}
		if _, err := ParseJSONPath(m.Fields[member]); err != nil {
			return &OptionError{Option: "field", Msg: fmt.Sprintf("%s: %v", member, err)}
		}
	}
	if err := m.checkStatuses(); err != nil {
		return err
	}
	if len(m.Statuses) > 0 {
		if m.Fields["status"] == "" {
			return &OptionError{Option: "status", Msg: "status lines map the value found by field status <path>: add that line"}
		}
		if m.Fields["order_id"] == "" {
			// A mapped status is a payment event the app acts on, and
			// every such event is refused without its order.
			return &OptionError{Option: "status", Msg: "a mapped status is a payment event, which needs its order: add field order_id <path>"}
		}
	}
	if name, ok := strings.CutPrefix(m.EventID, "header:"); ok {
		if !validHeaderName(name) {
			return &OptionError{Option: "event_id", Msg: "header: needs a header name, e.g. header:X-Event-Id"}
		}
	} else if m.EventID != "" {
		if _, err := ParseJSONPath(m.EventID); err != nil {
			return &OptionError{Option: "event_id", Msg: err.Error() + " (or header:<Name>)"}
		}
	}
	switch m.AmountUnit {
	case "", "major", "minor":
	default:
		return &OptionError{Option: "amount_unit", Msg: fmt.Sprintf("%q is not major or minor", m.AmountUnit)}
	}
	return nil
}

// prepare readies a checked mapping for Apply.
func (m *Mapping) prepare() error {
	if err := m.Check(); err != nil {
		return err
	}
	m.paths = make(map[string]JSONPath, len(m.Fields))
	for member, path := range m.Fields {
		m.paths[member] = MustJSONPath(path)
	}
	m.statusOf = map[string]Status{}
	for status, values := range m.Statuses {
		for _, v := range values {
			m.statusOf[v] = Status(status)
		}
	}
	m.idPath, m.idHeader = nil, ""
	if name, ok := strings.CutPrefix(m.EventID, "header:"); ok {
		m.idHeader = name
	} else if m.EventID != "" {
		m.idPath = MustJSONPath(m.EventID)
	}
	return nil
}

// needsJSON says whether the mapping reads the body: then it must be a JSON
// object.
func (m *Mapping) needsJSON() bool { return len(m.Fields) > 0 || m.idPath != nil }

// validHeaderName reports whether name is an HTTP field name (a token).
func validHeaderName(name string) bool {
	if name == "" || len(name) > 100 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// checkEventID accepts 1 to maxEventID visible ASCII characters; what names
// where the id came from.
func checkEventID(what, id string, err error) error {
	if id == "" {
		return fmt.Errorf("%w: no event id at %s", err, what)
	}
	if len(id) > maxEventID {
		return fmt.Errorf("%w: the event id at %s is over %d bytes", err, what, maxEventID)
	}
	for i := 0; i < len(id); i++ {
		if id[i] <= ' ' || id[i] > '~' {
			return fmt.Errorf("%w: the event id at %s holds a character that is not visible ASCII", err, what)
		}
	}
	return nil
}

// genericBody reads the body of a sender whose payload is its own. It must
// be a strict JSON object (CheckJSON) when the mapping reads it or when its
// content type says JSON, and then raw is the object as sent; any other
// body is kept in raw as {"body": text}, or {"body_base64": ...} when it is
// not UTF-8. An unsigned query that web frameworks would read in place of
// a member of the body is refused unless the query is signed. doc is the
// JSON body read (nil for any other), which the caller releases.
func genericBody(r *Request, m *Mapping, querySigned bool) (raw json.RawMessage, doc *jsonDoc, err error) {
	contentType := r.Header.Get("Content-Type")
	mediaType, params, ctErr := mime.ParseMediaType(contentType)
	jsonType := ctErr == nil && (mediaType == JSONType || strings.HasPrefix(mediaType, "application/") && strings.HasSuffix(mediaType, "+json"))
	if m.needsJSON() || jsonType {
		if !jsonType {
			return nil, nil, fmt.Errorf("%w: content type %.60q, want %s", ErrMalformed, contentType, JSONType)
		}
		if charset, ok := params["charset"]; ok && !slices.ContainsFunc(bodyCharsets, func(c string) bool { return strings.EqualFold(c, charset) }) {
			return nil, nil, fmt.Errorf("%w: content type charset %.40q, want utf-8", ErrMalformed, charset)
		}
		d, err := readJSONDoc(r.Body)
		if err != nil {
			return nil, nil, err
		}
		if !querySigned {
			if err := refuseShadowingJSONDoc(r.RawQuery, d, nil); err != nil {
				d.release()
				return nil, nil, err
			}
		}
		return d.compact(false), d, nil // as sent, without the spaces
	}
	if r.RawQuery != "" && !querySigned && ctErr == nil && mediaType == FormType {
		fields, err := url.ParseQuery(string(r.Body))
		if err != nil {
			return nil, nil, fmt.Errorf("%w: form body: %v", ErrMalformed, err)
		}
		if err := RefuseShadowingQuery(r.RawQuery, fields, nil); err != nil {
			return nil, nil, err
		}
	}
	var wrapped struct {
		Body       *string `json:"body,omitempty"`
		BodyBase64 *string `json:"body_base64,omitempty"`
	}
	if utf8.Valid(r.Body) {
		s := string(r.Body)
		wrapped.Body = &s
	} else {
		s := base64.StdEncoding.EncodeToString(r.Body)
		wrapped.BodyBase64 = &s
	}
	raw, err = json.Marshal(wrapped)
	return raw, nil, err
}

// apply fills the event's mapped members from the JSON body (the mapping
// reads nothing from a body that is not JSON) and, when event_id is
// configured, its id; the provider sets its default id when e.ID is "".
// The members are read from doc, the JSON body (nil: not JSON), numbers as
// sent.
func (m *Mapping) apply(e *Event, doc *jsonDoc, header http.Header) error {
	e.Status = StatusUnknown
	if m.idHeader != "" {
		values := header.Values(m.idHeader)
		if len(values) > 1 {
			return fmt.Errorf("%w: header %s given %d times", ErrMalformed, m.idHeader, len(values))
		}
		e.ID = header.Get(m.idHeader)
		if err := checkEventID("header "+m.idHeader, e.ID, ErrMalformed); err != nil {
			return err
		}
	}
	if doc == nil || !m.needsJSON() {
		return nil
	}
	root := doc.root()
	text := func(member string) (string, error) {
		p, ok := m.paths[member]
		if !ok {
			return "", nil
		}
		return root.Path(p).Text(p)
	}
	if m.idPath != nil {
		id, err := root.Path(m.idPath).Text(m.idPath)
		if err != nil {
			return err
		}
		if err := checkEventID(m.idPath.String(), id, ErrMalformed); err != nil {
			return err
		}
		e.ID = id
	}
	if p, ok := m.paths["status"]; ok {
		value, err := root.Path(p).Text(p)
		if err != nil {
			return err
		}
		if value == "" {
			return fmt.Errorf("%w: mandatory field %s (field status) is missing", ErrMalformed, p)
		}
		e.ProviderStatus = value
		if s, ok := m.statusOf[value]; ok {
			e.Status = s
		}
	}
	var err error
	if e.OrderID, err = text("order_id"); err != nil {
		return err
	}
	if e.OrderID == "" && e.Status != StatusUnknown {
		return fmt.Errorf("%w: the %s event has no order id at %s (field order_id)", ErrMalformed, e.Status, m.paths["order_id"])
	}
	if e.TransactionID, err = text("transaction_id"); err != nil {
		return err
	}
	amount, err := text("amount")
	if err != nil {
		return err
	}
	currency, err := text("currency")
	if err != nil {
		return err
	}
	unit := MajorUnits
	if m.AmountUnit == "minor" {
		unit = MinorUnits
	}
	field := "amount"
	if p, ok := m.paths["amount"]; ok {
		field = p.String()
	}
	if err := SetAmount(e, field, amount, currency, unit); err != nil {
		return err
	}
	occurred, err := text("occurred_at")
	if err != nil {
		return err
	}
	e.OccurredAt = parseAnyTime(occurred)
	return nil
}

// parseAnyTime reads an RFC 3339 time, a date and time without a zone (as
// UTC), or Unix seconds or milliseconds; the zero time when it is none.
func parseAnyTime(s string) time.Time {
	if isDigits(s) && len(s) <= 13 {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return time.Time{}
		}
		if len(s) > 10 {
			return time.UnixMilli(n).UTC()
		}
		return time.Unix(n, 0).UTC()
	}
	return ParseTime(s, time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05")
}

// example builds a body whose mapped members hold a successful payment of
// order at now, for the providers' test signers.
func (m *Mapping) example(order string, now time.Time) map[string]any {
	ref := strings.ToLower(alnum(order))
	fields := map[string]any{}
	set := func(path string, value any) {
		parts := strings.Split(path, ".")
		obj := fields
		for _, p := range parts[:len(parts)-1] {
			next, ok := obj[p].(map[string]any)
			if !ok {
				next = map[string]any{}
				obj[p] = next
			}
			obj = next
		}
		obj[parts[len(parts)-1]] = value
	}
	if len(m.Fields) == 0 && m.EventID == "" {
		// Nothing mapped: the sender's payload, which reaches the app as raw.
		fields["type"] = "payment.succeeded"
		fields["order_id"] = order
		return fields
	}
	status := "succeeded"
	if values := m.Statuses[string(StatusSucceeded)]; len(values) > 0 {
		status = values[0]
	}
	amount := any(json.Number("10.50"))
	if m.AmountUnit == "minor" {
		amount = json.Number("1050")
	}
	for member, value := range map[string]any{
		"order_id": order, "transaction_id": "txn_" + ref, "status": status, "amount": amount,
		"currency": "HKD", "occurred_at": now.UTC().Format(time.RFC3339),
	} {
		if path := m.Fields[member]; path != "" {
			set(path, value)
		}
	}
	if m.EventID != "" && !strings.HasPrefix(m.EventID, "header:") {
		set(m.EventID, "evt_"+ref)
	}
	return fields
}

// signHeader sets the event id header the mapping reads, if any, for the
// providers' test signers: a hash of the body, stable as a retry's is.
func (m *Mapping) signHeader(h http.Header, body []byte) {
	if name, ok := strings.CutPrefix(m.EventID, "header:"); ok {
		sum := sha256.Sum256(body)
		h.Set(name, "evt_"+hex.EncodeToString(sum[:12]))
	}
}

// requestURLKey is the context key of the request's URL as received, for a
// verifier used outside Caddy (tests, fuzzing); in Caddy, requestURL reads
// it from the request's replacer.
type requestURLKey struct{}

// withRequestURL returns ctx carrying the URL a notification was received at.
func withRequestURL(ctx context.Context, u string) context.Context {
	return context.WithValue(ctx, requestURLKey{}, u)
}

// requestURL is the URL the request was received at, as Caddy received it:
// the scheme of Caddy's own listener, the Host header, and the request
// target before any rewrite (path and query, still escaped).
func requestURL(ctx context.Context) (string, bool) {
	if u, ok := ctx.Value(requestURLKey{}).(string); ok {
		return u, true
	}
	repl, ok := ctx.Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	if !ok {
		return "", false
	}
	scheme, _ := repl.GetString("http.request.scheme")
	host, _ := repl.GetString("http.request.hostport")
	target, _ := repl.GetString("http.request.orig_uri")
	if scheme == "" || host == "" || !strings.HasPrefix(target, "/") {
		return "", false
	}
	return scheme + "://" + host + target, true
}
