package verifiers

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The keys of testdata/gen_golden_adyen.py, and the key of Adyen's own vector.
const (
	adyenTestKey   = "09A101BDBD5B1238FE30628D19AA125F297E0CCF31AC73635A07FCAE2BB3D263"
	adyenOldKey    = "1CDC8A284235F54528C72764ADEB977D707E2D21B834F1A1AECB1EE663CFA255"
	adyenVectorKey = "DFB1EB5485895CFA84146406857104ABB4CBCABDC8AAF103A624C8F6A3EAAB00"
)

var adyenConfig = options{Secrets: []string{adyenTestKey, adyenOldKey}}

func init() {
	key, _ := hex.DecodeString(adyenTestKey)
	benchCases = append(benchCases, benchCase{
		provider: "adyen", file: "adyen/authorisation", config: adyenConfig, newHash: sha256.New, key: key,
		signed: func(b *testing.B, req *Request) (signed, want []byte) {
			// The eight fields of the one item, joined by colons, rebuilt
			// from a generic decoding of the body.
			var body struct {
				NotificationItems []struct {
					NotificationRequestItem map[string]any
				} `json:"notificationItems"`
			}
			dec := json.NewDecoder(bytes.NewReader(req.Body))
			dec.UseNumber()
			if err := dec.Decode(&body); err != nil || len(body.NotificationItems) != 1 {
				b.Fatalf("not a batch of one: %v", err)
			}
			it := body.NotificationItems[0].NotificationRequestItem
			amount := it["amount"].(map[string]any)
			parts := []string{it["pspReference"].(string), "", it["merchantAccountCode"].(string), it["merchantReference"].(string),
				amount["value"].(json.Number).String(), amount["currency"].(string), it["eventCode"].(string), it["success"].(string)}
			if s, ok := it["originalReference"].(string); ok {
				parts[1] = s
			}
			want, err := base64.StdEncoding.DecodeString(it["additionalData"].(map[string]any)["hmacSignature"].(string))
			if err != nil {
				b.Fatal(err)
			}
			return []byte(strings.Join(parts, ":")), want
		},
	})
	// Adyen's secret is a hex key: "test-secret" is refused at provision.
	completeOptions["adyen"] = "secret " + adyenTestKey
}

// batchReject is a golden request a batch provider must refuse.
type batchReject struct {
	file   string
	want   error
	reason string
}

// testBatchProvider verifies each accepted golden request of
// testdata/<provider>/ against its .event.json (an array for a batch of
// several), and checks that each rejected one is refused with the typed
// error and reason, no event, and no secret in the error.
func testBatchProvider(t *testing.T, provider string, config options, accepted []string, rejected []batchReject) {
	t.Helper()
	v := mustNew(t, provider, config)
	for _, name := range accepted {
		t.Run(name, func(t *testing.T) {
			file := filepath.Join(provider, name)
			events, err := v.Verify(context.Background(), goldenRequest(t, file))
			require.NoError(t, err)
			require.NotEmpty(t, events)
			checkGolden(t, file, events)
		})
	}
	for _, rc := range rejected {
		t.Run(rc.file, func(t *testing.T) {
			events, err := v.Verify(context.Background(), goldenRequest(t, filepath.Join(provider, rc.file)))
			require.ErrorIs(t, err, rc.want)
			require.Contains(t, err.Error(), rc.reason)
			require.Empty(t, events)
			for _, secret := range config.Secrets {
				require.NotContains(t, err.Error(), secret, "a secret in an error message")
			}
		})
	}
}

func TestAdyen(t *testing.T) {
	testBatchProvider(t, "adyen", adyenConfig, []string{
		"authorisation", "authorisation_refused", "capture", "capture_failed", "cancellation", "refund",
		"refund_not_done", "chargeback", "offer_closed", "pending", "report_available", "no_amount", "jpy", "kwd",
		"old_secret", "colon_in_reference", "charset", "pretty_body", "batch", "same_item_twice",
	}, []batchReject{
		{"tampered", ErrSignature, "notificationItems[0] additionalData.hmacSignature matches none of the 2 configured secrets"},
		{"one_bad_item", ErrSignature, "notificationItems[1] additionalData.hmacSignature matches none"},
		{"wrong_secret", ErrSignature, "matches none"},
		{"unsigned", ErrSignature, "notificationItems[0] has no additionalData.hmacSignature"},
		{"no_additional_data", ErrSignature, "no additionalData.hmacSignature"},
		{"bad_base64", ErrSignature, "is not a base64 HMAC-SHA256"},
		{"hex_signature", ErrSignature, "is not a base64 HMAC-SHA256"},
		{"text_key", ErrSignature, "matches none"},
		{"empty_batch", ErrMalformed, "notificationItems is missing or empty"},
		{"no_items", ErrMalformed, "notificationItems is missing or empty"},
		{"item_without_request", ErrMalformed, "notificationItems[0] has no NotificationRequestItem"},
		{"duplicate_key", ErrMalformed, `JSON key "live" given twice`},
		{"duplicate_key_in_item", ErrMalformed, `JSON key "success" given twice`},
		{"case_folded_key", ErrMalformed, `JSON key "success" given twice`},
		{"invalid_utf8", ErrMalformed, "not valid UTF-8"},
		{"colon_shifted", ErrMalformed, "merchantAccountCode contains a colon"},
		{"missing_success", ErrMalformed, "mandatory field success is missing"},
		{"success_not_boolean", ErrMalformed, `success is neither "true" nor "false"`},
		{"missing_reference", ErrMalformed, "merchantReference (the order) is missing"},
		{"fractional_value", ErrMalformed, "notificationItems[0].amount.value is not a whole number of minor units"},
		{"negative_value", ErrMalformed, "amount.value is not an unsigned decimal number"},
		{"form_content_type", ErrMalformed, "content type"},
		{"get_method", ErrMethod, "GET"},
	})
}

