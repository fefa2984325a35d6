"""Golden requests of the generic hmac provider, one set per configuration
of verifiers/hmac_test.go:

  lemonsqueezy_*  X-Signature: hex HMAC-SHA256 of the body (Lemon Squeezy)
  github_*        X-Hub-Signature-256: sha256=<hex> of the body, event id
                  from X-GitHub-Delivery
  timestamped_*   X-Webhook-Signature: base64 HMAC-SHA256 over
                  "{header.X-Timestamp}.{body}", X-Timestamp within 5m
  sha1_*          X-Signature-Sha1: hex HMAC-SHA1 of the body
  sha512_*        X-Paystack-Signature: hex HMAC-SHA512 of the body
  url_*           X-Square-HmacSha256-Signature: base64 HMAC-SHA256 over
                  "{url}{body}" (Square's scheme)
"""
import base64
import hashlib
import hmac
import json

from gen_golden import raw_request, write_bytes

TS = 1714558831  # the golden clock, 2024-05-01T10:20:31Z

LS_SECRET = "lemon-test-signing-secret"
LS_OLD_SECRET = "lemon-old-signing-secret"
GH_SECRET = "github-test-webhook-secret"
TS_SECRET = "timestamped-test-secret"
SHA1_SECRET = "sha1-test-secret"
SHA512_SECRET = "sk_test_paystack_secret_key"
URL_SECRET = "square-test-signature-key"


def mac(secret, data, digest=hashlib.sha256):
    return hmac.new(secret.encode(), data, digest).digest()


def write(name, headers, body, target="/notify/hmac"):
    body = body.encode() if isinstance(body, str) else body
    write_bytes("hmac", name, raw_request("POST", target, headers, body))


def compact(obj):
    return json.dumps(obj, separators=(",", ":")).encode()


def ls_order(status="paid", **attrs):
    a = {
        "store_id": 1, "identifier": "104e18a2-d755-4d4b-80c4-a6c1dcbe1c10", "order_number": 1,
        "user_email": "tm.chan@example.com", "currency": "USD", "subtotal": 999, "total": 1050,
        "status": status, "refunded": status == "refunded", "created_at": "2024-05-01T10:20:30.000000Z",
    }
    a.update(attrs)
    a = {k: v for k, v in a.items() if v is not None}
    return {"meta": {"event_name": "order_created", "custom_data": {"order_id": "ORD-20240501-0001"}},
            "data": {"type": "orders", "id": "1", "attributes": a}}


def ls_case(name, event=None, body=None, secret=LS_SECRET, sig=None, header="X-Signature", after_sign=None,
            content_type="application/json", extra=None):
    body = compact(event) if body is None else (body.encode() if isinstance(body, str) else body)
    h = {"Content-Type": content_type} if content_type else {}
    signature = mac(secret, body).hex() if sig is None else sig
    if signature:
        h[header] = signature
    h.update(extra or {})
    if after_sign:
        body = after_sign(body)
    write("lemonsqueezy_" + name, h, body)


def gh_case(name, body, secret=GH_SECRET, prefix="sha256=", sig=None, delivery="72d3162e-cc78-11e3-81ab-4c9367dc0958"):
    body = body.encode() if isinstance(body, str) else body
    h = {"Content-Type": "application/json", "X-GitHub-Event": "sponsorship"}
    if delivery:
        h["X-GitHub-Delivery"] = delivery
    h["X-Hub-Signature-256"] = prefix + mac(secret, body).hex() if sig is None else sig
    write("github_" + name, h, body)


def ts_case(name, event, secret=TS_SECRET, ts=TS, sent_ts=None, after_sign=None):
    body = compact(event)
    signature = base64.b64encode(mac(secret, f"{ts}.".encode() + body)).decode()
    if after_sign:
        body = after_sign(body)
    write("timestamped_" + name, {"Content-Type": "application/json", "X-Timestamp": str(ts if sent_ts is None else sent_ts),
                                  "X-Webhook-Signature": signature}, body)


def sha1_case(name, body, secret=SHA1_SECRET, content_type="application/x-www-form-urlencoded", target="/notify/hmac"):
    body = body.encode()
    write("sha1_" + name, {"Content-Type": content_type, "X-Signature-Sha1": mac(secret, body, hashlib.sha1).hex()},
          body, target)


def sha512_case(name, event, secret=SHA512_SECRET):
    body = compact(event)
    write("sha512_" + name, {"Content-Type": "application/json",
                             "X-Paystack-Signature": mac(secret, body, hashlib.sha512).hex()}, body)


def url_case(name, event, url="https://merchant.example/notify/hmac", target="/notify/hmac", secret=URL_SECRET):
    body = compact(event)
    write("url_" + name, {"Content-Type": "application/json",
                          "X-Square-HmacSha256-Signature": base64.b64encode(mac(secret, url.encode() + body)).decode()},
          body, target)


