"""Golden requests of the paddle provider (loaded by gen_golden.py).

Paddle-Signature: ts=<unix>;h1=<hex HMAC-SHA256 of "<ts>:<body>">, keyed with
the destination's secret key as written (paddle-go-sdk webhook_verifier.go,
paddle-node-sdk webhooks-validator.ts). Signed at 1714558830, a second
before the golden clock (2024-05-01T10:20:31Z).
"""
import hashlib
import hmac
import json
import os

from gen_golden import raw_request, write_bytes

HERE = os.path.dirname(os.path.abspath(__file__))
SECRET = "pdl_ntfset_01hw0test_paddleTestSecretKey0001"
OLD_SECRET = "pdl_ntfset_01hv9old_paddleOldSecretKey0001"
TS = 1714558830


def sign(secret, ts, body):
    return hmac.new(secret.encode(), str(ts).encode() + b":" + body, hashlib.sha256).hexdigest()


def notification(event_type, data, **top):
    n = {"event_id": "evt_01hwa8v5b2x7c0q4m9n3k6j1fz", "event_type": event_type,
         "occurred_at": "2024-05-01T10:20:28.412301Z", "notification_id": "ntf_01hwa8v5f3c1d9e7a2b4g6h8j0",
         "data": data}
    n.update(top)
    return n


def transaction(**change):
    t = {"id": "txn_01hwa8shq6y7ckbpzt8m1kv4f2", "status": "completed", "customer_id": "ctm_01hwa8s3tq0k9c1y",
         "address_id": "add_01hwa8s3v2", "business_id": None, "custom_data": {"order_id": "ORD-2024-0501-9"},
         "currency_code": "USD", "origin": "web", "subscription_id": None, "invoice_number": "325-10566",
         "collection_mode": "automatic", "billed_at": "2024-05-01T10:20:25.101Z",
         "created_at": "2024-05-01T10:19:58.001Z", "updated_at": "2024-05-01T10:20:28.001Z",
         "items": [{"price": {"id": "pri_01hwa8", "unit_price": {"amount": "2500", "currency_code": "USD"}},
                    "quantity": 1}],
         "details": {"totals": {"subtotal": "2500", "discount": "0", "tax": "250", "total": "2750",
                                "credit": "0", "balance": "0", "grand_total": "2750", "fee": "188",
                                "earnings": "2562", "currency_code": "USD"}},
         "payments": [{"amount": "2750", "status": "captured", "created_at": "2024-05-01T10:20:20.001Z",
                       "error_code": None, "captured_at": "2024-05-01T10:20:25.001Z",
                       "method_details": {"card": {"type": "visa", "last4": "4242"}, "type": "card"},
                       "payment_attempt_id": "2b1c7e9c-62b0-4ae5-93f1-4f5b3a6d1a11"}]}
    t.update(change)
    return t


def adjustment(**change):
    a = {"id": "adj_01hwa9c2n4m1x8q7w6e5r3t2y1", "action": "refund", "transaction_id": "txn_01hwa8shq6y7ckbpzt8m1kv4f2",
         "subscription_id": None, "customer_id": "ctm_01hwa8s3tq0k9c1y", "reason": "Customer changed their mind",
         "credit_applied_to_balance": None, "currency_code": "USD", "status": "approved",
         "items": [{"item_id": "txnitm_01hwa8", "type": "full", "amount": "2750"}],
         "totals": {"subtotal": "2500", "tax": "250", "total": "2750", "fee": "188", "earnings": "-2562",
                    "currency_code": "USD"},
         "created_at": "2024-05-01T10:15:00.001Z", "updated_at": "2024-05-01T10:20:27.001Z"}
    a.update(change)
    return a


def paddle_case(name, n=None, body=None, secret=SECRET, ts=TS, header=None, content_type="application/json",
                target="/notify/paddle", after_sign=None, extra_headers=None):
    if body is None:
        body = json.dumps(n, separators=(",", ":"))
    body = body.encode() if isinstance(body, str) else body
    h = {"Content-Type": content_type}
    if header is None:
        header = f"ts={ts};h1={sign(secret, ts, body)}"
    if header is not False:
        h["Paddle-Signature"] = header
    h.update(extra_headers or {})
    if after_sign:
        body = after_sign(body)
    write_bytes("paddle", name, raw_request("POST", target, h, body))


def body_of(n):
    return json.dumps(n, separators=(",", ":")).encode()


def failed_payment():
    return {"amount": "2750", "status": "error", "created_at": "2024-05-01T10:20:20.001Z",
            "error_code": "declined", "captured_at": None,
            "method_details": {"card": {"type": "visa", "last4": "0002"}, "type": "card"},
            "payment_attempt_id": "5d1e0a31-9c55-4d7a-a1a4-2e8b1a3f9f20"}