// TestAdyenOfficialVector: the item of Adyen's hmacvalidator_test.go, signed
// as that test expects, is accepted under Adyen's key, and the string it
// signs is the one written there.
func TestAdyenOfficialVector(t *testing.T) {
	it := adyenItem{PspReference: "pspReference", OriginalReference: "originalReference", MerchantAccountCode: "merchantAccount",
		MerchantReference: "reference", Amount: &adyenAmount{Value: "1000", Currency: "EUR"}, EventCode: "EVENT", Success: "true"}
	assert.Equal(t, "pspReference:originalReference:merchantAccount:reference:1000:EUR:EVENT:true", string(adyenStringToSign(nil, &it)))

	v := mustNew(t, "adyen", options{Secrets: []string{adyenVectorKey}})
	events, err := v.Verify(context.Background(), goldenRequest(t, "adyen/official_vector"))
	require.NoError(t, err)
	require.Len(t, events, 1)
	checkGolden(t, "adyen/official_vector", events)
	assert.Equal(t, StatusUnknown, events[0].Status, "EVENT is no event code of the status table")
	assert.Equal(t, "EVENT:true", events[0].ProviderStatus)
	assert.Equal(t, "reference", events[0].OrderID)
	assert.Equal(t, "10.00", events[0].Amount)
	assert.Contains(t, string(events[0].Raw), "ipnxGCaUZ4l8TUW75a71/ghd2Fe5ffvX0pV4TLTntIc=")

	// The lower-case spelling of the key is the same key.
	_, err = mustNew(t, "adyen", options{Secrets: []string{strings.ToLower(adyenVectorKey)}}).
		Verify(context.Background(), goldenRequest(t, "adyen/official_vector"))
	require.NoError(t, err)
	// Keyed with the key's text (not hex-decoded), it is refused.
	_, err = mustNew(t, "adyen", adyenConfig).Verify(context.Background(), goldenRequest(t, "adyen/official_vector"))
	require.ErrorIs(t, err, ErrSignature)
}

func TestAdyenStatuses(t *testing.T) {
	for _, c := range []struct {
		code, success string
		want          Status
	}{
		{"AUTHORISATION", "true", StatusAuthorized}, {"AUTHORISATION", "false", StatusFailed},
		{"CAPTURE", "true", StatusSucceeded}, {"CAPTURE", "false", StatusFailed},
		{"CAPTURE_FAILED", "true", StatusFailed},
		{"CANCELLATION", "true", StatusCancelled}, {"CANCELLATION", "false", StatusUnknown},
		{"REFUND", "true", StatusRefunded}, {"REFUND", "false", StatusUnknown},
		{"CHARGEBACK", "true", StatusDisputed}, {"NOTIFICATION_OF_CHARGEBACK", "true", StatusDisputed},
		{"SECOND_CHARGEBACK", "true", StatusDisputed},
		{"OFFER_CLOSED", "true", StatusExpired}, {"OFFER_CLOSED", "false", StatusUnknown},
		{"PENDING", "true", StatusPending},
		{"REFUND_FAILED", "true", StatusUnknown}, {"CANCEL_OR_REFUND", "true", StatusUnknown},
		{"REPORT_AVAILABLE", "true", StatusUnknown}, {"authorisation", "true", StatusUnknown},
	} {
		assert.Equal(t, c.want, adyenStatus(c.code, c.success), c.code+" "+c.success)
	}
}

