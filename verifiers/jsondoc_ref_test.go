package verifiers

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
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
