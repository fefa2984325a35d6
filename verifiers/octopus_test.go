package verifiers

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var octopusConfig = options{Secrets: []string{"octopus-test-secret"}, Key: "octopus-test-key"}

func TestOctopus(t *testing.T) {
	testProvider(t, "octopus", octopusConfig, []string{
		"none", "pending", "processing", "completed", "failed", "reject", "refund", "overdue", "on_hold",
		"amount_only",
	}, []rejectCase{
		{"tampered", nil, ErrSignature, "OC-Signature header matches none of the 1 configured secrets"},
		{"number_reformatted", nil, ErrSignature, "matches none"},
		{"wrong_secret", nil, ErrSignature, "matches none"},
		{"unsigned", nil, ErrSignature, "no OC-Signature header"},
		{"bad_hex", nil, ErrSignature, "OC-Signature header is not a hex HMAC"},
		{"wrong_key", nil, ErrForbidden, "OC-Key header is missing or is not the configured value"},
		{"no_key", nil, ErrForbidden, "OC-Key header is missing"},
		{"missing_order", nil, ErrMalformed, "mandatory field merchant_order_id is missing"},
		{"duplicate_key", nil, ErrMalformed, `JSON key "payment_status" given twice`},
		{"missing_currency", nil, ErrMalformed, "mandatory field currency is missing"},
		{"key_with_separators", nil, ErrMalformed, `field name "tenant=ph-1&transaction_type" is not a plain name`},
		{"currency_swallows_amount", nil, ErrMalformed, "field currency carries the pair final_amount=…, which signs like a separate field"},
	})
}

func TestOctopusStringToSign(t *testing.T) {
	req := goldenRequest(t, "octopus/completed")
	e := verifyGolden(t, mustNew(t, "octopus", octopusConfig), "octopus/completed")
	// final_amount is preferred to amount, the currency is upper-cased, and
	// the signature key never reaches the app.
	assert.Equal(t, "99.50", e.Amount)
	assert.Equal(t, "PHP", e.Currency)
	assert.NotContains(t, string(e.Raw), "sk_live_9f8e7d6c")
	assert.Contains(t, string(e.Raw), `"final_amount":99.50`, "raw keeps the number as sent")
	assert.Contains(t, string(req.Body), "sk_live_9f8e7d6c")
}

// TestOctopusRegroupedReplayKeepsTheID: a string value may swallow the
// "&key=value" pairs that follow it and the signature still matches. The
// event id is the signed string as a whole, so such a replay carries the id
// of the genuine callback and cannot pass for a new event.
func TestOctopusRegroupedReplayKeepsTheID(t *testing.T) {
	v := mustNew(t, "octopus", octopusConfig)
	genuine := verifyGolden(t, v, "octopus/completed")
	regrouped := verifyGolden(t, v, "octopus/merged_fields")
	assert.Equal(t, genuine.ID, regrouped.ID)
	assert.NotEqual(t, verifyGolden(t, v, "octopus/failed").ID, genuine.ID)
}

// octopusCallback is the golden completed callback's fields as raw JSON,
// with change applied ("" removes a field).
func octopusCallback(change map[string]string) map[string]json.RawMessage {
	f := map[string]json.RawMessage{}
	req := goldenRequest(&testing.T{}, "octopus/completed")
	if err := json.Unmarshal(req.Body, &f); err != nil {
		panic(err)
	}
	for k, v := range change {
		if v == "" {
			delete(f, k)
		} else {
			f[k] = json.RawMessage(v)
		}
	}
	return f
}

func octopusRequest(t *testing.T, f map[string]json.RawMessage) *Request {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // "&" as sent, not \u0026, so that objects sign as written
	require.NoError(t, enc.Encode(f))
	body := bytes.TrimSpace(buf.Bytes())
	signed, err := refOctopusStringToSign(f)
	require.NoError(t, err)
	mac := hmac.New(sha256.New, []byte("octopus-test-secret"))
	mac.Write(signed)
	return &Request{
		Method: http.MethodPost,
		Header: http.Header{"Content-Type": {"application/json"}, "Oc-Signature": {hex.EncodeToString(mac.Sum(nil))},
			"Oc-Key": {"octopus-test-key"}},
		Body: body, ClientIP: goldenClientIP, ReceivedAt: goldenReceivedAt,
	}
}

