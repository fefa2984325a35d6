"""PayPal classic IPN: a form POST without any signature, its values
percent-encoded in the charset its charset field names (windows-1252 by
default). It is confirmed by posting the body back, byte for byte, after
cmd=_notify-validate&; the test registers the bodies "PayPal sent" in the
stand-in API. Loaded by gen_golden.py.
"""
import urllib.parse

from gen_golden import raw_request, write_bytes

FORM = "application/x-www-form-urlencoded"
RECEIVER = "merchant@shop.example"
RECEIVER_ID = "MERCH4NT1D"

# The order PayPal posts an IPN's fields in (a body is posted back in its
# own order, never sorted).
BASE = [
    ("mc_gross", "25.90"), ("invoice", "ORD-20240501-0042"), ("protection_eligibility", "Eligible"),
    ("payer_id", "LPLWNMTBWMFAY"), ("payment_date", "03:20:28 May 01, 2024 PDT"),
    ("payment_status", "Completed"), ("charset", "windows-1252"), ("first_name", "Zoë"),
    ("mc_fee", "1.05"), ("notify_version", "3.9"), ("custom", "cart-77"), ("payer_status", "verified"),
    ("business", "shop-facilitator@shop.example"), ("quantity", "1"),
    ("verify_sign", "AbVs1xT1uRqQfpgd3u.nE0a5sSVZAOCbZ8WiL.I0tNxW9YPzZsF5.ZcM"),
    ("payer_email", "zoe.buyer@example.com"), ("txn_id", "61E67681CH3238416"), ("payment_type", "instant"),
    ("last_name", "Dupré"), ("receiver_email", RECEIVER), ("payment_fee", ""),
    ("receiver_id", RECEIVER_ID), ("txn_type", "web_accept"), ("item_name", "Café crème × 2"),
    ("mc_currency", "EUR"), ("item_number", "SKU 1"), ("residence_country", "FR"), ("test_ipn", "1"),
    ("transaction_subject", ""), ("payment_gross", ""), ("ipn_track_id", "6f1d2a3b4c5d6"),
]


def fields(change=None, drop=(), charset=None):
    out = []
    change = dict(change or {})
    for k, v in BASE:
        if k in drop:
            continue
        if k == "charset" and charset:
            v = charset
        out.append((k, change.pop(k, v)))
    out.extend(change.items())
    return out


def body_of(pairs, encoding, quote_via=urllib.parse.quote_plus):
    return urllib.parse.urlencode(pairs, encoding=encoding, quote_via=quote_via).encode("ascii")


def request(name, body, method="POST", target="/notify/paypal_ipn", content_type=FORM):
    h = {"Content-Type": content_type, "User-Agent": "PayPal IPN ( https://www.paypal.com/ipn )"}
    write_bytes("paypal_ipn", name, raw_request(method, target, h, body))


def ipn(name, change=None, drop=(), charset=None, encoding="cp1252", **kw):
    request(name, body_of(fields(change, drop, charset), encoding), **kw)


def cases():
    ipn("completed")
    ipn("completed_utf8", charset="UTF-8", encoding="utf-8")
    ipn("completed_latin1", charset="ISO-8859-1", encoding="latin-1",
        change={"item_name": "Café crème", "first_name": "Zoë"})
    # Spaces as %20 in some values and + in others: posted back as they came.
    pairs = fields()
    mixed = b"&".join(urllib.parse.quote(k).encode() + b"=" + (
        urllib.parse.quote(v, safe="", encoding="cp1252") if k in ("item_name", "item_number")
        else urllib.parse.quote_plus(v, encoding="cp1252")).encode() for k, v in pairs)
    request("spaces_mixed", mixed)
    ipn("pending", change={"payment_status": "Pending", "pending_reason": "echeck", "txn_id": "61E67681CH3238417"})
    ipn("failed", change={"payment_status": "Failed", "txn_id": "61E67681CH3238418"})
    ipn("denied", change={"payment_status": "Denied", "txn_id": "61E67681CH3238419"})
    ipn("refunded", change={"payment_status": "Refunded", "txn_id": "7X8Y9Z0A1B2C3D4E5", "mc_gross": "-25.90",
                            "mc_fee": "-0.75", "parent_txn_id": "61E67681CH3238416", "reason_code": "refund"})
    ipn("reversed", change={"payment_status": "Reversed", "txn_id": "8X8Y9Z0A1B2C3D4E5", "mc_gross": "-25.90",
                            "parent_txn_id": "61E67681CH3238416", "reason_code": "chargeback"})
    ipn("voided", change={"payment_status": "Voided", "txn_id": "61E67681CH3238420"})
    ipn("expired", change={"payment_status": "Expired", "txn_id": "61E67681CH3238421"})
    ipn("receiver_id_only", drop=("receiver_email",), change={"txn_id": "61E67681CH3238422"})
    ipn("subscr_signup", drop=("payment_status", "txn_id", "mc_gross", "payment_date", "payment_type", "invoice",
                               "custom", "mc_fee"),
        change={"txn_type": "subscr_signup", "subscr_id": "I-BW452GLLEP1G", "ipn_track_id": "a1b2c3d4e5f6"})
    ipn("custom_as_order", drop=("invoice",), change={"txn_id": "61E67681CH3238423"})
    ipn("pst", change={"payment_date": "23:59:59 Jan 09, 2024 PST", "txn_id": "61E67681CH3238424"})
    # Rejected.
    ipn("receiver_mismatch", change={"receiver_email": "attacker@evil.example", "receiver_id": "ATTACKER1"})
    ipn("no_receiver", drop=("receiver_email", "receiver_id"))
    ipn("no_txn_id", drop=("txn_id", "ipn_track_id"))
    ipn("no_order", drop=("invoice", "custom"))
    ipn("unknown_charset", charset="x-unheard-of")
    ipn("utf7", charset="UTF-7")
    ipn("invalid_utf8", charset="UTF-8", encoding="cp1252")  # é as %E9 under charset UTF-8
    request("field_twice", body_of(fields(), "cp1252") + b"&payment_status=Pending")
    ipn("negative_garbage", change={"mc_gross": "--25.90", "txn_id": "61E67681CH3238425"})
    ipn("forged", change={"txn_id": "FORGED0000000001"})  # never registered: PayPal did not send it
    ipn("tampered_amount", change={"mc_gross": "2590.00"})  # the genuine "completed", with another amount
    ipn("query_shadow", target="/notify/paypal_ipn?payment_status=Completed")
    ipn("get", method="GET")
    ipn("json_type", content_type="application/json")
