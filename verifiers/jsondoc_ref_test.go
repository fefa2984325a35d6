package verifiers

import (
	"bytes"
	"context"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The providers converted from encoding/json to the jsonDoc keep their
// former implementation here, as a reference: the differential tests and
// fuzz targets below prove that the converted Verify accepts, refuses and
// normalizes as the reference did, but for the one documented difference,
// a member name spelled in another case (encoding/json matched it to the
// struct field; the doc reads the exact name, as the app does).

// refErrorClass is the typed error a refusal wraps.
func refErrorClass(err error) error {
	for _, class := range []error{ErrMethod, ErrMalformed, ErrSignature, ErrForbidden, ErrInquiry} {
		if errors.Is(err, class) {
			return class
		}
	}
	return err
}

// sameVerdict fails t when got and want differ: both refusals of the same
// typed class, or the same events.
func sameVerdict(t testing.TB, what string, got []Event, gotErr error, want []Event, wantErr error) {
	t.Helper()
	if (gotErr == nil) != (wantErr == nil) {
		t.Fatalf("%s: new %v, reference %v", what, gotErr, wantErr)
	}
	if gotErr != nil {
		if refErrorClass(gotErr) != refErrorClass(wantErr) {
			t.Fatalf("%s: new %v, reference %v", what, gotErr, wantErr)
		}
		return
	}
	require.Equal(t, want, got, what)
}

// caseFoldsAName reports whether body has a member whose name is one of
// names in another case: the bodies the reference reads differently.
func caseFoldsAName(body []byte, names ...string) bool {
	d, err := readJSONDoc(body)
	if err != nil {
		return false
	}
	defer d.release()
	for i := 1; i < len(d.nodes); i++ {
		if d.nodes[d.nodes[i].parent].kind != '{' {
			continue
		}
		name := d.name(int32(i))
		for _, n := range names {
			if name != n && strings.EqualFold(name, n) {
				return true
			}
		}
	}
	return false
}

// goldenRequests are the provider's golden requests (accepted and refused).
func goldenRequests(t testing.TB, provider string) map[string]*Request {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join("..", "testdata", provider, "*.http"))
	require.NotEmpty(t, files)
	reqs := map[string]*Request{}
	for _, file := range files {
		name := filepath.Join(provider, strings.TrimSuffix(filepath.Base(file), ".http"))
		reqs[name] = goldenRequest(t, name)
	}
	return reqs
}

// ---- adyen ----

// adyenBody is the batch as adyen decoded it before the jsonDoc.
type adyenBody struct {
	Live              string `json:"live"`
	NotificationItems []struct {
		NotificationRequestItem json.RawMessage `json:"NotificationRequestItem"`
	} `json:"notificationItems"`
}

var adyenNames = []string{"live", "notificationItems", "NotificationRequestItem", "pspReference", "originalReference",
	"merchantAccountCode", "merchantReference", "amount", "value", "currency", "eventCode", "success", "eventDate",
	"reason", "paymentMethod", "additionalData", "hmacSignature"}

// refAdyenVerify is Adyen.Verify as it was.
func refAdyenVerify(v *Adyen, r *Request) ([]Event, error) {
	if r.Method != http.MethodPost {
		return nil, fmt.Errorf("%w: %s", ErrMethod, r.Method)
	}
	if err := CheckContentType(r.Header.Get("Content-Type"), JSONType); err != nil {
		return nil, err
	}
	if err := CheckJSON(r.Body); err != nil {
		return nil, err
	}
	var body adyenBody
	if err := json.Unmarshal(r.Body, &body); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if err := checkBatchSize("notificationItems", len(body.NotificationItems)); err != nil {
		return nil, err
	}
	items := make([]adyenItem, len(body.NotificationItems))
	for i, wrapper := range body.NotificationItems {
		if len(wrapper.NotificationRequestItem) == 0 {
			return nil, fmt.Errorf("%w: notificationItems[%d] has no NotificationRequestItem", ErrMalformed, i)
		}
		if err := json.Unmarshal(wrapper.NotificationRequestItem, &items[i]); err != nil {
			return nil, fmt.Errorf("%w: notificationItems[%d]: %v", ErrMalformed, i, err)
		}
	}
	for i := range items {
		if err := v.checkSignature(i, &items[i]); err != nil {
			return nil, err
		}
	}
	if err := RefuseShadowingJSONQuery(r.RawQuery, r.Body, adyenFields); err != nil {
		return nil, err
	}
	events := make([]Event, len(items))
	for i := range items {
		e, err := v.normalize(i, &items[i], r)
		if err != nil {
			return nil, err
		}
		var merr error
		if e.Raw, merr = json.Marshal(body.NotificationItems[i].NotificationRequestItem); merr != nil {
			return nil, fmt.Errorf("%w: %v", ErrMalformed, merr)
		}
		events[i] = e
	}
	return events, nil
}

// adyenSigned is body with each "@SIG@" replaced, in order, by the
// signature of the item of the same position as the reference reads it,
// so that fuzzed bodies reach past the signatures.
func adyenSigned(v *Adyen, body []byte) []byte {
	const placeholder = `"@SIG@"`
	if !strings.Contains(string(body), placeholder) {
		return body
	}
	var b adyenBody
	if json.Unmarshal(body, &b) != nil {
		return body
	}
	out := string(body)
	for _, w := range b.NotificationItems {
		var it adyenItem
		if json.Unmarshal(w.NotificationRequestItem, &it) != nil {
			return body
		}
		sig := `"` + base64Std(v.macs.Sum(adyenStringToSign(nil, &it))) + `"`
		out = strings.Replace(out, placeholder, sig, 1)
	}
	return []byte(out)
}

func diffAdyen(t testing.TB, v *Adyen, what, rawQuery string, body []byte) (accepted bool) {
	if caseFoldsAName(body, adyenNames...) {
		return false
	}
	r := &Request{Method: http.MethodPost, Header: http.Header{"Content-Type": {JSONType}}, RawQuery: rawQuery,
		Body: body, ClientIP: goldenClientIP, ReceivedAt: goldenReceivedAt}
	want, wantErr := refAdyenVerify(v, r)
	got, gotErr := v.Verify(context.Background(), r)
	sameVerdict(t, what, got, gotErr, want, wantErr)
	return gotErr == nil
}

// adyenSeeds are the golden bodies, and the same with every signature a
// placeholder adyenSigned fills in.
func adyenSeeds(t testing.TB) map[string][]byte {
	seeds := map[string][]byte{}
	for name, r := range goldenRequests(t, "adyen") {
		seeds[name] = r.Body
		var b map[string]any
		if json.Unmarshal(r.Body, &b) == nil {
			items, _ := b["notificationItems"].([]any)
			for _, w := range items {
				if w, ok := w.(map[string]any); ok {
					if it, ok := w["NotificationRequestItem"].(map[string]any); ok {
						if ad, ok := it["additionalData"].(map[string]any); ok {
							ad["hmacSignature"] = "@SIG@"
						}
					}
				}
			}
			if body, err := MarshalCompact(b); err == nil {
				seeds[name+"@"] = body
			}
		}
	}
	return seeds
}

