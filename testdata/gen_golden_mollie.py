"""Mollie classic webhooks: a form POST whose body is only id=tr_...; with a
webhook signing secret, X-Mollie-Signature = [sha256=]hex HMAC-SHA256 of
the raw body, keyed with the secret's bytes (mollie/mollie-api-php
src/Webhooks/SignatureValidator.php). The events come from the payments the
test registers in the stand-in API. Loaded by gen_golden.py.
"""
import hashlib
import hmac

from gen_golden import raw_request, write_bytes

SECRET = "mollie-test-webhook-secret"
OLD_SECRET = "mollie-old-webhook-secret"
FORM = "application/x-www-form-urlencoded"

# One payment per status, named by the case (testdata/mollie/<case>.http).
PAYMENTS = {
    "paid": "tr_WDqYK6vllg",
    "authorized": "tr_Au7hor1zed",
    "open": "tr_0penPaym3nt",
    "pending": "tr_Pend1ng",
    "failed": "tr_Fa1led",
    "canceled": "tr_Cancel3d",
    "expired": "tr_Exp1red",
    "refunded": "tr_Refund3d",
    "charged_back": "tr_Chargedback",
    "unmapped_status": "tr_Unmapped",
}


def sig(body, secret=SECRET):
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def request(name, body, headers=None, method="POST", target="/notify/mollie", signed=True, secret=SECRET,
            prefix="sha256=", content_type=FORM):
    if isinstance(body, str):
        body = body.encode()
    h = {"Content-Type": content_type, "User-Agent": "Mollie HTTP client/1.0"}
    if signed:
        h["X-Mollie-Signature"] = prefix + sig(body, secret)
    h.update(headers or {})
    write_bytes("mollie", name, raw_request(method, target, h, body))


def cases():
    for name, tid in PAYMENTS.items():
        request(name, "id=" + tid)
    paid = "id=" + PAYMENTS["paid"]
    # Accepted variants of the paid notification.
    request("no_prefix", paid, prefix="")
    request("old_secret", paid, secret=OLD_SECRET)
    with_upper = sig(paid.encode()).upper()
    request("uppercase_hex", paid, signed=False, headers={"X-Mollie-Signature": "sha256=" + with_upper})
    request("extra_fields", paid + "&status=failed&amount=0.01")  # ignored: only id is read
    request("unsigned", paid, signed=False)  # accepted without secret, refused with
    # Rejected.
    request("wrong_secret", paid, secret="guess")
    request("tampered", "id=" + PAYMENTS["failed"], signed=False,
            headers={"X-Mollie-Signature": "sha256=" + sig(paid.encode())})
    request("not_hex", paid, signed=False, headers={"X-Mollie-Signature": "sha256=" + "zz" * 32})
    request("empty_signature", paid, signed=False, headers={"X-Mollie-Signature": ""})
    request("id_missing", "status=paid")
    request("id_empty", "id=")
    request("id_traversal", "id=tr_..%2F..%2Fv2%2Frefunds")
    request("id_query", "id=tr_x%3Fy")
    request("id_order", "id=ord_kEn1PlbGa")
    request("id_too_long", "id=tr_" + "a" * 65)
    request("id_twice", paid + "&id=" + PAYMENTS["failed"])
    request("query_shadow", paid, target="/notify/mollie?id=" + PAYMENTS["failed"])
    request("json", '{"id":"%s"}' % PAYMENTS["paid"], content_type="application/json")
    request("get", "", method="GET", signed=False, target="/notify/mollie?id=" + PAYMENTS["paid"])
    request("invalid_utf8", "id=" + PAYMENTS["paid"] + "&x=%FF")
