"""Paystack golden requests: X-Paystack-Signature = hex HMAC-SHA512 of the raw
body, keyed with the secret API key. Loaded by gen_golden.py."""
import copy
import hashlib
import hmac
import json

from gen_golden import raw_request, write_bytes

SECRET = "sk_test_paynotify0000000000000000000000"
OLD_SECRET = "sk_test_paynotifyold000000000000000000"
# The derived vector of NOTES.md §13.9 (Paystack publishes no official one):
# body and signature as written there, not computed here.
VECTOR_SECRET = "sk_test_xxxxxxxxxxxxxxxx"
VECTOR_BODY = (b'{"event":"charge.success","data":{"id":302961,"reference":"qTPrJoy9Bx","amount":10000,'
               b'"currency":"NGN","status":"success"}}')
VECTOR_SIGNATURE = ("c3891d4bc179928e2b670c673ca4dedbafcb278f94c9adbe66f25791a60fecf4"
                    "a011c93281eeb40bc4d7e2353e2d229cd56c9d9b27fb3417fce3237bc3c49373")

CHARGE = {
    "id": 3817293847, "domain": "live", "status": "success", "reference": "ORD-20240501-0099",
    "receipt_number": None, "amount": 2500000, "message": None, "gateway_response": "Successful",
    "paid_at": "2024-05-01T10:20:28.000Z", "created_at": "2024-05-01T10:19:55.000Z",
    "channel": "card", "currency": "NGN", "ip_address": "102.89.34.12",
    "metadata": {"order_id": "SHOP-77", "referrer": "https://shop.example/checkout"},
    "fees": 47500, "fees_split": None,
    "authorization": {"authorization_code": "AUTH_8dfhjjdt", "bin": "408408", "last4": "4081",
                      "exp_month": "12", "exp_year": "2030", "channel": "card", "card_type": "visa ",
                      "bank": "TEST BANK", "country_code": "NG", "brand": "visa", "reusable": True,
                      "signature": "SIG_uSYN4fv1adlAuoij8QXh", "account_name": None},
    "customer": {"id": 84312, "first_name": "Ada", "last_name": "Obi", "email": "ada.obi@example.ng",
                 "customer_code": "CUS_xnxdt6s1zg1f4nx", "phone": "+2348012345678", "metadata": None,
                 "risk_action": "default", "international_format_phone": None},
    "plan": {}, "subaccount": {}, "split": {}, "order_id": None,
    "paidAt": "2024-05-01T10:20:28.000Z", "requested_amount": 2500000,
}


def charge(event, **change):
    d = copy.deepcopy(CHARGE)
    d.update(change)
    return {"event": event, "data": {k: v for k, v in d.items() if v is not ...}}


REFUND = {
    "status": "processed", "transaction_reference": "ORD-20240501-0099", "refund_reference": "3qmo4ds1nfabx2",
    "amount": 500000, "currency": "NGN", "processor": "mpgs_zen",
    "customer": {"first_name": "Ada", "last_name": "Obi", "email": "ada.obi@example.ng"},
    "integration": 463433, "domain": "live", "id": "1227953",
}

DISPUTE = {
    "id": 358950, "refund_amount": 2500000, "currency": "NGN", "status": "awaiting-merchant-feedback",
    "resolution": None, "domain": "live",
    "transaction": {"id": 3817293847, "domain": "live", "status": "success", "reference": "ORD-20240501-0099",
                    "amount": 2500000, "currency": "NGN", "channel": "card"},
    "transaction_reference": None, "category": "chargeback",
    "customer": {"first_name": "Ada", "last_name": "Obi", "email": "ada.obi@example.ng", "phone": None},
    "created_at": "2024-05-01T10:20:00.000Z", "due_at": "2024-05-02T10:20:00.000Z",
}


def compact(obj):
    return json.dumps(obj, separators=(",", ":")).encode()


def sign(secret, body):
    return hmac.new(secret.encode(), body, hashlib.sha512).hexdigest()


def case(name, ev=None, body=None, secret=SECRET, sig=None, headers=None, after_sign=None,
         content_type="application/json", target="/notify/paystack", method="POST"):
    if body is None:
        body = compact(ev)
    elif isinstance(body, str):
        body = body.encode()
    if sig is None:
        sig = sign(secret, body)
    h = {"Content-Type": content_type}
    if sig:
        h["X-Paystack-Signature"] = sig
    h.update(headers or {})
    if after_sign:
        body = after_sign(body)
    write_bytes("paystack", name, raw_request(method, target, h, body))


def cases():
    case("derived_vector", body=VECTOR_BODY, sig=VECTOR_SIGNATURE)

    # Accepted.
    case("charge_success", charge("charge.success"))
    case("charge_failed", charge("charge.failed", status="failed", gateway_response="Declined",
                                 paid_at=None, paidAt=None))
    case("refund_processed", {"event": "refund.processed", "data": REFUND})
    case("dispute_create", {"event": "charge.dispute.create", "data": DISPUTE})
    # An event paynotify does not map, without a reference: forwarded as unknown.
    case("unmapped_event", {"event": "subscription.create", "data": {
        "id": 72261, "domain": "live", "status": "active", "subscription_code": "SUB_vsyqdmlzble3uii",
        "amount": 50000, "createdAt": "2024-05-01T10:20:00.000Z",
        "customer": {"first_name": "Ada", "last_name": "Obi", "email": "ada.obi@example.ng"}}})
    case("ghs", charge("charge.success", amount=12050, currency="GHS"))
    case("id_as_string", charge("charge.success", id="3817293847"))
    case("old_secret", charge("charge.success"), secret=OLD_SECRET)
    case("pretty_body", body=json.dumps(charge("charge.success"), indent=2))
    case("uppercase_hex", charge("charge.success"), sig=sign(SECRET, compact(charge("charge.success"))).upper())

    # Rejected.
    ok = charge("charge.success")
    case("tampered", ok, after_sign=lambda b: b.replace(b'"amount":2500000', b'"amount":9500000', 1))
    case("wrong_secret", ok, secret="sk_test_not_the_key")
    case("unsigned", ok, sig="")
    case("empty_signature", ok, sig="", headers={"X-Paystack-Signature": ""})
    case("bad_hex", ok, sig="zz" * 64)
    case("sha256_signature", ok, sig=hmac.new(SECRET.encode(), compact(ok), hashlib.sha256).hexdigest())
    case("base64_signature", ok, sig="q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEg==")
    case("duplicate_key", body=b'{"event":"charge.failed","event":"charge.success","data":{"id":1,"reference":"o","amount":1,"currency":"NGN","status":"success"}}')
    case("casefold_key", body=b'{"event":"charge.failed","EVENT":"charge.success","data":{"id":1,"reference":"o","amount":1,"currency":"NGN","status":"success"}}')
    case("invalid_utf8", body=b'{"event":"charge.success","data":{"id":1,"reference":"o\xff","amount":1,"currency":"NGN","status":"success"}}')
    case("missing_event", {"data": ok["data"]})
    case("missing_data_id", charge("charge.success", id=None))
    case("no_reference", charge("charge.success", reference=None))
    case("fractional_amount", body=compact(ok).replace(b'"amount":2500000', b'"amount":25000.5', 1))
    case("form_content_type", ok, content_type="application/x-www-form-urlencoded")
    case("query_shadows_field", ok, target="/notify/paystack?event=charge.success")