func TestAdyenAsReference(t *testing.T) {
	v := mustNew(t, "adyen", adyenConfig).(*Adyen)
	accepted := 0
	for name, body := range adyenSeeds(t) {
		if diffAdyen(t, v, name, "", adyenSigned(v, body)) {
			accepted++
		}
		diffAdyen(t, v, name+"?live=1", "live=1", adyenSigned(v, body))
	}
	require.Greater(t, accepted, 20, "the signed seeds reach the events")
	for _, c := range []string{
		`{"live":1,"notificationItems":[{"NotificationRequestItem":{}}]}`,
		`{"notificationItems":[1]}`,
		`{"notificationItems":[null]}`,
		`{"notificationItems":{}}`,
		`{"notificationItems":[{"NotificationRequestItem":null}]}`,
		`{"notificationItems":[{"NotificationRequestItem":"x"}]}`,
		`{"notificationItems":[{"NotificationRequestItem":{"amount":[]}}]}`,
		`{"notificationItems":[{"NotificationRequestItem":{"amount":{"value":"12"},"additionalData":{"hmacSignature":"@SIG@"},"pspReference":"1","eventCode":"X","success":"true"}}]}`,
		`{"notificationItems":[{"NotificationRequestItem":{"amount":{"value":"x"}}}]}`,
		`{"notificationItems":[{"NotificationRequestItem":{"amount":{"value":true}}}]}`,
		`{"notificationItems":[{"NotificationRequestItem":{"additionalData":{"hmacSignature":5}}}]}`,
		`{"notificationItems":[{"NotificationRequestItem":{"additionalData":[]}}]}`,
		`{"notificationItems":[{"NotificationRequestItem":{"eventDate":{}}}]}`,
	} {
		diffAdyen(t, v, c, "", adyenSigned(v, []byte(c)))
	}
}

// FuzzAdyenAsReference: any body, its "@SIG@" placeholders signed, is
// accepted, refused and normalized as the reference did.
func FuzzAdyenAsReference(f *testing.F) {
	v := mustNew(f, "adyen", adyenConfig).(*Adyen)
	for _, body := range adyenSeeds(f) {
		f.Add("", body)
	}
	f.Fuzz(func(t *testing.T, rawQuery string, body []byte) {
		diffAdyen(t, v, fmt.Sprintf("%q", body), rawQuery, adyenSigned(v, body))
	})
}

