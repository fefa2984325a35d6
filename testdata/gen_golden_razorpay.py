"""Razorpay golden requests: X-Razorpay-Signature = hex HMAC-SHA256 of the raw
body, keyed with the webhook secret; the event id is the X-Razorpay-Event-Id
header (not signed). Loaded by gen_golden.py."""
import copy
import hashlib
import hmac
import json
import os

from gen_golden import raw_request, write_bytes

HERE = os.path.dirname(os.path.abspath(__file__))

SECRET = "razorpay-test-secret"
OLD_SECRET = "razorpay-old-secret"
# The official vector (razorpay/razorpay-go resources/verify_payment_test.go):
# its body is testdata/vectors/razorpay_payload.json, byte for byte, and its
# signature is the SDK test's constant, not computed here.
VECTOR_SECRET = "123456"
VECTOR_SIGNATURE = "ea962f3a2a8090aa14ef10fc178306edcb46ee7ccadae8afe2275cda26f3d2a6"

CREATED = 1714558800  # 31 s before the golden clock

PAYMENT = {
    "id": "pay_NxR3xY2bH7kQ1p", "entity": "payment", "amount": 50000, "currency": "INR",
    "status": "captured", "order_id": "order_NxR3u4n8XWf2Qz", "invoice_id": None,
    "international": False, "method": "upi", "amount_refunded": 0, "refund_status": None,
    "captured": True, "description": "Order ORD-20240501-0007", "card_id": None, "bank": None,
    "wallet": None, "vpa": "asha@okhdfc", "email": "asha.rao@example.in", "contact": "+919876543210",
    "notes": {"order_id": "ORD-20240501-0007"}, "fee": 1180, "tax": 180, "error_code": None,
    "error_description": None, "error_source": None, "error_step": None, "error_reason": None,
    "acquirer_data": {"rrn": "412211830563"}, "created_at": CREATED - 20,
}


def event(name, payment=None, **entities):
    """A webhook of event name; payment changes the payment entity (None
    leaves it out when given as False)."""
    p = copy.deepcopy(PAYMENT)
    p.update(payment or {})
    payload = {}
    if payment is not False:
        payload["payment"] = {"entity": p}
    for k, v in entities.items():
        payload[k] = {"entity": v}
    return {"entity": "event", "account_id": "acc_NxQ9bLk2Jd8vYt", "event": name,
            "contains": list(payload), "payload": payload, "created_at": CREATED}


def compact(obj):
    return json.dumps(obj, separators=(",", ":")).encode()


def case(name, ev=None, body=None, secret=SECRET, sig=None, event_id="NxR3yGq1TzUw8e",
         headers=None, after_sign=None, content_type="application/json", target="/notify/razorpay",
         method="POST"):
    if body is None:
        body = compact(ev)
    elif isinstance(body, str):
        body = body.encode()
    if sig is None:
        sig = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    h = {"Content-Type": content_type}
    if sig:
        h["X-Razorpay-Signature"] = sig
    if event_id:
        h["X-Razorpay-Event-Id"] = event_id
    h.update(headers or {})
    if after_sign:
        body = after_sign(body)
    write_bytes("razorpay", name, raw_request(method, target, h, body))


