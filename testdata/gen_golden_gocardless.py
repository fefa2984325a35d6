"""GoCardless webhooks: {"events":[...],"meta":{...}}, Webhook-Signature = hex
HMAC-SHA256 of the raw body keyed with the endpoint secret's bytes
(gocardless/gocardless-pro-go webhooks.go). Loaded by gen_golden.py.
"""
import copy
import hashlib
import hmac
import json
import os

from gen_golden import raw_request, write_bytes

GC_SECRET = "gocardless-test-secret"
GC_OLD_SECRET = "gocardless-old-secret"
HERE = os.path.dirname(os.path.abspath(__file__))

BASE_EVENT = {
    "id": "EV0123ABCD4567",
    "created_at": "2024-05-01T10:20:30.123Z",
    "resource_type": "payments",
    "action": "confirmed",
    "links": {"payment": "PM00ABCDEF1234"},
    "details": {"origin": "gocardless", "cause": "payment_confirmed", "scheme": "bacs",
                "description": "Enough time has passed since the payment was submitted for the banks to return an error, so this payment is now confirmed."},
    "metadata": {},
    "resource_metadata": {"order_id": "ORD-20240501-0001"},
}

ACTIONS = {  # action → (cause, description)
    "created": ("payment_created", "Payment created by an API call."),
    "submitted": ("payment_submitted", "Payment submitted to the banks. As a result, it can no longer be cancelled."),
    "pending_submission": ("payment_created", "Payment created and waiting to be submitted to the banks."),
    "paid_out": ("payment_paid_out", "The payment has been paid out by GoCardless."),
    "failed": ("insufficient_funds", "The customer's account had insufficient funds to make this payment."),
    "cancelled": ("mandate_cancelled", "The mandate for this payment was cancelled."),
    "charged_back": ("payment_charged_back", "The customer asked their bank to refund the payment under the Direct Debit Guarantee."),
}


def event(n=0, drop=(), **change):
    e = copy.deepcopy(BASE_EVENT)
    if n:
        e["id"] = "EV0123ABCD45%02d" % n
    e.update(change)
    for d in drop:
        e.pop(d, None)
    return e


def action_event(action, n):
    cause, description = ACTIONS[action]
    return event(n, action=action, details=dict(BASE_EVENT["details"], cause=cause, description=description))


def body_of(events, meta=None):
    return json.dumps({"events": events, "meta": meta or {"webhook_id": "WB0011AABB2233"}}, separators=(",", ":"))


def case(name, events=None, body=None, secret=GC_SECRET, sig=None, after_sign=None,
         content_type="application/json", method="POST", headers=None):
    if body is None:
        body = body_of(events)
    body = body.encode() if isinstance(body, str) else body
    h = {"Content-Type": content_type, "User-Agent": "gocardless-webhook-service/1.1"}
    signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest() if sig is None else sig
    if signature:
        h["Webhook-Signature"] = signature
    h.update(headers or {})
    if after_sign:
        body = after_sign(body)
    write_bytes("gocardless", name, raw_request(method, "/notify/gocardless", h, body))


def cases():
    # GoCardless' own test webhook (gocardless-pro-go testdata/webhook_request.json,
    # 383 bytes with its trailing newline), copied byte for byte into
    # testdata/vectors, with the signature its test expects, not computed here.
    with open(os.path.join(HERE, "vectors", "gocardless_webhook_request.json"), "rb") as f:
        vector = f.read()
    assert len(vector) == 383 and vector.endswith(b"\n")
    official = "243f3efa57743c24eec7c5e10edc475b547830d256d5b583745afe319dd90936"
    assert hmac.new(b"testing", vector, hashlib.sha256).hexdigest() == official
    case("official_vector", body=vector, sig=official)

    # Accepted.
    case("payment_confirmed", [event()])
    for i, action in enumerate(ACTIONS, start=1):
        case("payment_" + action, [action_event(action, i)])
    case("metadata_order", [event(resource_metadata={}, metadata={"order_id": "ORD-META-7"})])
    case("no_order", [event(drop=["resource_metadata"])])
    case("mandate_cancelled", [event(20, resource_type="mandates", action="cancelled",
                                     links={"mandate": "MD00ABCDEF1234"}, resource_metadata={},
                                     details={"origin": "customer", "cause": "bank_account_closed",
                                              "scheme": "bacs", "description": "The customer's bank account was closed."})])
    case("old_secret", [event()], secret=GC_OLD_SECRET)
    case("uppercase_hex", [event()], sig=hmac.new(GC_SECRET.encode(), body_of([event()]).encode(),
                                                  hashlib.sha256).hexdigest().upper())
    case("charset", [event()], content_type="application/json; charset=utf-8")
    batch = [action_event("created", 31), action_event("submitted", 32), event(33),
             event(34, resource_type="mandates", action="active", links={"mandate": "MD00ABCDEF1234"},
                   resource_metadata={}, details={"origin": "gocardless", "cause": "mandate_activated",
                                                  "description": "The time window after submission for the banks to refuse a mandate has ended without any errors being received, so this mandate is now active."})]
    case("batch", batch)
    case("same_event_twice", [event(), event()])

    # Rejected: signature (498 through the handler).
    case("tampered", [event()], after_sign=lambda b: b.replace(b'"confirmed"', b'"failed"'))
    case("tampered_second_event", [event(1), event(2)],
         after_sign=lambda b: b.replace(b'"EV0123ABCD4502"', b'"EV0123ABCD4599"'))
    case("wrong_secret", [event()], secret="not-the-secret")
    case("unsigned", [event()], sig="")
    case("bad_hex", [event()], sig="zz" * 32)
    case("base64_signature", [event()], sig="JD8++ld0PCTuxcUQ7cdHW1R8MNJW1bWDdFr+MZ3ZCTY=")
    case("trailing_newline_dropped", body=vector[:-1], sig=official)

    # Rejected: content (signed).
    case("empty_events", body='{"events":[],"meta":{"webhook_id":"WB0011AABB2233"}}')
    case("no_events", body='{"meta":{"webhook_id":"WB0011AABB2233"}}')
    case("event_not_object", body='{"events":[1],"meta":{"webhook_id":"WB0011AABB2233"}}')
    case("missing_id", [event(drop=["id"])])
    case("missing_action", [event(drop=["action"])])
    case("payment_without_link", [event(links={})])
    one = json.dumps(event(), separators=(",", ":"))
    case("duplicate_key", body='{"events":[' + one.replace('"action":"confirmed"', '"action":"failed","action":"confirmed"') + ']}')
    case("case_folded_key", body='{"events":[' + one.replace('"action":"confirmed"', '"Action":"failed","action":"confirmed"') + ']}')
    case("invalid_utf8", body=('{"events":[' + one.replace('"order_id":"ORD-20240501-0001"', '"order_id":"ORD-\udcff"') + ']}')
         .encode("utf-8", "surrogateescape"))
    case("order_id_object", [event(resource_metadata={"order_id": {"ref": "ORD-1"}})])
    case("form_content_type", [event()], content_type="application/x-www-form-urlencoded")
    case("get_method", [event()], method="GET")
