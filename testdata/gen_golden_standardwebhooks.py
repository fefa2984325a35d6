"""Golden requests of the standardwebhooks provider (Standard Webhooks, Svix).

Signed here, in Python, after the spec: base64 HMAC-SHA256 over
"<webhook-id>.<webhook-timestamp>.<body>", keyed with the base64 after
whsec_ decoded (or, in raw mode, the secret's own bytes).
"""
import base64
import hashlib
import hmac
import json

from gen_golden import raw_request, write_bytes

SW_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # the spec's test key
SW_OLD_SECRET = "whsec_" + base64.b64encode(b"paynotify-old-standard-webhooks!").decode()
POLAR_RAW_SECRET = "polar_whs_abc"
TS = 1714558831  # the golden clock, 2024-05-01T10:20:31Z


def sw_sign(key_bytes, msg_id, ts, body):
    content = f"{msg_id}.{ts}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key_bytes, content, hashlib.sha256).digest()).decode()


def sw_key(secret):
    return base64.b64decode(secret[len("whsec_"):] if secret.startswith("whsec_") else secret)


def polar_order(type_="order.paid", **data):
    d = {
        "id": "ord_01HXAMPLE0PAID",
        "status": "paid",
        "total_amount": 1050,
        "currency": "usd",
        "created_at": "2024-05-01T10:20:30Z",
        "metadata": {"order_id": "ORD-20240501-0001"},
        "customer": {"email": "tm.chan@example.com"},
    }
    d.update(data)
    d = {k: v for k, v in d.items() if v is not None}
    return {"type": type_, "timestamp": "2024-05-01T10:20:30.123456Z", "data": d}


def sw_case(name, event=None, body=None, secret=SW_SECRET, raw_key=False, msg_id="msg_2fQyKAsZ7XvP3c1NqWbE",
            ts=TS, sig=None, extra_sigs=(), names=("webhook-id", "webhook-timestamp", "webhook-signature"),
            headers=None, after_sign=None, content_type="application/json"):
    if body is None:
        body = json.dumps(event, separators=(",", ":"))
    body = body.encode() if isinstance(body, str) else body
    key = secret.encode() if raw_key else sw_key(secret)
    signature = sw_sign(key, msg_id, ts, body) if sig is None else sig
    signature = " ".join(list(extra_sigs) + ([signature] if signature else []))
    h = {"Content-Type": content_type} if content_type else {}
    for n, v in zip(names, (msg_id, str(ts), signature)):
        if v:
            h[n] = v
    h.update(headers or {})
    if after_sign:
        body = after_sign(body)
    write_bytes("standardwebhooks", name, raw_request("POST", "/notify/standardwebhooks", h, body))