def cases():
    with open(os.path.join(HERE, "vectors", "razorpay_payload.json"), "rb") as f:
        vector = f.read()
    # The SDK test signs no event id header; Razorpay sends one, made up here.
    case("official_vector", body=vector, sig=VECTOR_SIGNATURE, event_id="JUEM4dBJbEz6TP")

    # Accepted.
    case("payment_captured", event("payment.captured"))
    case("payment_authorized", event("payment.authorized", {"status": "authorized", "captured": False}))
    case("payment_failed", event("payment.failed", {
        "status": "failed", "captured": False, "method": "card", "error_code": "BAD_REQUEST_ERROR",
        "error_description": "Payment failed because the card was declined", "error_source": "issuer",
        "error_step": "payment_authorization", "error_reason": "card_declined"}))
    case("order_paid", event("order.paid", order={
        "id": "order_NxR3u4n8XWf2Qz", "entity": "order", "amount": 50000, "amount_paid": 50000,
        "amount_due": 0, "currency": "INR", "receipt": "rcpt_0007", "offer_id": None, "status": "paid",
        "attempts": 1, "notes": {"order_id": "ORD-20240501-0007"}, "created_at": CREATED - 60}))
    case("refund_processed", event("refund.processed", {"amount_refunded": 20000, "refund_status": "partial"}, refund={
        "id": "rfnd_NxS0kP4mQ8rTzA", "entity": "refund", "amount": 20000, "currency": "INR",
        "payment_id": "pay_NxR3xY2bH7kQ1p", "notes": {}, "receipt": None, "status": "processed",
        "speed_processed": "normal", "speed_requested": "normal", "created_at": CREATED - 5}))
    case("dispute_created", event("payment.dispute.created", dispute={
        "id": "disp_NxT1cD9eF2gH3j", "entity": "dispute", "payment_id": "pay_NxR3xY2bH7kQ1p",
        "amount": 50000, "currency": "INR", "amount_deducted": 0, "reason_code": "chargeback",
        "respond_by": CREATED + 7 * 86400, "status": "open", "phase": "chargeback", "created_at": CREATED - 3}))
    # An event paynotify does not map, without any order: forwarded as unknown.
    case("unmapped_event", event("payment.downtime.started", payment=False, **{"payment.downtime": {
        "id": "down_NxU2", "entity": "payment.downtime", "method": "upi", "status": "started",
        "severity": "high", "created_at": CREATED}}))
    # notes an empty array (as PHP serializes an empty map): Razorpay's order id.
    case("notes_empty_array", event("payment.captured", {"notes": []}))
    case("usd_lowercase", event("payment.captured", {"amount": 1999, "currency": "usd"}))
    case("old_secret", event("payment.captured"), secret=OLD_SECRET)
    case("pretty_body", body=json.dumps(event("payment.captured"), indent=2))
    case("uppercase_hex", event("payment.captured"),
         sig=hmac.new(SECRET.encode(), compact(event("payment.captured")), hashlib.sha256).hexdigest().upper())
    case("lowercase_header_names", event("payment.captured"), sig="", event_id="", headers={
        "x-razorpay-signature": hmac.new(SECRET.encode(), compact(event("payment.captured")), hashlib.sha256).hexdigest(),
        "x-razorpay-event-id": "NxR3yGq1TzUw8e"})
    # The order reference under another note, for the order_id option.
    case("custom_order_path", event("payment.captured", {"notes": {"shop_ref": "SHOP-42"}}))

    # Rejected.
    captured = event("payment.captured")
    case("tampered", captured, after_sign=lambda b: b.replace(b'"amount":50000', b'"amount":90000', 1))
    case("wrong_secret", captured, secret="not-the-secret")
    case("unsigned", captured, sig="")
    case("empty_signature", captured, sig="", headers={"X-Razorpay-Signature": ""})
    case("bad_hex", captured, sig="zz" * 32)
    case("base64_signature", captured, sig="q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq80=")
    case("prefixed_signature", captured,
         sig="sha256=" + hmac.new(SECRET.encode(), compact(captured), hashlib.sha256).hexdigest())
    case("sha512_signature", captured, sig=hmac.new(SECRET.encode(), compact(captured), hashlib.sha512).hexdigest())
    case("no_event_id", captured, event_id="")
    case("long_event_id", captured, event_id="e" * 129)
    case("event_id_with_space", captured, event_id="evt 1")
    case("duplicate_key", body=b'{"entity":"event","event":"payment.failed","event":"payment.captured",'
         b'"payload":{"payment":{"entity":{"id":"pay_1","amount":100,"currency":"INR","order_id":"order_1"}}},"created_at":1714558800}')
    case("casefold_key", body=b'{"entity":"event","event":"payment.failed","Event":"payment.captured",'
         b'"payload":{"payment":{"entity":{"id":"pay_1","amount":100,"currency":"INR","order_id":"order_1"}}},"created_at":1714558800}')
    case("invalid_utf8", body=b'{"entity":"event","event":"payment.captured",'
         b'"payload":{"payment":{"entity":{"id":"pay_1","amount":100,"currency":"INR","order_id":"order_\xff"}}},"created_at":1714558800}')
    ev = event("payment.captured")
    del ev["event"]
    case("missing_event", ev)
    case("no_order_id", event("payment.captured", {"notes": [], "order_id": None}))
    case("fractional_amount", body=compact(captured).replace(b'"amount":50000', b'"amount":500.5', 1))
    case("form_content_type", captured, content_type="application/x-www-form-urlencoded")
    case("query_shadows_field", captured, target="/notify/razorpay?event=payment.failed")
    case("get_method", captured, method="GET")