// TestAdyenBatchItemsAreEventsOfTheirOwn: each item of a batch is one event
// with its own id, the id an item has alone: Adyen may batch a retried item
// with other items than the first time.
func TestAdyenBatchItemsAreEventsOfTheirOwn(t *testing.T) {
	v := mustNew(t, "adyen", adyenConfig)
	batch, err := v.Verify(context.Background(), goldenRequest(t, "adyen/batch"))
	require.NoError(t, err)
	require.Len(t, batch, 3)
	ids := map[string]bool{}
	for i, single := range []string{"adyen/authorisation", "adyen/capture", "adyen/refund"} {
		alone := verifyGolden(t, v, single)
		assert.Equal(t, alone.ID, batch[i].ID, single)
		assert.Equal(t, alone.Status, batch[i].Status, single)
		ids[batch[i].ID] = true
	}
	assert.Len(t, ids, 3, "three items, three ids")
	assert.Equal(t, []Status{StatusAuthorized, StatusSucceeded, StatusRefunded}, []Status{batch[0].Status, batch[1].Status, batch[2].Status})
	assert.Equal(t, "K6NHLSC6CBFWLR82", batch[1].TransactionID, "a capture's own pspReference")
	assert.Equal(t, "NC6HT9CRT65ZGN82", mustOriginalReference(t, batch[1].Raw), "raw is the item as sent")

	twice, err := v.Verify(context.Background(), goldenRequest(t, "adyen/same_item_twice"))
	require.NoError(t, err)
	require.Len(t, twice, 2)
	assert.Equal(t, twice[0].ID, twice[1].ID, "the same item twice is one event (the handler delivers it once)")
}

func mustOriginalReference(t *testing.T, raw json.RawMessage) string {
	var it struct {
		OriginalReference string `json:"originalReference"`
	}
	require.NoError(t, json.Unmarshal(raw, &it))
	return it.OriginalReference
}

// TestAdyenIDIgnoresUnsignedFields: eventDate, reason and paymentMethod are
// not signed, so a captured item replayed with them changed still verifies;
// its id is made of signed fields only, so dedup sees the same event.
func TestAdyenIDIgnoresUnsignedFields(t *testing.T) {
	v := mustNew(t, "adyen", adyenConfig)
	genuine := verifyGolden(t, v, "adyen/authorisation")
	req := goldenRequest(t, "adyen/authorisation")
	req.Body = bytes.Replace(req.Body, []byte(`"eventDate":"2024-05-01T12:20:30+02:00"`), []byte(`"eventDate":"2024-06-01T12:20:30+02:00"`), 1)
	req.Body = bytes.Replace(req.Body, []byte(`"paymentMethod":"visa"`), []byte(`"paymentMethod":"mc"`), 1)
	events, err := v.Verify(context.Background(), req)
	require.NoError(t, err)
	assert.Equal(t, "mc", events[0].PaymentMethod, "the change went through")
	assert.Equal(t, genuine.ID, events[0].ID)

	// A signed field changed is another signature: refused.
	req = goldenRequest(t, "adyen/authorisation")
	req.Body = bytes.Replace(req.Body, []byte(`"success":"true"`), []byte(`"success":"false"`), 1)
	_, err = v.Verify(context.Background(), req)
	require.ErrorIs(t, err, ErrSignature)
}

// TestAdyenSecretIsAHexKey: a secret that is not even-length hex fails at
// provision, naming the option and not the value.
func TestAdyenSecretIsAHexKey(t *testing.T) {
	t.Setenv("PAYNOTIFY_TEST_ADYEN_KEY", "not-hex-key-material")
	for _, secret := range []string{"test-secret", "ABC", adyenTestKey + "0", "zz" + adyenTestKey[2:], "{env.PAYNOTIFY_TEST_ADYEN_KEY}"} {
		_, err := newVerifier("adyen", options{Secrets: []string{adyenTestKey, secret}})
		var oe *OptionError
		require.True(t, errors.As(err, &oe), secret)
		assert.Equal(t, "secret", oe.Option)
		assert.Contains(t, err.Error(), "secret 2 is not an even-length hex string")
		assert.NotContains(t, err.Error(), "not-hex-key-material")
		if !strings.HasPrefix(secret, "{") {
			assert.NotContains(t, err.Error(), secret)
		}
	}
	t.Setenv("PAYNOTIFY_TEST_ADYEN_KEY", adyenTestKey)
	v := mustNew(t, "adyen", options{Secrets: []string{"{env.PAYNOTIFY_TEST_ADYEN_KEY}"}})
	verifyGolden(t, v, "adyen/authorisation")
}