// TestOctopusRegroupedCopyCannotStandInForTheGenuine tries every regrouping
// in which one value swallows the 1 to n fields that follow it ("&k=v" pairs
// in a JSON string, signing alike). Each is refused, or is the genuine event
// with its id, or another meaning under another id: never another meaning
// under the genuine id, which, delivered first, would have the genuine
// callback acknowledged as its duplicate. Values of the fields the event is
// made of are never regrouped into the event.
func TestOctopusRegroupedCopyCannotStandInForTheGenuine(t *testing.T) {
	v := mustNew(t, "octopus", octopusConfig)
	for name, f := range map[string]map[string]json.RawMessage{
		"completed": octopusCallback(nil),
		"notify_url with a query": octopusCallback(map[string]string{
			"notify_url": `"https://merchant.example/notify?shop=1&lang=en&a=b"`}),
		"failed": octopusCallback(map[string]string{"payment_status": `"failed"`,
			"payment_fail_reason": `"insufficient balance"`}),
	} {
		t.Run(name, func(t *testing.T) {
			events, err := v.Verify(context.Background(), octopusRequest(t, f))
			require.NoError(t, err, "a genuine callback")
			want := events[0]
			var keys []string
			for k, raw := range f {
				if _, present, _ := octopusValue(raw); present {
					keys = append(keys, k)
				}
			}
			sort.Strings(keys)
			tried, refused, same, other := 0, 0, 0, 0
			for i, k := range keys {
				for n := 1; i+n < len(keys); n++ {
					m := maps.Clone(f)
					value, _, _ := octopusValue(f[k])
					for _, swallowed := range keys[i+1 : i+1+n] {
						s, _, _ := octopusValue(f[swallowed])
						value += "&" + swallowed + "=" + s
						delete(m, swallowed)
					}
					m[k], _ = json.Marshal(value)
					desc := fmt.Sprintf("%s swallows %v", k, keys[i+1:i+1+n])
					s1, _ := refOctopusStringToSign(f)
					s2, _ := refOctopusStringToSign(m)
					require.Equal(t, string(s1), string(s2), desc)
					tried++
					events, err := v.Verify(context.Background(), octopusRequest(t, m))
					if err != nil {
						assert.ErrorIs(t, err, ErrMalformed, desc)
						refused++
						continue
					}
					got := events[0]
					if meaning(got) == meaning(want) {
						assert.Equal(t, want.ID, got.ID, desc)
						same++
						continue
					}
					other++
					assert.NotEqual(t, want.ID, got.ID, "%s: another meaning under the genuine id", desc)
					for _, field := range keys[i : i+1+n] {
						assert.NotContains(t, []string{"merchant_order_id", "payment_status", "currency", "final_amount",
							"amount", "order_uid", "payment_uid", "merchant_uid"}, field,
							"%s: changed the event: %+v", desc, meaning(got))
					}
				}
			}
			t.Logf("%d regroupings: %d refused, %d the genuine event, %d another meaning", tried, refused, same, other)
		})
	}
}

type eventMeaning struct {
	Status                                              Status
	ProviderStatus, Amount, Currency, Order, Txn, Merch string
}

func meaning(e Event) eventMeaning {
	return eventMeaning{e.Status, e.ProviderStatus, e.Amount, e.Currency, e.OrderID, e.TransactionID, e.MerchantID}
}

// TestOctopusValueCannotCarryAMeaningField: a value that holds
// "&payment_status=…" lets a copy read the same signed string with another
// payment status, whatever the fields' order (the outside review's copy set
// payment_status itself and swallowed the genuine one into a field "zzz").
func TestOctopusValueCannotCarryAMeaningField(t *testing.T) {
	v := mustNew(t, "octopus", octopusConfig)
	genuine := octopusCallback(map[string]string{"payment_status": `"failed"`,
		"meta": `{"customer_note":"x&payment_status=completed&zzz="}`})
	_, err := v.Verify(context.Background(), octopusRequest(t, genuine))
	assert.ErrorIs(t, err, ErrMalformed, "a note carrying a payment status")

	// The copy: meta ends before the pair, payment_status is a field of its
	// own, and zzz swallows the rest of the genuine string.
	signed, err := refOctopusStringToSign(genuine)
	require.NoError(t, err)
	head, tail, ok := strings.Cut(string(signed), "&payment_status=completed&zzz=")
	require.True(t, ok)
	metaValue, _ := strings.CutPrefix(head[strings.Index(head, "&meta=")+1:], "meta=")
	copyFields := map[string]json.RawMessage{}
	for k, raw := range genuine {
		if k < "meta" {
			copyFields[k] = raw
		}
	}
	copyFields["meta"], _ = json.Marshal(metaValue)
	copyFields["payment_status"] = json.RawMessage(`"completed"`)
	copyFields["zzz"], _ = json.Marshal(tail)
	copySigned, err := refOctopusStringToSign(copyFields)
	require.NoError(t, err)
	require.Equal(t, string(signed), string(copySigned), "the copy signs like the genuine")
	_, err = v.Verify(context.Background(), octopusRequest(t, copyFields))
	assert.ErrorIs(t, err, ErrMalformed, "the copy")

	url := octopusCallback(map[string]string{"payment_status": `"failed"`,
		"notify_url": `"https://merchant.example/notify/octopus?shop=1&payment_status=completed&zzz="`})
	_, err = v.Verify(context.Background(), octopusRequest(t, url))
	assert.ErrorIs(t, err, ErrMalformed, "a notify_url whose query names payment_status")
}