def cases():
    # Lemon Squeezy: the derived vector of NOTES.md §2 (secret lssecret),
    # with its expected signature as published there.
    vector_body = b'{"meta":{"event_name":"order_created"}}'
    vector_sig = "ae2992eb2136e4693d2d109f8a5dcab24015c0c9cd2994c205c4455b3c80eca5"
    assert hmac.new(b"lssecret", vector_body, hashlib.sha256).hexdigest() == vector_sig
    write("lemonsqueezy_vector", {"Content-Type": "application/json", "X-Signature": vector_sig}, vector_body)
    ls_case("order_paid", ls_order())
    ls_case("order_refunded", ls_order("refunded"))
    ls_case("order_pending", ls_order("pending"))
    ls_case("old_secret", ls_order(), secret=LS_OLD_SECRET)
    ls_case("uppercase_hex", ls_order(), sig=mac(LS_SECRET, compact(ls_order())).hex().upper())
    ls_case("vnd_json", ls_order(), content_type="application/vnd.api+json")
    ls_case("tampered", ls_order(), after_sign=lambda b: b.replace(b'"total":1050', b'"total":1'))
    ls_case("wrong_secret", ls_order(), secret="not-the-secret")
    ls_case("unsigned", ls_order(), sig="")
    ls_case("base64_signature", ls_order(), sig=base64.b64encode(mac(LS_SECRET, compact(ls_order()))).decode())
    ls_case("truncated_signature", ls_order(), sig=mac(LS_SECRET, compact(ls_order())).hex()[:40])
    ls_case("duplicate_key", body='{"meta":{"custom_data":{"order_id":"ORD-1"}},"data":{"attributes":'
            '{"status":"failed","status":"paid","total":1,"currency":"USD"}}}')
    ls_case("casefold_key", body='{"meta":{"custom_data":{"order_id":"ORD-1"}},"data":{"attributes":'
            '{"status":"failed","Status":"paid","total":1,"currency":"USD"}}}')
    ls_case("invalid_utf8", body=b'{"meta":{"custom_data":{"order_id":"ORD-\xff"}},"data":{"attributes":{"status":"paid"}}}')
    ls_case("missing_status", ls_order(status=None))
    ls_case("missing_order", body=compact({"data": ls_order()["data"], "meta": {"event_name": "order_created"}}))
    ls_case("text_content_type", ls_order(), content_type="text/plain")
    ls_case("fractional_minor", body=compact(ls_order()).replace(b'"total":1050', b'"total":10.5'))

    # GitHub-style: the body of a sponsorship event, no mapping but the id.
    gh_body = '{"action":"created","sponsorship":{"node_id":"MDExOlNwb25zb3JzaGlwMQ==","tier":{"monthly_price_in_cents":500}}}'
    gh_case("sponsorship", gh_body)
    gh_case("no_prefix", gh_body, prefix="")
    gh_case("sha1_prefix", gh_body, prefix="sha1=")
    gh_case("uppercase_prefix", gh_body, prefix="SHA256=")
    gh_case("no_delivery", gh_body, delivery="")

    # Base64 over "{X-Timestamp}.{body}" with a 5m window.
    pay = {"id": "evt_0001", "type": "payment.succeeded", "created": 1714558830,
           "payment": {"reference": "ORD-20240501-0001", "amount": "12.50", "currency": "hkd", "id": "pay_1"}}
    ts_case("succeeded", pay)
    ts_case("failed", dict(pay, id="evt_0002", type="payment.failed"))
    ts_case("at_tolerance", pay, ts=TS - 300)
    ts_case("too_old", pay, ts=TS - 301)
    ts_case("future", pay, ts=TS + 301)
    ts_case("timestamp_swapped", pay, sent_ts=TS - 1)  # signed with one time, sent with another
    ts_case("tampered", pay, after_sign=lambda b: b.replace(b'"12.50"', b'"1250.00"'))

    # HMAC-SHA1 of a form body, no mapping: forwarded as it came.
    sha1_case("form", "order=ORD-7&status=paid&amount=12.50")
    sha1_case("form_query_shadow", "order=ORD-7&status=paid&amount=12.50", target="/notify/hmac?status=paid")

    # HMAC-SHA512, Paystack's shape.
    charge = {"event": "charge.success", "data": {"id": 302961, "status": "success", "reference": "ORD-20240501-0001",
                                                   "amount": 1050000, "currency": "NGN", "paid_at": "2024-05-01T10:20:30.000Z"}}
    sha512_case("charge_success", charge)
    sha512_case("charge_failed", {"event": "charge.failed", "data": dict(charge["data"], status="failed")})

    # Square's scheme through {url}{body}: the URL as received, query included.
    square = {"merchant_id": "6SSW7HV8K2ST5", "type": "payment.updated", "event_id": "13b867cf-db3d-4b1c-90b6-2f32a9d78124",
              "data": {"type": "payment", "id": "KkAkhdMsgzn59SM8A89WgKwekxLZY",
                       "object": {"payment": {"id": "KkAkhdMsgzn59SM8A89WgKwekxLZY", "status": "COMPLETED",
                                              "reference_id": "ORD-20240501-0001",
                                              "amount_money": {"amount": 1050, "currency": "USD"}}}}}
    url_case("payment_completed", square)
    url_case("query", square, url="https://merchant.example/notify/hmac?shop=1", target="/notify/hmac?shop=1")
    url_case("other_path", square, url="https://merchant.example/notify/hmac", target="/notify/other")