// TestAdyenBatchLimit: a batch of MaxBatchItems items is delivered, one
// more is refused whole.
func TestAdyenBatchLimit(t *testing.T) {
	v := mustNew(t, "adyen", adyenConfig)
	req := goldenRequest(t, "adyen/authorisation")
	var body struct {
		NotificationItems []json.RawMessage `json:"notificationItems"`
	}
	require.NoError(t, json.Unmarshal(req.Body, &body))
	build := func(n int) *Request {
		items := make([]json.RawMessage, n)
		for i := range items {
			items[i] = body.NotificationItems[0]
		}
		b, err := json.Marshal(map[string]any{"live": "false", "notificationItems": items})
		require.NoError(t, err)
		r := *req
		r.Body = b
		return &r
	}
	events, err := v.Verify(context.Background(), build(MaxBatchItems))
	require.NoError(t, err)
	assert.Len(t, events, MaxBatchItems)
	events, err = v.Verify(context.Background(), build(MaxBatchItems+1))
	require.ErrorIs(t, err, ErrMalformed)
	assert.Contains(t, err.Error(), "notificationItems holds 501 items, over the limit of 500")
	assert.Empty(t, events)
}

// TestAdyenSignerMatchesTheGoldenSigner: caddy paynotify sign signs every
// item as the Python generator does.
func TestAdyenSignerMatchesTheGoldenSigner(t *testing.T) {
	v := mustNew(t, "adyen", adyenConfig)
	req := goldenRequest(t, "adyen/batch")
	var fields map[string]any
	dec := json.NewDecoder(bytes.NewReader(req.Body))
	dec.UseNumber()
	require.NoError(t, dec.Decode(&fields))
	want := map[int]string{}
	for i, w := range fields["notificationItems"].([]any) {
		ad := w.(map[string]any)["NotificationRequestItem"].(map[string]any)["additionalData"].(map[string]any)
		want[i] = ad["hmacSignature"].(string)
		ad["hmacSignature"] = "stale"
	}
	n, err := v.(Signer).Sign(Draft{Fields: fields, Path: "/n"})
	require.NoError(t, err)
	events, err := v.Verify(context.Background(), &Request{Method: n.Method, Header: n.Header, Body: n.Body})
	require.NoError(t, err)
	require.Len(t, events, 3)
	for i := range events {
		sig := []byte(want[i])
		if i == 1 { // signed with the old key by the generator, with the first by Sign
			key, _ := hex.DecodeString(adyenTestKey)
			mac := hmac.New(sha256.New, key)
			mac.Write([]byte("K6NHLSC6CBFWLR82:NC6HT9CRT65ZGN82:PaynotifyShopECOM:ORD-20240501-0001:1050:EUR:CAPTURE:true"))
			sig = []byte(base64.StdEncoding.EncodeToString(mac.Sum(nil)))
		}
		assert.Contains(t, string(events[i].Raw), string(sig), "item %d", i)
	}
}

// FuzzAdyen: each item is signed on its own over eight of its fields, so an
// accepted body need not be a body Adyen sent (a batch can be cut, its items
// reordered, their unsigned fields changed); what must be genuine is the
// signed string of every item it yields an event for.
func FuzzAdyen(f *testing.F) {
	v := mustNew(f, "adyen", adyenConfig)
	itemsSigned := func(r *Request) []string {
		var body adyenBody
		if json.Unmarshal(r.Body, &body) != nil {
			return nil
		}
		var s []string
		for _, w := range body.NotificationItems {
			var it adyenItem
			if json.Unmarshal(w.NotificationRequestItem, &it) != nil {
				return nil
			}
			s = append(s, string(adyenStringToSign(nil, &it)))
		}
		return s
	}
	genuine := map[string]bool{}
	files, _ := filepath.Glob(filepath.Join("..", "testdata", "adyen", "*.http"))
	for _, file := range files {
		req := goldenRequest(f, filepath.Join("adyen", strings.TrimSuffix(filepath.Base(file), ".http")))
		f.Add(req.Method, req.RawQuery, req.Header.Get("Content-Type"), req.Body)
		if _, err := v.Verify(context.Background(), req); err == nil {
			for _, s := range itemsSigned(req) {
				genuine[s] = true
			}
		}
	}
	require.NotEmpty(f, genuine)
	f.Fuzz(func(t *testing.T, method, rawQuery, contentType string, body []byte) {
		req := &Request{Method: method, Header: http.Header{"Content-Type": {contentType}}, RawQuery: rawQuery, Body: body,
			ClientIP: goldenClientIP, ReceivedAt: goldenReceivedAt}
		events, err := v.Verify(context.Background(), req)
		if err != nil {
			if len(events) != 0 {
				t.Fatal("events returned with an error")
			}
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrSignature) && !errors.Is(err, ErrMethod) {
				t.Fatalf("untyped rejection: %v", err)
			}
			return
		}
		signed := itemsSigned(req)
		if len(events) == 0 || len(events) != len(signed) {
			t.Fatalf("%d events for %d items", len(events), len(signed))
		}
		for i, s := range signed {
			if !genuine[s] {
				t.Fatalf("item %d accepted, its signed string signed by no seed: %q", i, s)
			}
		}
	})
}