func base64Std(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// ---- gocardless ----

type refGoCardlessBody struct {
	Events []json.RawMessage `json:"events"`
	Meta   struct {
		WebhookID string `json:"webhook_id"`
	} `json:"meta"`
}

type refGoCardlessEvent struct {
	ID           string `json:"id"`
	CreatedAt    string `json:"created_at"`
	ResourceType string `json:"resource_type"`
	Action       string `json:"action"`
	Links        struct {
		Payment string `json:"payment"`
	} `json:"links"`
	Details struct {
		Cause       string `json:"cause"`
		Description string `json:"description"`
		Scheme      string `json:"scheme"`
	} `json:"details"`
}

var gocardlessNames = []string{"events", "meta", "webhook_id", "id", "created_at", "resource_type", "action", "links",
	"payment", "details", "cause", "description", "scheme", "resource_metadata", "metadata", "order_id"}

// refGoCardlessVerify is GoCardless.Verify as it was.
func refGoCardlessVerify(v *GoCardless, r *Request) ([]Event, error) {
	authenticate := func() error {
		return CheckHexHMAC("Webhook-Signature header", r.Header.Get("Webhook-Signature"), v.macs, r.Body)
	}
	if err := CheckSignedJSON(r, authenticate, gocardlessFields); err != nil {
		return nil, err
	}
	var body refGoCardlessBody
	if err := json.Unmarshal(r.Body, &body); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if err := checkBatchSize("events", len(body.Events)); err != nil {
		return nil, err
	}
	events := make([]Event, len(body.Events))
	for i, raw := range body.Events {
		if t := bytes.TrimSpace(raw); len(t) == 0 || t[0] != '{' {
			return nil, fmt.Errorf("%w: events[%d] is not an object", ErrMalformed, i)
		}
		var ge refGoCardlessEvent
		if err := json.Unmarshal(raw, &ge); err != nil {
			return nil, fmt.Errorf("%w: events[%d]: %v", ErrMalformed, i, err)
		}
		for _, m := range []struct{ name, value string }{
			{"id", ge.ID}, {"resource_type", ge.ResourceType}, {"action", ge.Action},
		} {
			if m.value == "" {
				return nil, fmt.Errorf("%w: events[%d]: mandatory field %s is missing", ErrMalformed, i, m.name)
			}
		}
		e := NewEvent(v.Provider(), r)
		e.ID = ge.ID
		e.ProviderStatus = ge.ResourceType + "." + ge.Action
		e.Status = StatusUnknown
		if ge.ResourceType == "payments" {
			if s, ok := gocardlessPaymentStatuses[ge.Action]; ok {
				e.Status = s
			}
		}
		e.TransactionID = ge.Links.Payment
		if e.Status != StatusUnknown && e.TransactionID == "" {
			return nil, fmt.Errorf("%w: events[%d]: links.payment is missing", ErrMalformed, i)
		}
		order, _, err := FirstText(raw, gocardlessOrderPaths...)
		if err != nil {
			return nil, fmt.Errorf("%w: events[%d]: %v", ErrMalformed, i, err)
		}
		e.OrderID = order
		e.Reason = ge.Details.Description
		e.ResponseCode = ge.Details.Cause
		e.PaymentMethod = ge.Details.Scheme
		e.OccurredAt = ParseTime(ge.CreatedAt, time.RFC3339Nano)
		if e.Raw, err = json.Marshal(raw); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		events[i] = e
	}
	return events, nil
}

// diffGoCardless signs body with the first secret and compares.
func diffGoCardless(t testing.TB, v *GoCardless, what, rawQuery string, body []byte) (accepted bool) {
	if caseFoldsAName(body, gocardlessNames...) {
		return false
	}
	sig, err := signHex(v.macs, body)
	require.NoError(t, err)
	r := &Request{Method: http.MethodPost, Header: http.Header{"Content-Type": {JSONType}, "Webhook-Signature": {sig}},
		RawQuery: rawQuery, Body: body, ClientIP: goldenClientIP, ReceivedAt: goldenReceivedAt}
	want, wantErr := refGoCardlessVerify(v, r)
	got, gotErr := v.Verify(context.Background(), r)
	sameVerdict(t, what, got, gotErr, want, wantErr)
	return gotErr == nil
}

var gocardlessCases = []string{
	`{"events":{},"meta":{}}`,
	`{"events":[],"meta":{}}`,
	`{"events":[null]}`,
	`{"events":[1]}`,
	`{"events":[{"id":"EV1","resource_type":"payments","action":"confirmed","links":{"payment":"PM1"}}],"meta":[]}`,
	`{"events":[{"id":"EV1","resource_type":"payments","action":"confirmed","links":{"payment":"PM1"}}],"meta":{"webhook_id":1}}`,
	`{"events":[{"id":"EV1","resource_type":"payments","action":"confirmed","links":{"payment":1}}]}`,
	`{"events":[{"id":"EV1","resource_type":"payments","action":"confirmed","links":"x"}]}`,
	`{"events":[{"id":"EV1","resource_type":"payments","action":"confirmed","links":{"payment":"PM1"},"details":{"scheme":[]}}]}`,
	`{"events":[{"id":"EV1","resource_type":"payments","action":"confirmed","links":{"payment":"PM1"},"resource_metadata":{"order_id":{}}}]}`,
	`{"events":[{"id":"EV1","resource_type":"payments","action":"confirmed","links":{"payment":"PM1"},"resource_metadata":{"order_id":12.50}}]}`,
	`{"events":[{"id":"EV1","resource_type":"mandates","action":"x","created_at":null},{"id":"EV2","resource_type":"payments","action":"failed","links":{"payment":"PM\u00e9<&>"},"metadata":{"order_id":"o\"1"}}]}`,
	`{"events":[{"id":"EV1","resource_type":"payments","action":"confirmed","links":{"payment":"PM1"}},{"id":7}]}`,
}

func TestGoCardlessAsReference(t *testing.T) {
	v := mustNew(t, "gocardless", gocardlessConfig).(*GoCardless)
	accepted := 0
	for name, r := range goldenRequests(t, "gocardless") {
		if diffGoCardless(t, v, name, "", r.Body) {
			accepted++
		}
		diffGoCardless(t, v, name+"?meta=1", "meta=1", r.Body)
	}
	require.Greater(t, accepted, 15, "the signed seeds reach the events")
	for _, c := range gocardlessCases {
		diffGoCardless(t, v, c, "", []byte(c))
	}
}

// FuzzGoCardlessAsReference: any body, signed, is accepted, refused and
// normalized as the reference did.
func FuzzGoCardlessAsReference(f *testing.F) {
	v := mustNew(f, "gocardless", gocardlessConfig).(*GoCardless)
	for _, r := range goldenRequests(f, "gocardless") {
		f.Add("", r.Body)
	}
	for _, c := range gocardlessCases {
		f.Add("", []byte(c))
	}
	f.Fuzz(func(t *testing.T, rawQuery string, body []byte) {
		diffGoCardless(t, v, fmt.Sprintf("%q", body), rawQuery, body)
	})
}

// ---- octopus ----

// refOctopusNotice is Octopus.Notice as it was.
func refOctopusNotice(v *Octopus, r *Request) ([]Event, error) {
	if r.Method != http.MethodPost {
		return nil, fmt.Errorf("%w: %s", ErrMethod, r.Method)
	}
	if err := CheckContentType(r.Header.Get("Content-Type"), JSONType); err != nil {
		return nil, err
	}
	if err := CheckJSON(r.Body); err != nil {
		return nil, err
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(r.Body, &fields); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if err := RefuseShadowingQuery(r.RawQuery, fields, octopusFields); err != nil {
		return nil, err
	}
	signed, err := refOctopusStringToSign(fields)
	if err != nil {
		return nil, err
	}
	// OC-Signature is the hex HMAC-SHA256 of the string to sign, keyed with
	// the API secret.
	if err := CheckHexHMAC("OC-Signature header", r.Header.Get("OC-Signature"), v.macs, signed); err != nil {
		return nil, err
	}
	if v.key.Set() && !v.key.Equal(r.Header.Get("OC-Key")) {
		return nil, fmt.Errorf("%w: the OC-Key header is missing or is not the configured value", ErrForbidden)
	}
	if err := refOctopusRefuseSwallowed(fields); err != nil {
		return nil, err
	}
	e, err := refOctopusNormalize(v, fields, signed, r)
	if err != nil {
		return nil, err
	}
	return []Event{e}, nil
}

// refOctopusStringToSign is octopusStringToSign as it was, over the
// fields decoded into a map (the tests sign their callbacks with it).
func refOctopusStringToSign(fields map[string]json.RawMessage) ([]byte, error) {
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b bytes.Buffer
	for _, k := range keys {
		// A key with '=' or '&' (or anything but a plain name) would let one
		// k=v&k=v string be read as other fields.
		if !isAlnum(k, 1, 64) {
			return nil, fmt.Errorf("%w: field name %.40q is not a plain name", ErrMalformed, k)
		}
		value, present, err := octopusValue(fields[k])
		if err != nil {
			return nil, fmt.Errorf("%w: field %.40q: %v", ErrMalformed, k, err)
		}
		if !present {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('&')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(value)
	}
	return b.Bytes(), nil
}

func refOctopusRefuseSwallowed(fields map[string]json.RawMessage) error {
	for k, raw := range fields {
		value, present, _ := octopusValue(raw) // rendered for the signature already
		if !present {
			continue
		}
		for rest := value; ; {
			amp := strings.IndexByte(rest, '&')
			if amp < 0 {
				break
			}
			rest = rest[amp+1:]
			name, _, found := strings.Cut(rest, "=")
			if !found || !isAlnum(name, 1, 64) {
				continue
			}
			if octopusMeaning[k] || octopusMeaning[name] {
				return fmt.Errorf("%w: field %s carries the pair %.40s=…, which signs like a separate field: a regrouped callback", ErrMalformed, k, name)
			}
		}
	}
	return nil
}

func refOctopusNormalize(v *Octopus, fields map[string]json.RawMessage, signed []byte, r *Request) (Event, error) {
	f := func(name string) string {
		raw, ok := fields[name]
		if !ok {
			return ""
		}
		value, _, _ := octopusValue(raw) // every field was rendered for the signature already
		return value
	}
	for _, name := range []string{"merchant_order_id", "payment_status", "currency"} {
		if f(name) == "" {
			return Event{}, fmt.Errorf("%w: mandatory field %s is missing", ErrMalformed, name)
		}
	}
	if f("final_amount") == "" && f("amount") == "" {
		return Event{}, fmt.Errorf("%w: mandatory field final_amount or amount is missing", ErrMalformed)
	}
	e := NewEvent(v.Provider(), r)
	e.ProviderStatus = f("payment_status")
	e.Status = octopusStatuses[e.ProviderStatus]
	if e.Status == "" {
		e.Status = StatusUnknown
	}
	e.OrderID = f("merchant_order_id")
	e.MerchantID = f("merchant_uid")
	e.TransactionID = f("order_uid")
	if e.TransactionID == "" {
		e.TransactionID = f("payment_uid")
	}
	e.Reason = f("payment_fail_reason")
	e.PaymentMethod = f("payment")
	e.Customer = NewCustomer("", "", "", f("ip"))
	amountField := "final_amount"
	if f(amountField) == "" {
		amountField = "amount"
	}
	if err := SetAmount(&e, amountField, f(amountField), f("currency"), MajorUnits); err != nil {
		return Event{}, err
	}
	// The callback carries no event id or retry counter: the id is the
	// signed string as a whole, the same on every retry, and what the event
	// says, so that a copy regrouped into another meaning (a value can
	// swallow "&key=value" pairs) is another event and cannot, by arriving
	// first, have the genuine callback acknowledged as its duplicate.
	e.ID = EventID(e.Provider, string(signed), string(e.Status), e.ProviderStatus, e.Amount, e.Currency,
		e.OrderID, e.TransactionID, e.MerchantID)

	raw := make(map[string]json.RawMessage, len(fields))
	for k, val := range fields {
		raw[k] = val
	}
	if _, ok := raw[octopusRedacted]; ok {
		raw[octopusRedacted] = json.RawMessage(`"[redacted]"`)
	}
	var err error
	if e.Raw, err = json.Marshal(raw); err != nil {
		return Event{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return e, nil
}

// diffOctopus signs body's fields as the reference reads them and compares.
// The reference decoded the fields into a map, whose names are exact:
// there is no difference to leave out.
func diffOctopus(t testing.TB, v *Octopus, what, rawQuery string, body []byte) (accepted bool) {
	r := &Request{Method: http.MethodPost, Header: http.Header{"Content-Type": {JSONType}, "Oc-Key": {"octopus-test-key"}},
		RawQuery: rawQuery, Body: body, ClientIP: goldenClientIP, ReceivedAt: goldenReceivedAt}
	var fields map[string]json.RawMessage
	if CheckJSON(body) == nil && json.Unmarshal(body, &fields) == nil {
		if signed, err := refOctopusStringToSign(fields); err == nil {
			sig, err := signHex(v.macs, signed)
			require.NoError(t, err)
			r.Header.Set("Oc-Signature", sig)
		}
	}
	want, wantErr := refOctopusNotice(v, r)
	got, gotErr := v.Notice(r)
	sameVerdict(t, what, got, gotErr, want, wantErr)
	return gotErr == nil
}

var octopusCases = []string{
	`{}`,
	`{"a b":1}`,
	`{"merchant_order_id":"o1","payment_status":"completed","currency":"php","final_amount":99.50,"signature_key":null}`,
	`{"merchant_order_id":"o1","payment_status":"completed","currency":"php","amount":"1.00","signature_key":"k","x":{"a": [1, "b c", {"d":null}] },"y":[ ],"z":true,"w":false,"n":null}`,
	`{"merchant_order_id":"o\u0031","payment_status":"completed","currency":"php","final_amount":"1.5","note":"<&>\u2028 a&b=c"}`,
	`{"merchant_order_id":"o1","payment_status":"completed","currency":"php&final_amount=1","final_amount":"9"}`,
	`{"merchant_order_id":"o1","payment_status":"completed","currency":"php","final_amount":"9","note":"x&payment_status=failed"}`,
	`{"merchant_order_id":"o1","payment_status":"completed","currency":"php","final_amount":"9","note":"x&other=1"}`,
	`{"merchant_order_id":{"a":1},"payment_status":"completed","currency":"php","final_amount":"9"}`,
	`{"merchant_order_id":"o1","payment_status":"completed","currency":"php"}`,
	`{"merchant_order_id":"o1","payment_status":"weird","currency":"php","amount":-1}`,
	`{"merchant_order_id":"o1","payment_status":"completed","currency":"php","final_amount":"9","\u0061":"1"}`,
}

func TestOctopusAsReference(t *testing.T) {
	v := mustNew(t, "octopus", octopusConfig).(*Octopus)
	accepted := 0
	for name, r := range goldenRequests(t, "octopus") {
		if diffOctopus(t, v, name, "", r.Body) {
			accepted++
		}
		diffOctopus(t, v, name+"?currency=x", "currency=x", r.Body)
		diffOctopus(t, v, name+"?other=x", "other=x", r.Body)
	}
	require.Greater(t, accepted, 10, "the signed seeds reach the events")
	for _, c := range octopusCases {
		diffOctopus(t, v, c, "", []byte(c))
	}
	// More fields than the insertion sort takes, in reverse order.
	var many strings.Builder
	many.WriteString(`{"merchant_order_id":"o1","payment_status":"completed","currency":"php","final_amount":"9"`)
	for i := 60; i > 0; i-- {
		fmt.Fprintf(&many, `,"f%02d":%d`, i, i)
	}
	many.WriteString("}")
	require.True(t, diffOctopus(t, v, "60 fields", "", []byte(many.String())))
}

// FuzzOctopusAsReference: any body, its fields signed, is accepted,
// refused and normalized as the reference did.
func FuzzOctopusAsReference(f *testing.F) {
	v := mustNew(f, "octopus", octopusConfig).(*Octopus)
	for _, r := range goldenRequests(f, "octopus") {
		f.Add("", r.Body)
	}
	for _, c := range octopusCases {
		f.Add("", []byte(c))
	}
	f.Fuzz(func(t *testing.T, rawQuery string, body []byte) {
		diffOctopus(t, v, fmt.Sprintf("%q", body), rawQuery, body)
	})
}

// ---- wechatpay ----

// refWechatpayNotification is the envelope WeChat Pay posts.
type refWechatpayNotification struct {
	ID           string                `json:"id"` // the notification id, e.g. EV-2018022511223320873
	CreateTime   string                `json:"create_time"`
	EventType    string                `json:"event_type"` // TRANSACTION.SUCCESS, REFUND.SUCCESS, …
	ResourceType string                `json:"resource_type"`
	Summary      string                `json:"summary"`
	Resource     *refWechatpayResource `json:"resource"`
}

// refWechatpayResource is the encrypted resource.
type refWechatpayResource struct {
	Algorithm      string `json:"algorithm"`
	Ciphertext     string `json:"ciphertext"` // base64 of the ciphertext and the 16-byte tag
	Nonce          string `json:"nonce"`      // 12 characters, used as the GCM nonce bytes
	AssociatedData string `json:"associated_data"`
	OriginalType   string `json:"original_type"` // transaction, refund, payscore, …
}

// refWechatpayVerify is Wechatpay.Verify as it was, with the signature
// check given.
func refWechatpayVerify(v *Wechatpay, r *Request, authenticate func() error) ([]Event, error) {
	if err := CheckSignedJSON(r, authenticate, wechatpayFields); err != nil {
		return nil, err
	}
	var n refWechatpayNotification
	if err := json.Unmarshal(r.Body, &n); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	for _, m := range []struct{ name, value string }{
		{"id", n.ID}, {"create_time", n.CreateTime}, {"event_type", n.EventType}, {"resource_type", n.ResourceType},
	} {
		if m.value == "" {
			return nil, fmt.Errorf("%w: mandatory field %s is missing", ErrMalformed, m.name)
		}
	}
	if n.ResourceType != wechatpayResourceType {
		return nil, fmt.Errorf("%w: resource_type is not %s", ErrMalformed, wechatpayResourceType)
	}
	if n.Resource == nil {
		return nil, fmt.Errorf("%w: mandatory field resource is missing", ErrMalformed)
	}
	if n.Resource.OriginalType == "" {
		return nil, fmt.Errorf("%w: mandatory field resource.original_type is missing", ErrMalformed)
	}
	if n.Resource.Algorithm != wechatpayAlgorithm {
		return nil, fmt.Errorf("%w: resource.algorithm is not %s", ErrSignature, wechatpayAlgorithm)
	}
	plaintext, err := wechatpayOpen(v.aead, n.Resource.Nonce, n.Resource.Ciphertext, n.Resource.AssociatedData)
	if err != nil {
		return nil, err
	}
	if err := CheckJSON(plaintext); err != nil {
		return nil, fmt.Errorf("decrypted resource: %w", err)
	}
	e, err := refWechatpayNormalize(v, &n, plaintext, r)
	if err != nil {
		return nil, err
	}
	return []Event{e}, nil
}

type refWechatpayPlaintext struct {
	Mchid string `json:"mchid"`
	// A combined payment's (合单支付): its sub_orders carry the states.
	CombineOutTradeNo string `json:"combine_out_trade_no"`
	OutTradeNo        string `json:"out_trade_no"`
	TransactionID     string `json:"transaction_id"`
	TradeState        string `json:"trade_state"`
	TradeStateDesc    string `json:"trade_state_desc"`
	TradeType         string `json:"trade_type"`
	SuccessTime       string `json:"success_time"`
	// A refund's.
	RefundStatus string `json:"refund_status"`
	Amount       struct {
		Total    json.RawMessage `json:"total"`  // fen
		Refund   json.RawMessage `json:"refund"` // fen, a refund's
		Currency string          `json:"currency"`
	} `json:"amount"`
}

func refWechatpayNormalize(v *Wechatpay, n *refWechatpayNotification, plaintext []byte, r *Request) (Event, error) {
	e := NewEvent(v.Provider(), r)
	e.ID = n.ID // WeChat Pay's notification id, covered by the signature
	var err error
	if e.Raw, err = json.Marshal(json.RawMessage(plaintext)); err != nil { // the decrypted resource, compacted
		return Event{}, fmt.Errorf("%w: decrypted resource: %v", ErrMalformed, err)
	}
	created := ParseTime(n.CreateTime, time.RFC3339Nano)
	var p refWechatpayPlaintext
	var amountField, amount string
	switch n.Resource.OriginalType {
	case "transaction":
		if err := json.Unmarshal(plaintext, &p); err != nil {
			return Event{}, fmt.Errorf("%w: decrypted transaction: %v", ErrMalformed, err)
		}
		if p.TradeState == "" && p.CombineOutTradeNo != "" {
			// A combined payment: one notification for several orders,
			// each sub_order with its own trade_state and amount. The app
			// reads them in raw.
			e.Status = StatusUnknown
			e.ProviderStatus = n.EventType
			e.OrderID = p.CombineOutTradeNo
			e.OccurredAt = created
			return e, nil
		}
		if p.TradeState == "" {
			return Event{}, fmt.Errorf("%w: mandatory field trade_state of the transaction is missing", ErrMalformed)
		}
		e.ProviderStatus = p.TradeState
		e.Status = wechatpayStatuses[p.TradeState]
		e.Reason = p.TradeStateDesc
		e.PaymentMethod = p.TradeType
		amountField, amount = "amount.total", rawNumber(p.Amount.Total)
		if len(p.Amount.Total) > 0 && amount == "" {
			return Event{}, fmt.Errorf("%w: amount.total of the transaction is not a number", ErrMalformed)
		}
	case "refund":
		if err := json.Unmarshal(plaintext, &p); err != nil {
			return Event{}, fmt.Errorf("%w: decrypted refund: %v", ErrMalformed, err)
		}
		if p.RefundStatus == "" {
			return Event{}, fmt.Errorf("%w: mandatory field refund_status of the refund is missing", ErrMalformed)
		}
		// SUCCESS: the money went back. ABNORMAL (the refund is stuck, the
		// merchant must act) and CLOSED (no refund was made) say nothing
		// of the payment, which stays paid: unknown, not failed.
		e.ProviderStatus = p.RefundStatus
		if p.RefundStatus == "SUCCESS" {
			e.Status = StatusRefunded
		}
		amountField, amount = "amount.refund", rawNumber(p.Amount.Refund)
		if len(p.Amount.Refund) > 0 && amount == "" {
			return Event{}, fmt.Errorf("%w: amount.refund of the refund is not a number", ErrMalformed)
		}
	default:
		// payscore and the other products: forwarded for the app to read
		// in raw, without an order.
		e.Status = StatusUnknown
		e.ProviderStatus = n.EventType
		e.OccurredAt = created
		return e, nil
	}
	if e.Status == "" {
		e.Status = StatusUnknown
	}
	if p.OutTradeNo == "" && e.Status != StatusUnknown {
		return Event{}, fmt.Errorf("%w: no order reference at out_trade_no of the %s", ErrMalformed, n.Resource.OriginalType)
	}
	e.OrderID = p.OutTradeNo
	e.TransactionID = p.TransactionID
	e.MerchantID = p.Mchid
	e.OccurredAt = ParseTime(p.SuccessTime, time.RFC3339Nano)
	if e.OccurredAt.IsZero() {
		e.OccurredAt = created
	}
	currency := strings.ToUpper(p.Amount.Currency)
	if currency == "" {
		currency = wechatpayCurrency
	}
	if err := SetAmount(&e, amountField, amount, currency, MinorUnits); err != nil {
		return Event{}, err
	}
	return e, nil
}

var wechatpayNames = []string{"id", "create_time", "event_type", "resource_type", "summary", "resource", "algorithm",
	"ciphertext", "nonce", "associated_data", "original_type", "mchid", "combine_out_trade_no", "out_trade_no",
	"transaction_id", "trade_state", "trade_state_desc", "trade_type", "success_time", "refund_status", "amount",
	"total", "refund", "currency"}

// wechatpayHarness seals a plaintext into a body and signs it, so that
// fuzzed bodies and plaintexts reach past the signature and the decryption.
type wechatpayHarness struct {
	v   *Wechatpay
	key *rsa.PrivateKey // nil: not signed, and the signature not checked
}

// request is body with "@CT@" replaced by plaintext sealed under the nonce
// and associated data of body's resource (as the reference reads them),
// signed.
func (h wechatpayHarness) request(t testing.TB, rawQuery string, body, plaintext []byte) *Request {
	var n refWechatpayNotification
	if json.Unmarshal(body, &n) == nil && n.Resource != nil && len(n.Resource.Nonce) == wechatpayNonceSize {
		sealed := h.v.aead.Seal(nil, []byte(n.Resource.Nonce), plaintext, []byte(n.Resource.AssociatedData))
		body = bytes.Replace(body, []byte("@CT@"), []byte(base64Std(sealed)), 1)
	}
	ts, sig := strconv.FormatInt(goldenReceivedAt.Unix(), 10), "unsigned"
	if h.key != nil {
		var err error
		sig, err = SignSHA256RSA(h.key, []byte(ts+"\nNONCE\n"+string(body)+"\n"))
		require.NoError(t, err)
	}
	return &Request{Method: http.MethodPost, RawQuery: rawQuery, Body: body, ClientIP: goldenClientIP, ReceivedAt: goldenReceivedAt,
		Header: http.Header{"Content-Type": {JSONType}, "Wechatpay-Timestamp": {ts}, "Wechatpay-Nonce": {"NONCE"},
			"Wechatpay-Signature": {sig}, "Wechatpay-Serial": {wechatpayTestSerial}}}
}

func (h wechatpayHarness) diff(t testing.TB, what, rawQuery string, body, plaintext []byte) (accepted bool) {
	if caseFoldsAName(body, wechatpayNames...) || caseFoldsAName(plaintext, wechatpayNames...) {
		return false
	}
	r := h.request(t, rawQuery, body, plaintext)
	var want, got []Event
	var wantErr, gotErr error
	if h.key != nil {
		want, wantErr = refWechatpayVerify(h.v, r, func() error { return h.v.authenticate(r) })
		got, gotErr = h.v.Verify(context.Background(), r)
	} else {
		unsigned := func() error { return nil }
		want, wantErr = refWechatpayVerify(h.v, r, unsigned)
		got, gotErr = h.v.verify(r, unsigned)
	}
	sameVerdict(t, what, got, gotErr, want, wantErr)
	return gotErr == nil
}

// wechatpaySeeds are the golden bodies with their ciphertext a placeholder
// and their plaintext.
func wechatpaySeeds(t testing.TB, v *Wechatpay) [][2][]byte {
	var seeds [][2][]byte
	for _, r := range goldenRequests(t, "wechatpay") {
		var n refWechatpayNotification
		if json.Unmarshal(r.Body, &n) != nil || n.Resource == nil {
			seeds = append(seeds, [2][]byte{r.Body, nil})
			continue
		}
		plaintext, err := wechatpayOpen(v.aead, n.Resource.Nonce, n.Resource.Ciphertext, n.Resource.AssociatedData)
		if err != nil || n.Resource.Ciphertext == "" {
			seeds = append(seeds, [2][]byte{r.Body, nil})
			continue
		}
		body := bytes.Replace(r.Body, []byte(n.Resource.Ciphertext), []byte("@CT@"), 1)
		seeds = append(seeds, [2][]byte{body, plaintext})
	}
	return seeds
}

var wechatpayCases = [][2]string{
	{`{"id":1,"create_time":"x","event_type":"E","resource_type":"encrypt-resource","resource":{}}`, ``},
	{`{"id":"1","create_time":"x","event_type":"E","resource_type":"encrypt-resource","resource":"x"}`, ``},
	{`{"id":"1","create_time":"x","event_type":"E","resource_type":"encrypt-resource","resource":null}`, ``},
	{`{"id":"1","create_time":"x","event_type":"E","resource_type":"encrypt-resource","summary":[],"resource":{}}`, ``},
	{`{"id":"1","create_time":"x","event_type":"E","resource_type":"encrypt-resource","resource":{"original_type":"transaction","algorithm":"AEAD_AES_256_GCM","nonce":5}}`, ``},
	{`{"id":"1","create_time":"2024-05-01T10:00:00+08:00","event_type":"E","resource_type":"encrypt-resource","resource":{"original_type":"transaction","algorithm":"AEAD_AES_256_GCM","nonce":"abcdefghijkl","associated_data":"transaction","ciphertext":"@CT@"}}`,
		`{"out_trade_no":"o1","trade_state":"SUCCESS","amount":{"total":null}}`},
	{`{"id":"1","create_time":"2024-05-01T10:00:00+08:00","event_type":"E","resource_type":"encrypt-resource","resource":{"original_type":"transaction","algorithm":"AEAD_AES_256_GCM","nonce":"abcdefghijkl","associated_data":"transaction","ciphertext":"@CT@"}}`,
		`{"out_trade_no":"o1","trade_state":"SUCCESS","amount":{"total":"1"}}`},
	{`{"id":"1","create_time":"2024-05-01T10:00:00+08:00","event_type":"E","resource_type":"encrypt-resource","resource":{"original_type":"transaction","algorithm":"AEAD_AES_256_GCM","nonce":"abcdefghijkl","associated_data":"transaction","ciphertext":"@CT@"}}`,
		`{"out_trade_no":"o1","trade_state":"SUCCESS","amount":[]}`},
	{`{"id":"1","create_time":"2024-05-01T10:00:00+08:00","event_type":"E","resource_type":"encrypt-resource","resource":{"original_type":"transaction","algorithm":"AEAD_AES_256_GCM","nonce":"abcdefghijkl","associated_data":"transaction","ciphertext":"@CT@"}}`,
		`{"out_trade_no":"o1","trade_state":"SUCCESS","amount":{"total":12,"currency":1}}`},
	{`{"id":"1","create_time":"2024-05-01T10:00:00+08:00","event_type":"E","resource_type":"encrypt-resource","resource":{"original_type":"refund","algorithm":"AEAD_AES_256_GCM","nonce":"abcdefghijkl","associated_data":"refund","ciphertext":"@CT@"}}`,
		`{"out_trade_no":"o1","refund_status":"SUCCESS","mchid":7,"amount":{"refund":12}}`},
	{`{"id":"1","create_time":"2024-05-01T10:00:00+08:00","event_type":"E","resource_type":"encrypt-resource","resource":{"original_type":"payscore","algorithm":"AEAD_AES_256_GCM","nonce":"abcdefghijkl","associated_data":"payscore","ciphertext":"@CT@"}}`,
		`{"out_trade_no":7, "x" : [1, "<&>"] }`},
	{`{"id":"1","create_time":"2024-05-01T10:00:00+08:00","event_type":"E","resource_type":"encrypt-resource","resource":{"original_type":"transaction","algorithm":"AEAD_AES_256_GCM","nonce":"abcdefghijkl","associated_data":"transaction","ciphertext":"@CT@"}}`,
		`[1]`},
}

func TestWechatpayAsReference(t *testing.T) {
	v := mustNew(t, "wechatpay", wechatpayConfig).(*Wechatpay)
	h := wechatpayHarness{v, wechatpayPrivateKey(t, "test.pem")}
	accepted := 0
	for i, s := range wechatpaySeeds(t, v) {
		if h.diff(t, fmt.Sprint("seed ", i), "", s[0], s[1]) {
			accepted++
		}
		h.diff(t, fmt.Sprint("seed ", i, "?id=1"), "id=1", s[0], s[1])
	}
	require.Greater(t, accepted, 10, "the signed seeds reach the events")
	for _, c := range wechatpayCases {
		h.diff(t, c[0]+" "+c[1], "", []byte(c[0]), []byte(c[1]))
	}
}

// FuzzWechatpayAsReference: any body and resource, sealed, is accepted,
// refused and normalized as the reference did. The bodies are not signed
// (TestWechatpayAsReference signs its own): under the fuzzer's
// instrumentation an RSA signature takes about a second.
func FuzzWechatpayAsReference(f *testing.F) {
	v := mustNew(f, "wechatpay", wechatpayConfig).(*Wechatpay)
	h := wechatpayHarness{v, nil}
	for _, s := range wechatpaySeeds(f, v) {
		f.Add("", s[0], s[1])
	}
	for _, c := range wechatpayCases {
		f.Add("", []byte(c[0]), []byte(c[1]))
	}
	f.Fuzz(func(t *testing.T, rawQuery string, body, plaintext []byte) {
		h.diff(t, fmt.Sprintf("%q %q", body, plaintext), rawQuery, body, plaintext)
	})
}

// ---- paypal ----

// A PayPal amount: v2 (value, currency_code) or v1 (total, currency),
// decimal strings in major units.
type refPayPalAmount struct {
	Value        string `json:"value"`
	CurrencyCode string `json:"currency_code"`
	Total        string `json:"total"`
	Currency     string `json:"currency"`
}

// The fields.
type refPayPalEvent struct {
	ID           string `json:"id"` // WH-…: the event id, the same on every retry
	EventType    string `json:"event_type"`
	CreateTime   string `json:"create_time"`
	ResourceType string `json:"resource_type"`
	Resource     struct {
		ID            string `json:"id"` // the capture, authorization, refund, order or dispute
		Status        string `json:"status"`
		StatusDetails struct {
			Reason string `json:"reason"`
		} `json:"status_details"`
		Amount         refPayPalAmount `json:"amount"`
		DisputedAmount refPayPalAmount `json:"disputed_amount"` // CUSTOMER.DISPUTE.*
		PurchaseUnits  []struct {
			Amount refPayPalAmount `json:"amount"`
		} `json:"purchase_units"` // CHECKOUT.ORDER.*
		Payee struct {
			MerchantID string `json:"merchant_id"`
		} `json:"payee"`
		Payer struct { // CHECKOUT.ORDER.*: the buyer
			EmailAddress string `json:"email_address"`
			Name         struct {
				GivenName string `json:"given_name"`
				Surname   string `json:"surname"`
			} `json:"name"`
		} `json:"payer"`
	} `json:"resource"`
}

// refPayPalNotice is PayPal.Notice as it was.
func refPayPalNotice(v *PayPal, r *Request) ([]Event, error) {
	authenticate := func() error {
		t, err := readTransmission(r.Header)
		if err != nil {
			return err
		}
		return v.checkTransmission(t, r)
	}
	return verifySignedJSONEvent(r, authenticate, paypalFields, func(pe *refPayPalEvent, r *Request) (Event, error) {
		return refPayPalNormalize(v, pe, r)
	})
}

func refPayPalNormalize(v *PayPal, pe *refPayPalEvent, r *Request) (Event, error) {
	for _, m := range []struct{ name, value string }{{"id", pe.ID}, {"event_type", pe.EventType}} {
		if m.value == "" {
			return Event{}, fmt.Errorf("%w: mandatory field %s is missing", ErrMalformed, m.name)
		}
	}
	e := NewEvent(v.Provider(), r)
	e.ID = pe.ID
	e.ProviderStatus = pe.EventType
	e.Status = paypalStatuses[pe.EventType]
	if e.Status == "" {
		e.Status = StatusUnknown
	}
	orderID, _, err := FirstText(r.Body, v.orderPaths...)
	if err != nil {
		return Event{}, err
	}
	if orderID == "" && v.OrderID == "" && strings.HasPrefix(pe.EventType, "CHECKOUT.ORDER.") {
		// The resource is PayPal's order: its id is the order id.
		if orderID, err = paypalOrderResourceID.Text(r.Body); err != nil {
			return Event{}, err
		}
	}
	if orderID == "" && e.Status != StatusUnknown {
		return Event{}, fmt.Errorf("%w: no order reference at %s", ErrMalformed, joinPaths(v.orderPaths))
	}
	e.OrderID = orderID
	e.TransactionID = pe.Resource.ID
	e.MerchantID = pe.Resource.Payee.MerchantID
	e.Reason = pe.Resource.StatusDetails.Reason
	e.OccurredAt = ParseTime(pe.CreateTime, time.RFC3339Nano)
	if strings.HasPrefix(pe.EventType, "CHECKOUT.ORDER.") {
		// An order's payer is the buyer (a refund's "payer" is the merchant).
		e.Customer = NewCustomer(pe.Resource.Payer.Name.GivenName+" "+pe.Resource.Payer.Name.Surname,
			pe.Resource.Payer.EmailAddress, "", "")
	}
	if err := refSetPayPalAmount(&e, pe); err != nil {
		return Event{}, err
	}
	if e.Raw, err = json.Marshal(json.RawMessage(r.Body)); err != nil { // compacted, as sent
		return Event{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return e, nil
}

// setPayPalAmount takes the resource's amount (v2 value and currency_code,
// v1 total and currency), else a dispute's disputed_amount, else an
// order's first purchase unit's amount.
func refSetPayPalAmount(e *Event, pe *refPayPalEvent) error {
	res := &pe.Resource
	candidates := []struct {
		field  string
		amount refPayPalAmount
	}{{"resource.amount", res.Amount}, {"resource.disputed_amount", res.DisputedAmount}}
	if len(res.PurchaseUnits) > 0 {
		candidates = append(candidates, struct {
			field  string
			amount refPayPalAmount
		}{"resource.purchase_units.0.amount", res.PurchaseUnits[0].Amount})
	}
	for _, c := range candidates {
		switch {
		// A v1 refund or reversal (PAYMENT.SALE.REFUNDED) carries a
		// negative total: the amount is what was refunded.
		case c.amount.Value != "":
			return SetAmount(e, c.field+".value", strings.TrimPrefix(c.amount.Value, "-"), c.amount.CurrencyCode, MajorUnits)
		case c.amount.Total != "":
			return SetAmount(e, c.field+".total", strings.TrimPrefix(c.amount.Total, "-"), c.amount.Currency, MajorUnits)
		}
	}
	return nil
}

var paypalNames = []string{"id", "event_type", "create_time", "resource_type", "resource", "status", "status_details",
	"reason", "amount", "value", "currency_code", "total", "currency", "disputed_amount", "purchase_units", "payee",
	"merchant_id", "payer", "email_address", "name", "given_name", "surname",
	"invoice_id", "custom_id", "supplementary_data", "related_ids", "order_id", "disputed_transactions", "invoice_number", "custom"}

// paypalHarness puts a body under the golden transmission's headers (Notice
// checks the headers and the time, not the body: PayPal's API does).
type paypalHarness struct {
	vs       []*PayPal // the default order paths, and order_id set
	header   http.Header
	received time.Time
}

func newPayPalHarness(t testing.TB) paypalHarness {
	_, cfg := paypalStandin(t)
	custom := cfg
	custom.Extra = map[string]any{}
	for k, val := range cfg.Extra {
		custom.Extra[k] = val
	}
	custom.Extra["order_id"] = "resource.purchase_units.1.custom_id"
	golden := goldenRequest(t, "paypal/capture_completed")
	return paypalHarness{
		vs:     []*PayPal{mustNew(t, "paypal", cfg).(*PayPal), mustNew(t, "paypal", custom).(*PayPal)},
		header: golden.Header, received: golden.ReceivedAt,
	}
}

// diff compares; accepted is the default config's verdict.
func (h paypalHarness) diff(t testing.TB, what, rawQuery string, body []byte) (accepted bool) {
	if caseFoldsAName(body, paypalNames...) {
		return false
	}
	for i, v := range h.vs {
		r := &Request{Method: http.MethodPost, Header: h.header, RawQuery: rawQuery, Body: body,
			ClientIP: goldenClientIP, ReceivedAt: h.received}
		want, wantErr := refPayPalNotice(v, r)
		got, gotErr := v.Notice(r)
		sameVerdict(t, what, got, gotErr, want, wantErr)
		if i == 0 {
			accepted = gotErr == nil
		}
	}
	return accepted
}

var paypalCases = []string{
	`{"id":"WH-1","event_type":"PAYMENT.CAPTURE.COMPLETED","resource":{"invoice_id":"o1","amount":{"value":"1.00","currency_code":"USD"}}}`,
	`{"id":"WH-1","event_type":"PAYMENT.CAPTURE.COMPLETED","resource":{"invoice_id":"o1","amount":{"value":1,"currency_code":"USD"}}}`,
	`{"id":"WH-1","event_type":"PAYMENT.CAPTURE.COMPLETED","resource":{"invoice_id":"o1","amount":[]}}`,
	`{"id":"WH-1","event_type":"PAYMENT.CAPTURE.COMPLETED","resource":[]}`,
	`{"id":"WH-1","event_type":"PAYMENT.CAPTURE.COMPLETED","resource":{"invoice_id":{}}}`,
	`{"id":"WH-1","event_type":"CHECKOUT.ORDER.APPROVED","resource":{"id":"P1","purchase_units":[null,{"amount":{"value":"2.00","currency_code":"EUR"},"custom_id":"c1"}]}}`,
	`{"id":"WH-1","event_type":"CHECKOUT.ORDER.APPROVED","resource":{"id":"P1","purchase_units":[{"amount":{"value":"2.00","currency_code":"EUR"}},{"amount":{"value":2}}]}}`,
	`{"id":"WH-1","event_type":"CHECKOUT.ORDER.APPROVED","resource":{"id":"P1","purchase_units":[{"amount":{"value":"2.00","currency_code":"EUR"}},5]}}`,
	`{"id":"WH-1","event_type":"CHECKOUT.ORDER.APPROVED","resource":{"id":7,"purchase_units":{}}}`,
	`{"id":"WH-1","event_type":"CHECKOUT.ORDER.APPROVED","resource":{"id":{},"payer":{"name":{"given_name":"A","surname":1}}}}`,
	`{"id":"WH-1","event_type":"CUSTOMER.DISPUTE.CREATED","resource":{"disputed_transactions":[{"invoice_number":12}],"disputed_amount":{"value":"-3.00","currency_code":"USD"},"status_details":{"reason":null}}}`,
	`{"id":"WH-1","event_type":"PAYMENT.SALE.COMPLETED","resource":{"custom_id":"o\u00e9<>","amount":{"total":"-1.00","currency":"USD"},"payee":{"merchant_id":"M"}}, "links" : [ ] }`,
	`{"id":"WH-1","event_type":"X","create_time":5}`,
}

func TestPayPalAsReference(t *testing.T) {
	h := newPayPalHarness(t)
	accepted := 0
	for name, r := range goldenRequests(t, "paypal") {
		if h.diff(t, name, "", r.Body) {
			accepted++
		}
		h.diff(t, name+"?summary=1", "summary=1", r.Body)
	}
	require.Greater(t, accepted, 10, "the seeds reach the events")
	for _, c := range paypalCases {
		h.diff(t, c, "", []byte(c))
	}
}

// FuzzPayPalAsReference: any body is accepted, refused and normalized by
// Notice as the reference did.
func FuzzPayPalAsReference(f *testing.F) {
	h := newPayPalHarness(f)
	for _, r := range goldenRequests(f, "paypal") {
		f.Add("", r.Body)
	}
	for _, c := range paypalCases {
		f.Add("", []byte(c))
	}
	f.Fuzz(func(t *testing.T, rawQuery string, body []byte) {
		h.diff(t, fmt.Sprintf("%q", body), rawQuery, body)
	})
}

// verifySignedJSONEvent is the Verify of a JSON webhook that carries one
// event: CheckSignedJSON, the body decoded into the provider's payload type
// T, and normalize: how the JSON providers read their body before the
// jsonDoc (verifySignedJSONDoc), kept for the references.
func verifySignedJSONEvent[T any](r *Request, authenticate func() error, documented map[string]bool,
	normalize func(*T, *Request) (Event, error)) ([]Event, error) {
	if err := CheckSignedJSON(r, authenticate, documented); err != nil {
		return nil, err
	}
	var payload T
	if err := json.Unmarshal(r.Body, &payload); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	e, err := normalize(&payload, r)
	if err != nil {
		return nil, err
	}
	return []Event{e}, nil
}

// rawNumber is the text of a JSON number, "" for anything else: a member
// read leniently, as the references read it.
func rawNumber(raw json.RawMessage) string {
	if len(raw) == 0 || !(raw[0] == '-' || raw[0] >= '0' && raw[0] <= '9') {
		return ""
	}
	return string(raw)
}
