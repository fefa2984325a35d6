package verifiers

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The converted providers read their members from the jsonDoc, not through
// encoding/json: the type checks encoding/json made for free must still
// refuse a member of the wrong JSON type, and a member spelled in another
// case is not the member (encoding/json matched struct fields regardless of
// case; the app reads the exact name).

// verifyDraft signs the provider's example for order, after edit, and
// verifies it.
func verifyDraft(t *testing.T, provider string, config options, edit func(fields map[string]any)) ([]Event, error) {
	t.Helper()
	p, err := newVerifier(provider, config)
	require.NoError(t, err)
	signer := p.(Signer)
	now := time.Unix(1714558830, 0)
	fields := signer.Example("ORD-77", now)
	if edit != nil {
		edit(fields)
	}
	n, err := signer.Sign(Draft{Fields: fields, Path: "/n", URL: "https://merchant.example/n", Now: now})
	require.NoError(t, err)
	_, query, _ := strings.Cut(n.Path, "?")
	return p.Verify(context.Background(), &Request{Method: n.Method, Header: n.Header, Body: n.Body,
		RawQuery: query, ReceivedAt: now})
}

// sub is the object at path in fields (made of map[string]any).
func sub(fields map[string]any, path ...string) map[string]any {
	for _, name := range path {
		fields = fields[name].(map[string]any)
	}
	return fields
}

// rename moves a member to another name.
func rename(m map[string]any, from, to string) {
	m[to] = m[from]
	delete(m, from)
}

type draftCase struct {
	name string
	edit func(fields map[string]any)
	want string // "" : accepted
}

func checkDrafts(t *testing.T, provider string, config options, cases []draftCase) {
	t.Helper()
	events, err := verifyDraft(t, provider, config, nil)
	require.NoError(t, err, "the example verifies")
	require.Len(t, events, 1)
	for _, c := range cases {
		_, err := verifyDraft(t, provider, config, c.edit)
		if c.want == "" {
			assert.NoError(t, err, c.name)
			continue
		}
		assert.ErrorIs(t, err, ErrMalformed, c.name)
		assert.ErrorContains(t, err, c.want, c.name)
	}
}

func TestStripeMemberTypes(t *testing.T) {
	checkDrafts(t, "stripe", stripeConfig, []draftCase{
		{"id as a number", func(f map[string]any) { f["id"] = json.Number("12") }, "id is not a string"},
		{"type as an object", func(f map[string]any) { f["type"] = map[string]any{} }, "type is not a string"},
		{"object as a number", func(f map[string]any) { f["object"] = json.Number("1") }, "object is not a string"},
		{"account as an array", func(f map[string]any) { f["account"] = []any{} }, "account is not a string"},
		{"data as a string", func(f map[string]any) { f["data"] = "x" }, "data is not an object"},
		{"type spelled Type", func(f map[string]any) { rename(f, "type", "Type") }, `is spelled "Type", which apps that ignore case read as type`},
		{"id spelled ID", func(f map[string]any) { rename(f, "id", "ID") }, `is spelled "ID", which apps that ignore case read as id`},
		{"amount as a string", func(f map[string]any) { sub(f, "data", "object")["amount_received"] = "1050" }, "data.object.amount_received is not a number"},
		{"order as an object", func(f map[string]any) { sub(f, "data", "object", "metadata")["order_id"] = map[string]any{} }, "data.object.metadata.order_id is an object or an array"},
		{"null id", func(f map[string]any) { f["id"] = nil }, "mandatory field id is missing"},
		{"null account", func(f map[string]any) { f["account"] = nil }, ""},
	})
}

func TestCheckoutMemberTypes(t *testing.T) {
	checkDrafts(t, "checkout", options{Secrets: checkoutConfig.Secrets}, []draftCase{
		{"id as a number", func(f map[string]any) { f["id"] = json.Number("12") }, "id is not a string"},
		{"data as an array", func(f map[string]any) { f["data"] = []any{} }, "data is not an object"},
		{"reference as a number", func(f map[string]any) { sub(f, "data")["reference"] = json.Number("77") }, "data.reference is not a string"},
		{"amount as true", func(f map[string]any) { sub(f, "data")["amount"] = true }, "data.amount is not a number"},
		{"amount as a quoted number, as encoding/json took it", func(f map[string]any) { sub(f, "data")["amount"] = "1050" }, ""},
		{"amount as a quoted word", func(f map[string]any) { sub(f, "data")["amount"] = "ten" }, "data.amount is not a number"},
		{"source as a string", func(f map[string]any) { sub(f, "data")["source"] = "card" }, "data.source is not an object"},
		{"source type as a number", func(f map[string]any) { sub(f, "data", "source")["type"] = json.Number("1") }, "data.source.type is not a string"},
		{"phone number as a number", func(f map[string]any) {
			sub(f, "data")["customer"] = map[string]any{"phone": map[string]any{"number": json.Number("5551234")}}
		}, "data.customer.phone.number is not a string"},
		{"reference spelled Reference", func(f map[string]any) { rename(sub(f, "data"), "reference", "Reference") }, `is spelled "Reference", which apps that ignore case read as reference`},
		{"type spelled TYPE", func(f map[string]any) { rename(f, "type", "TYPE") }, `is spelled "TYPE", which apps that ignore case read as type`},
	})
}