def cases():
    # The official vector of the spec's libraries (Go TestWebhookSign), and
    # the raw-mode example derived for Polar in NOTES.md §2: the expected
    # signatures are the published ones, checked here against the signer.
    official = b'{"test": 2432232314}'
    expected = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    assert sw_sign(sw_key(SW_SECRET), "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, official) == expected
    write_bytes("standardwebhooks", "official_vector", raw_request("POST", "/notify/standardwebhooks", {
        "Content-Type": "application/json", "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
        "webhook-timestamp": "1614265330", "webhook-signature": expected}, official))
    polar = "v1,BcoVScd5ojhuz1KjqfPw28AwIU5PMHBqNTs0hju1JvI="
    assert sw_sign(b"polar_whs_abc", "msg_1", 1700000000, b"{}") == polar
    write_bytes("standardwebhooks", "polar_raw_vector", raw_request("POST", "/notify/standardwebhooks", {
        "Content-Type": "application/json", "webhook-id": "msg_1", "webhook-timestamp": "1700000000",
        "webhook-signature": polar}, b"{}"))

    # Accepted, with the test mapping (verifiers/standardwebhooks_test.go).
    sw_case("order_paid", polar_order())
    sw_case("order_refunded", polar_order("order.refunded", status="refunded"), msg_id="msg_refund1")
    sw_case("payment_failed", polar_order("payment.failed", status="failed"), msg_id="msg_failed1")
    sw_case("unmapped_type", polar_order("customer.updated", metadata=None, total_amount=None),
            msg_id="msg_customer1")
    sw_case("jpy", polar_order(total_amount=1500, currency="jpy"), msg_id="msg_jpy1")
    sw_case("old_secret", polar_order(), secret=SW_OLD_SECRET)
    # A roll: the sender signs with the old and the new secret, and lists an
    # ed25519 (v1a) signature that is ignored.
    sw_case("several_signatures", polar_order(), extra_sigs=(
        "v1a,hnO3f9T8Ytu9HwrXslvumlUpqtNVqkhqw/enGzPCXe5BdqzCInXqYXFymVJaA7AZdpXwVLPo3mNl8EM+m7TBAg==",
        "v1," + base64.b64encode(b"\x00" * 32).decode()))
    sw_case("svix_headers", polar_order(), names=("svix-id", "svix-timestamp", "svix-signature"))
    sw_case("pretty_body", body=json.dumps(polar_order(), indent=2))
    sw_case("raw_mode", polar_order(), secret=POLAR_RAW_SECRET, raw_key=True)
    sw_case("plain_text", body="order ORD-7 paid", content_type="text/plain", msg_id="msg_text1")
    sw_case("at_tolerance_old", polar_order(), ts=TS - 300)
    sw_case("at_tolerance_future", polar_order(), ts=TS + 300)

    # Rejected.
    sw_case("tampered", polar_order(), after_sign=lambda b: b.replace(b'"total_amount":1050', b'"total_amount":9050'))
    sw_case("wrong_secret", polar_order(), secret="whsec_" + base64.b64encode(b"not-the-secret-at-all-!!").decode())
    sw_case("unsigned", polar_order(), sig="")
    sw_case("no_id", polar_order(), msg_id="")
    sw_case("id_with_dot", polar_order(), msg_id="msg_1.2")
    sw_case("only_v1a", polar_order(), sig="v1a,hnO3f9T8Ytu9HwrXslvumlUpqtNVqkhqw/enGzPCXe5BdqzCInXqYXFymVJaA7AZdpXwVLPo3mNl8EM+m7TBAg==")
    sw_case("hex_signature", polar_order(), sig="v1," + hmac.new(sw_key(SW_SECRET), b"x", hashlib.sha256).hexdigest())
    sw_case("too_old", polar_order(), ts=TS - 301)
    sw_case("future", polar_order(), ts=TS + 301)
    sw_case("timestamp_not_digits", polar_order(), ts="1714558831.0")
    sw_case("raw_mode_where_base64", polar_order(), secret=SW_SECRET, raw_key=True)
    sw_case("duplicate_key", body='{"type":"order.refunded","type":"order.paid","data":{"id":"ord_1","status":"paid",'
            '"metadata":{"order_id":"ORD-1"}}}')
    sw_case("casefold_key", body='{"type":"order.refunded","Type":"order.paid","data":{"id":"ord_1","status":"paid",'
            '"metadata":{"order_id":"ORD-1"}}}')
    sw_case("invalid_utf8", body=b'{"type":"order.paid","data":{"id":"ord_1","status":"paid","metadata":{"order_id":"ORD-\xff"}}}')
    sw_case("missing_order", polar_order(metadata={}))
    sw_case("missing_type", body='{"data":{"id":"ord_1","status":"paid","metadata":{"order_id":"ORD-1"}}}')
    sw_case("form_content_type", polar_order(), content_type="application/x-www-form-urlencoded")
    # Both header sets, disagreeing on the id.
    sw_case("svix_and_webhook_ids_differ", polar_order(), headers={"svix-id": "msg_other"})
