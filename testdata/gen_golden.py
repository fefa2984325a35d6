#!/usr/bin/env python3
"""Writes the signed golden requests in testdata/<provider>/<case>.http.

The signatures are computed here, in Python, independently of the Go code
under test, so that a misreading of a provider's scheme shared by a Go signer
and the Go verifier cannot hide. Run it from the repository root after
changing a case; `go test ./verifiers -update` then rewrites the expected
events, which are reviewed by hand before they are committed.
"""
import hashlib
import hmac
import os
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))

OCTO3_SECRET = "octo3-test-secret"
OCTO3_OLD_SECRET = "octo3-old-secret"

OCTO3_BASE = {
    "version": "2.0",
    "action": "PAY",
    "merch_order_id": "ORD-20240501-0001",
    "merch_id": "M100200",
    "term_id": "T01",
    "pay_type": "VISA",
    "currency": "HKD",
    "card_num": "4111111111111111",
    "merch_txn_id": "MTX-0001",
    "locale": "en_US",
    "bill_to_first_name": "Chan",
    "bill_to_last_name": "Tai Man",
    "bill_to_email_address": "tm.chan@example.com",
    "customer_ip_address": "198.51.100.7",
    "txn_time": "2024-05-01 10:20:30",
    "txn_status": "ACCEPTED",
    "txn_response_code": "00",
    "dr_count": "1",
    "txn_message": "Approved",
    "txn_no": "TXN9876543210",
    "authorized_amount": "12.50",
    "captured_amount": "12.50",
    "original_amount": "12.50",
    "merch_data": "",
}


def octo3_sign(fields, secret, digest=hashlib.sha1):
    names = sorted((n for n, v in fields.items() if v != "" and n != "secure_hash"),
                   key=lambda n: (n.lower(), n))
    message = "".join(fields[n] for n in names).encode()
    return hmac.new(secret.encode(), message, digest).hexdigest()


def form_request(path, pairs, content_type="application/x-www-form-urlencoded", method="POST"):
    body = urllib.parse.urlencode(pairs)
    head = [f"{method} {path} HTTP/1.1", "Host: merchant.example", f"Content-Type: {content_type}",
            f"Content-Length: {len(body)}", "", ""]
    return "\r\n".join(head) + body


def write(provider, name, text):
    os.makedirs(os.path.join(HERE, provider), exist_ok=True)
    with open(os.path.join(HERE, provider, name + ".http"), "w", newline="") as f:
        f.write(text)


def octo3_case(name, provider="octo3", change=None, drop=(), secret=OCTO3_SECRET,
               digest=hashlib.sha1, after_sign=None, upper=False, extra_pairs=(), rename=None, **req):
    fields = dict(OCTO3_BASE)
    fields.update(change or {})
    for d in drop:
        fields.pop(d, None)
    sig = octo3_sign(fields, secret, digest)
    fields["secure_hash"] = sig.upper() if upper else sig
    fields.update(after_sign or {})
    for old, new in (rename or {}).items():
        fields[new] = fields.pop(old)
    pairs = list(fields.items()) + list(extra_pairs)
    write(provider, name, form_request(f"/notify/{provider}?src=octo3", pairs, **req))


def signed_fields(**change):
    fields = dict(OCTO3_BASE, **change)
    fields["secure_hash"] = octo3_sign(fields, OCTO3_SECRET)
    return fields


def main():
    # Verified: each maps to one event.
    octo3_case("accepted")
    octo3_case("accepted_retry", change={"dr_count": "2"})
    octo3_case("accepted_upper_hex", upper=True)
    octo3_case("accepted_old_secret", secret=OCTO3_OLD_SECRET)
    octo3_case("declined", change={"txn_status": "DECLINED", "txn_response_code": "51",
                                   "txn_message": "Insufficient funds", "captured_amount": ""})
    octo3_case("voided", change={"txn_status": "VOIDED", "action": "VOID"})
    octo3_case("unknown_status", change={"txn_status": "UNDER_REVIEW"})
    octo3_case("refund", change={"action": "REFUND", "txn_status": "ACCEPTED", "refunded_amount": "5.00"})
    octo3_case("sha256", digest=hashlib.sha256)
    octo3_case("minor_numeric_currency", change={"currency": "344", "captured_amount": "1250",
                                                 "authorized_amount": "1250", "original_amount": "1250"})
    octo3_case("jpy", change={"currency": "JPY", "captured_amount": "1000"})
    octo3_case("kwd", change={"currency": "KWD", "captured_amount": "1.234"})
    octo3_case("unknown_currency", change={"currency": "ZZZ"})
    octo3_case("extra_decimals", change={"captured_amount": "12.505"})
    octo3_case("no_optional", drop=[k for k in OCTO3_BASE if k not in (
        "version", "action", "merch_order_id", "merch_id", "term_id", "currency",
        "txn_time", "txn_status", "txn_response_code", "dr_count")])
    octo3_case("thedao", provider="thedao")

    # Rejected.
    octo3_case("tampered_amount", after_sign={"captured_amount": "1250.00"})
    octo3_case("wrong_secret", secret="not-the-secret")
    octo3_case("unsigned", after_sign={"secure_hash": ""})
    octo3_case("bad_hex", after_sign={"secure_hash": "zz" * 20})
    octo3_case("short_hash", after_sign={"secure_hash": "ab" * 10})
    octo3_case("missing_mandatory", drop=["txn_status"])
    octo3_case("bad_amount", change={"captured_amount": "12,50"})
    octo3_case("exponent_amount", change={"captured_amount": "1e9"})
    octo3_case("overflow_amount", change={"captured_amount": "99999999999999999999999"})
    octo3_case("duplicate_field", extra_pairs=[("captured_amount", "0.01")])
    octo3_case("json_content_type", content_type="application/json")
    octo3_case("get_method", method="GET")
    # Attacks on the scheme itself: the signature stays valid because names are
    # not signed and values are concatenated without separators.
    octo3_case("renamed_field", change={"currency": "JPY", "captured_amount": "1000"},
               rename={"captured_amount": "captured_amountx"})
    octo3_case("shifted_boundary", after_sign={"original_amount": "12.50V", "pay_type": "ISA"})
    octo3_case("unknown_field", change={"x_note": "hello"})
    # The review's shift: "12.50" moved into action and bill_to_last_name, a
    # digit of merch_txn_id moved onto original_amount (112.50).
    octo3_case("shift_into_action", after_sign={
        "action": "PAY12.50", "authorized_amount": "", "bill_to_last_name": "Tai Man12.50",
        "captured_amount": "", "merch_txn_id": "MTX-000", "original_amount": "112.50"})
    octo3_case("negative_amount", change={"captured_amount": "-12.50"})
    write("octo3", "query_shadows_field", form_request(
        "/notify/octo3?txn_status=ACCEPTED", list(signed_fields().items())))


if __name__ == "__main__":
    main()