func TestPaddleMemberTypes(t *testing.T) {
	checkDrafts(t, "paddle", paddleConfig, []draftCase{
		{"event_id as a number", func(f map[string]any) { f["event_id"] = json.Number("12") }, "event_id is not a string"},
		{"occurred_at as an object", func(f map[string]any) { f["occurred_at"] = map[string]any{} }, "occurred_at is not a string"},
		{"notification_id as true", func(f map[string]any) { f["notification_id"] = true }, "notification_id is not a string"},
		{"event_type spelled Event_type", func(f map[string]any) { rename(f, "event_type", "Event_type") }, `is spelled "Event_type", which apps that ignore case read as event_type`},
		{"grand_total as a number", func(f map[string]any) { sub(f, "data", "details", "totals")["grand_total"] = json.Number("1050") },
			"data.details.totals.grand_total is not a string of digits"},
		{"order as an array", func(f map[string]any) { sub(f, "data", "custom_data")["order_id"] = []any{} }, "data.custom_data.order_id is an object or an array"},
		{"data as a string, an event not acted on", func(f map[string]any) { f["event_type"] = "customer.created"; f["data"] = "x" }, ""},
	})
}

func TestPaystackMemberTypes(t *testing.T) {
	checkDrafts(t, "paystack", paystackConfig, []draftCase{
		{"event as a number", func(f map[string]any) { f["event"] = json.Number("1") }, "event is not a string"},
		{"data as null", func(f map[string]any) { f["data"] = nil }, "mandatory field data.id is missing"},
		{"id as a string, as idText took it", func(f map[string]any) { sub(f, "data")["id"] = "302961" }, ""},
		{"id as true", func(f map[string]any) { sub(f, "data")["id"] = true }, "data.id: an id is a string or a number"},
		{"reference as an object", func(f map[string]any) { sub(f, "data")["reference"] = map[string]any{} }, "data.reference: an id is a string or a number"},
		{"status as a number", func(f map[string]any) { sub(f, "data")["status"] = json.Number("1") }, "data.status is not a string"},
		{"amount as an array", func(f map[string]any) { sub(f, "data")["amount"] = []any{} }, "data.amount is not a number"},
		{"transaction as a string", func(f map[string]any) { sub(f, "data")["transaction"] = "T1" }, "data.transaction is not an object"},
		{"customer email as a number", func(f map[string]any) { sub(f, "data", "customer")["email"] = json.Number("1") }, "data.customer.email is not a string"},
		{"reference spelled Reference", func(f map[string]any) { rename(sub(f, "data"), "reference", "Reference") }, `is spelled "Reference", which apps that ignore case read as reference`},
	})
}

func TestRazorpayMemberTypes(t *testing.T) {
	entity := func(f map[string]any) map[string]any { return sub(f, "payload", "payment", "entity") }
	checkDrafts(t, "razorpay", razorpayConfig, []draftCase{
		{"event as an object", func(f map[string]any) { f["event"] = map[string]any{} }, "event is not a string"},
		{"account_id as a number", func(f map[string]any) { f["account_id"] = json.Number("1") }, "account_id is not a string"},
		{"created_at as a word", func(f map[string]any) { f["created_at"] = "yesterday" }, "created_at is not a number"},
		{"payload as an array", func(f map[string]any) { f["payload"] = []any{} }, "payload is not an object"},
		{"payment as a string", func(f map[string]any) { sub(f, "payload")["payment"] = "pay" }, "payload.payment is not an object"},
		{"entity as a number", func(f map[string]any) { sub(f, "payload", "payment")["entity"] = json.Number("1") }, "payload.payment.entity is not an object"},
		{"an unrelated refund entity of the wrong type", func(f map[string]any) {
			sub(f, "payload")["refund"] = map[string]any{"entity": map[string]any{"id": json.Number("1")}}
		}, "payload.refund.entity.id is not a string"},
		{"method as a number", func(f map[string]any) { entity(f)["method"] = json.Number("1") }, "payload.payment.entity.method is not a string"},
		{"order_id as a number", func(f map[string]any) { entity(f)["order_id"] = json.Number("1") }, ""},
		{"notes as [] and no order", func(f map[string]any) { entity(f)["notes"] = []any{}; delete(entity(f), "order_id") }, "no order id"},
		{"noted order as an object", func(f map[string]any) { entity(f)["notes"] = map[string]any{"order_id": map[string]any{}} },
			"payload.payment.entity.notes.order_id is not a value"},
		{"event spelled Event", func(f map[string]any) { rename(f, "event", "Event") }, `is spelled "Event", which apps that ignore case read as event`},
	})
}

func TestSquareMemberTypes(t *testing.T) {
	payment := func(f map[string]any) map[string]any { return sub(f, "data", "object", "payment") }
	checkDrafts(t, "square", squareConfig, []draftCase{
		{"merchant_id as a number", func(f map[string]any) { f["merchant_id"] = json.Number("1") }, "merchant_id is not a string"},
		{"data.object as a string", func(f map[string]any) { sub(f, "data")["object"] = "x" }, "data.object is not an object"},
		{"payment as an array", func(f map[string]any) { sub(f, "data", "object")["payment"] = []any{} }, "data.object.payment is not an object"},
		{"status as a number", func(f map[string]any) { payment(f)["status"] = json.Number("1") }, "data.object.payment.status is not a string"},
		{"amount as a word", func(f map[string]any) { sub(payment(f), "amount_money")["amount"] = "ten" }, "data.object.payment.amount_money.amount is not a number"},
		{"reference_id as a number, as idText took it", func(f map[string]any) { payment(f)["reference_id"] = json.Number("77") }, ""},
		{"reference_id as false", func(f map[string]any) { payment(f)["reference_id"] = false }, "data.object.payment.reference_id: an id is a string or a number"},
		{"an unrelated refund of the wrong type", func(f map[string]any) {
			sub(f, "data", "object")["refund"] = map[string]any{"payment_id": json.Number("1")}
		},
			"data.object.refund.payment_id is not a string"},
		{"status spelled Status", func(f map[string]any) { rename(payment(f), "status", "Status") }, `is spelled "Status", which apps that ignore case read as status`},
	})
}