def cases():
    # Accepted.
    paddle_case("transaction_completed", notification("transaction.completed", transaction()))
    paddle_case("transaction_paid", notification("transaction.paid", transaction(status="paid")))
    paddle_case("transaction_payment_failed", notification("transaction.payment_failed", transaction(
        status="ready", billed_at=None, payments=[failed_payment()])))
    paddle_case("transaction_canceled", notification("transaction.canceled", transaction(
        status="canceled", payments=[])))
    paddle_case("transaction_past_due", notification("transaction.past_due", transaction(
        status="past_due", payments=[failed_payment()])))
    paddle_case("retried_payment", notification("transaction.completed", transaction(
        payments=[failed_payment(), transaction()["payments"][0]])))
    paddle_case("adjustment_refund_approved", notification("adjustment.updated", adjustment()))
    paddle_case("adjustment_refund_pending", notification("adjustment.created", adjustment(
        status="pending_approval")))
    paddle_case("adjustment_credit", notification("adjustment.created", adjustment(action="credit")))
    paddle_case("subscription_created", notification("subscription.created", {
        "id": "sub_01hwa8t4c7", "status": "active", "customer_id": "ctm_01hwa8s3tq0k9c1y",
        "currency_code": "USD", "custom_data": None, "items": []}))
    paddle_case("transaction_created_without_order", notification("transaction.created", transaction(
        status="draft", custom_data=None, payments=[])))
    paddle_case("jpy", notification("transaction.completed", transaction(currency_code="JPY", details={
        "totals": {"subtotal": "3000", "tax": "300", "total": "3300", "grand_total": "3300",
                   "currency_code": "JPY"}})))
    paddle_case("old_secret", notification("transaction.completed", transaction()), secret=OLD_SECRET)
    b = body_of(notification("transaction.completed", transaction()))
    paddle_case("two_h1_and_h2", body=b,
                header=f"ts={TS};h1={sign('pdl_ntfset_other', TS, b)};h1={sign(SECRET, TS, b)};h2=RANDOM_HASH")
    paddle_case("uppercase_hex", body=b, header=f"ts={TS};h1={sign(SECRET, TS, b).upper()}")
    paddle_case("pretty_body", body=json.dumps(notification("transaction.completed", transaction()), indent=2))

    # Rejected.
    paddle_case("tampered", body=b, after_sign=lambda x: x.replace(b'"grand_total":"2750"', b'"grand_total":"9750"'))
    paddle_case("wrong_secret", body=b, secret="pdl_ntfset_not_the_secret")
    paddle_case("unsigned", body=b, header=False)
    paddle_case("empty_header", body=b, header="")
    paddle_case("no_ts", body=b, header=f"h1={sign(SECRET, TS, b)}")
    paddle_case("two_ts", body=b, header=f"ts={TS};ts={TS + 1};h1={sign(SECRET, TS, b)}")
    paddle_case("only_h2", body=b, header=f"ts={TS};h2={sign(SECRET, TS, b)}")
    paddle_case("h1_not_hex", body=b, header=f"ts={TS};h1=invalid_signature")
    paddle_case("upper_case_names", body=b, header=f"TS={TS};H1={sign(SECRET, TS, b)}")
    paddle_case("comma_separated", body=b, header=f"ts={TS},h1={sign(SECRET, TS, b)}")
    paddle_case("too_old", body=b, ts=TS - 301)
    paddle_case("in_future", body=b, ts=TS + 302)
    paddle_case("stripe_join", body=b,
                header=f"ts={TS};h1=" + hmac.new(SECRET.encode(), f"{TS}.".encode() + b, hashlib.sha256).hexdigest())
    paddle_case("duplicate_key", body='{"event_id":"evt_d","event_type":"transaction.payment_failed",'
                '"event_type":"transaction.completed","occurred_at":"2024-05-01T10:20:28Z","data":'
                '{"id":"txn_1","currency_code":"USD","custom_data":{"order_id":"ORD-1"}}}')
    paddle_case("case_folded_key", body='{"event_id":"evt_d","event_type":"transaction.payment_failed",'
                '"Event_Type":"transaction.completed","occurred_at":"2024-05-01T10:20:28Z","data":'
                '{"id":"txn_1","currency_code":"USD","custom_data":{"order_id":"ORD-1"}}}')
    paddle_case("invalid_utf8", body=b'{"event_id":"evt_u","event_type":"transaction.completed",'
                b'"data":{"id":"txn_1","currency_code":"USD","custom_data":{"order_id":"ORD-\xff"}}}')
    paddle_case("missing_order", notification("transaction.completed", transaction(custom_data={"cart": "c-1"})))
    no_id = notification("transaction.completed", transaction())
    del no_id["event_id"]
    paddle_case("missing_event_id", no_id)
    paddle_case("amount_as_number", body=b.replace(b'"grand_total":"2750"', b'"grand_total":2750'))
    paddle_case("negative_amount", body=b.replace(b'"grand_total":"2750"', b'"grand_total":"-2750"'))
    paddle_case("form_content_type", body=b, content_type="application/x-www-form-urlencoded")
    paddle_case("query_shadows_event_type", body=b, target="/notify/paddle?event_type=transaction.completed")

    # The official vectors, with their own secrets, headers and clocks.
    # paddle-go-sdk webhook_verifier_test.go: testdata/vectors/paddle_payload.json.
    with open(os.path.join(HERE, "vectors", "paddle_payload.json"), "rb") as f:
        go_body = f.read()
    paddle_case("vector_go", body=go_body,
                header="ts=1710929255;h1=6c05ef8fa83c44d751be6d259ec955ce5638e2c54095bf128e408e2fce1589c8")
    # paddle-node-sdk webhooks-validator.node.test.ts (secret VALID_SECRET).
    paddle_case("vector_node", body='{"data": ["1", "2"]}',
                header="ts=1698796800;h1=a300428748dce5c70e4da19bffd60769591ea969c99dea3105d0ec9612cf43f9")
    paddle_case("vector_node_multi_h1", body='{"data": "value"}',
                header="ts=1698796800;h1=28981e941fae76e53db32f3d2a83cb69db41476595e84e1970a1b5d98f62b261;"
                       "h1=28981e941fae76e53db32f3d2a83cb69db41476595e84e1970a1b5d98f62b261;h2=RANDOM_HASH")
    # "Invalid data - has more space": the same header over a reformatted body.
    paddle_case("vector_node_more_space", body='{ "data": [ "1", "2" ]}',
                header="ts=1698796800;h1=a300428748dce5c70e4da19bffd60769591ea969c99dea3105d0ec9612cf43f9")
