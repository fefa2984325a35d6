#!/usr/bin/env python3
"""Writes the signed golden requests in testdata/<provider>/<case>.http.

The signatures are computed here, in Python, independently of the Go code
under test, so that a misreading of a provider's scheme shared by a Go signer
and the Go verifier cannot hide. Run it from the repository root after
changing a case; `go test ./verifiers -update` then rewrites the expected
events, which are reviewed by hand before they are committed.
"""
import base64
import glob
import hashlib
import hmac
import importlib.util
import json
import os
import sys
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)  # for the gen_golden_<provider>.py generators

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


def raw_request(method, target, headers, body=b""):
    if isinstance(body, str):
        body = body.encode()
    head = [f"{method} {target} HTTP/1.1", "Host: merchant.example"]
    head += [f"{k}: {v}" for k, v in headers.items()]
    if body or method == "POST":
        head.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def write_bytes(provider, name, data):
    os.makedirs(os.path.join(HERE, provider), exist_ok=True)
    with open(os.path.join(HERE, provider, name + ".http"), "wb") as f:
        f.write(data)


# --- checkout: Cko-Signature = hex HMAC-SHA256 of the raw body -------------

CKO_SECRET = "cko-test-signature-key"
CKO_OLD_SECRET = "cko-old-signature-key"
CKO_AUTHORIZATION = "cko-test-authorization"


def cko_event(type_, **data):
    d = {
        "id": "pay_griq7wyqkggu7mnk7ecm6ysrl4",
        "action_id": "act_gl5cpqgccxeulozrvaassd4lta",
        "reference": "ORD-5023-4E89",
        "amount": 1050,
        "currency": "HKD",
        "auth_code": "528709",
        "response_code": "10000",
        "response_summary": "Approved",
        "source": {"id": "src_nq6m3ixg6ypefozuslbm7wq2fa", "type": "octopus"},
        "customer": {"id": "cus_udst2tfldj6upmye2reztkmm4i", "email": "tm.chan@example.com",
                     "name": "Chan Tai Man", "phone": {"country_code": "+852", "number": "91234567"}},
    }
    d.update(data)
    d = {k: v for k, v in d.items() if v is not None}
    return {"id": "evt_caxmnvuvbe4elkbdx2imwbnjxu", "type": type_, "version": "1.0.29",
            "created_on": "2023-05-22T11:56:04.8821546Z", "data": d}


def checkout_case(name, event=None, body=None, secret=CKO_SECRET, sig=None, headers=None,
                  after_sign=None, authorization=CKO_AUTHORIZATION, content_type="application/json"):
    if body is None:
        body = json.dumps(event, separators=(",", ":"))
    body = body.encode() if isinstance(body, str) else body
    h = {"Content-Type": content_type}
    signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest() if sig is None else sig
    if signature:
        h["Cko-Signature"] = signature
    if authorization:
        h["Authorization"] = authorization
    h.update(headers or {})
    if after_sign:
        body = after_sign(body)
    write_bytes("checkout", name, raw_request("POST", "/notify/checkout", h, body))


CKO_TYPES = ["payment_pending", "payment_capture_pending", "payment_approved", "payment_captured",
             "payment_declined", "payment_capture_declined", "payment_expired", "payment_canceled",
             "payment_voided", "payment_refunded", "payment_authentication_failed"]


def checkout_cases():
    for t in CKO_TYPES:
        change = {}
        if "declined" in t:
            change = {"response_code": "20005", "response_summary": "Declined - Do Not Honour"}
        checkout_case(t, cko_event(t, **change))
    ev = cko_event("payment_capture_pending")
    ev["timestamp"] = ev.pop("created_on")
    checkout_case("timestamp_instead_of_created_on", ev)
    checkout_case("seed_example", body='{"id":"evt_caxmnvuvbe4elkbdx2imwbnjxu","type":"payment_approved",'
                  '"version":"1.0.29","created_on":"2023-05-22T11:56:04.8821546Z","data":{"id":'
                  '"pay_griq7wyqkggu7mnk7ecm6ysrl4","action_id":"act_gl5cpqgccxeulozrvaassd4lta",'
                  '"reference":"ORD-5023-4E89","amount":20,"currency":"USD","auth_code":"528709",'
                  '"response_code":"10000","response_summary":"Approved"}}')
    checkout_case("jpy", cko_event("payment_captured", amount=1000, currency="JPY"))
    checkout_case("kwd", cko_event("payment_captured", amount=1234, currency="KWD"))
    # Checkout.com sends CLP times 100 although ISO 4217 gives it no minor unit.
    checkout_case("clp", cko_event("payment_captured", amount=100000, currency="CLP"))
    checkout_case("void_without_amount", cko_event("payment_voided", amount=None))
    checkout_case("old_secret", cko_event("payment_captured"), secret=CKO_OLD_SECRET)
    checkout_case("pretty_body", body=json.dumps(cko_event("payment_captured"), indent=2))
    checkout_case("uppercase_hex", cko_event("payment_captured"),
                  sig=hmac.new(CKO_SECRET.encode(), json.dumps(cko_event("payment_captured"),
                               separators=(",", ":")).encode(), hashlib.sha256).hexdigest().upper())
    # Rejected.
    checkout_case("tampered", cko_event("payment_captured"),
                  after_sign=lambda b: b.replace(b'"amount":1050', b'"amount":9050'))
    checkout_case("wrong_secret", cko_event("payment_captured"), secret="not-the-key")
    checkout_case("unsigned", cko_event("payment_captured"), sig="")
    checkout_case("bad_hex", cko_event("payment_captured"), sig="zz" * 32)
    checkout_case("wrong_authorization", cko_event("payment_captured"), authorization="guess")
    checkout_case("no_authorization", cko_event("payment_captured"), authorization="")
    checkout_case("duplicate_key", body='{"id":"evt_caxmnvuvbe4elkbdx2imwbnjxu","type":"payment_declined",'
                  '"type":"payment_captured","data":{"reference":"ORD-1","amount":100,"currency":"HKD"}}')
    checkout_case("invalid_utf8", body=b'{"id":"evt_x","type":"payment_captured","data":{"reference":"ORD-\xff","amount":1,"currency":"HKD"}}')
    checkout_case("missing_reference", cko_event("payment_captured", reference=None))
    checkout_case("amount_as_string", body=json.dumps(cko_event("payment_captured", amount="1050")))
    checkout_case("fractional_minor", body=json.dumps(cko_event("payment_captured")).replace('"amount": 1050', '"amount": 10.5'))
    checkout_case("overflow", body=json.dumps(cko_event("payment_captured")).replace('"amount": 1050', '"amount": 99999999999999999999999'))
    checkout_case("trailing_data", body=json.dumps(cko_event("payment_captured")) + "{}")
    checkout_case("form_content_type", cko_event("payment_captured"), content_type="application/x-www-form-urlencoded")


# --- octopus: OC-Signature over key-sorted k=v& of the top-level fields ----

OCTOPUS_SECRET = "octopus-test-secret"
OCTOPUS_KEY = "octopus-test-key"

# Values as raw JSON text, so that numbers keep the text they are sent with.
OCTOPUS_BASE = [
    ("transaction_type", '"income"'),
    ("merchant_uid", '"MUID-7781"'),
    ("amount", '"100.00"'),
    ("final_amount", "99.50"),
    ("currency", '"php"'),
    ("notify_url", '"https://merchant.example/notify/octopus"'),
    ("merchant_order_id", '"123qq"'),
    ("payment_status", '"completed"'),
    ("payment_fail_reason", '""'),
    ("order_uid", '"OUID-5521"'),
    ("payment_uid", '"PUID-88231"'),
    ("payment", '"gcash"'),
    ("signature_key", '"sk_live_9f8e7d6c"'),
    ("tenant", '"ph-1"'),
    ("is_test", "false"),
    ("note", "null"),
    ("meta", '{"b": 1, "a": [1, 2, "x"]}'),
]


def octopus_sign(pairs, secret):
    parts = []
    for k, raw in sorted(pairs, key=lambda kv: kv[0]):
        if raw == "null":
            continue
        if raw.startswith('"'):
            value = json.loads(raw)
        elif raw.startswith("{") or raw.startswith("["):
            value = json.dumps(json.loads(raw), separators=(",", ":"), ensure_ascii=False)
        else:
            value = raw
        parts.append(f"{k}={value}")
    return hmac.new(secret.encode(), "&".join(parts).encode(), hashlib.sha256).hexdigest()


def octopus_case(name, change=None, drop=(), secret=OCTOPUS_SECRET, sig=None, key=OCTOPUS_KEY,
                 after_sign=None, extra_pairs=(), drop_after=()):
    pairs = [(k, (change or {}).get(k, v)) for k, v in OCTOPUS_BASE if k not in drop]
    pairs += [(k, v) for k, v in (change or {}).items() if k not in dict(OCTOPUS_BASE)]
    signature = octopus_sign(pairs, secret) if sig is None else sig
    pairs = [(k, (after_sign or {}).get(k, v)) for k, v in pairs if k not in drop_after] + list(extra_pairs)
    body = "{\n  " + ",\n  ".join(f'"{k}": {v}' for k, v in pairs) + "\n}"
    h = {"Content-Type": "application/json"}
    if signature:
        h["OC-Signature"] = signature
    if key:
        h["OC-Key"] = key
    write_bytes("octopus", name, raw_request("POST", "/notify/octopus", h, body))


def octopus_cases():
    for status in ["none", "pending", "processing", "completed", "failed", "reject", "refund", "overdue",
                   "on_hold"]:
        change = {"payment_status": json.dumps(status)}
        if status in ("failed", "reject"):
            change["payment_fail_reason"] = '"insufficient balance"'
        octopus_case(status, change=change)
    octopus_case("amount_only", drop=["final_amount"], change={"currency": '"usd"'})
    # Rejected.
    octopus_case("tampered", after_sign={"final_amount": "999.50"})
    octopus_case("number_reformatted", after_sign={"final_amount": "99.5"})
    octopus_case("wrong_secret", secret="not-the-secret")
    octopus_case("unsigned", sig="")
    octopus_case("bad_hex", sig="xyz")
    octopus_case("wrong_key", key="guess")
    octopus_case("no_key", key="")
    octopus_case("missing_order", drop=["merchant_order_id"])
    octopus_case("duplicate_key", extra_pairs=[("payment_status", '"failed"')])
    octopus_case("missing_currency", drop=["currency"])
    # Regroupings of the genuine "completed" string to sign.
    octopus_case("merged_fields", after_sign={"tenant": '"ph-1&transaction_type=income"'},
                 drop_after=["transaction_type"])
    # currency swallows final_amount: the event would fall back to amount
    # (100.00) without a currency.
    octopus_case("currency_swallows_amount", after_sign={"currency": '"php&final_amount=99.50"'},
                 drop_after=["final_amount"])
    octopus_case("key_with_separators", drop_after=["tenant", "transaction_type"],
                 extra_pairs=[("tenant=ph-1&transaction_type", '"income"')])


# --- oobit: signature = base64(sha256(id + order + reply + amount + currency + key)) --

OOBIT_SECRET = "oobit-test-hash-key"

OOBIT_BASE = {
    "reply_code": "000",
    "reply_desc": "SUCCESS",
    "trans_id": "22924",
    "trans_date": "11/02/2020 12:40:11",
    "trans_amount": "7.23",
    "trans_currency": "USD",
    "trans_order": "ABC12365",
    "merchant_id": "3783018",
    "client_fullname": "Chan Tai Man",
    "client_phone": "+85291234567",
    "client_email": "tm.chan@example.com",
    "payment_details": "Visa ....1111",
}


def oobit_sign(f, secret):
    message = "".join(f.get(k, "") for k in ("trans_id", "trans_order", "reply_code", "trans_amount",
                                             "trans_currency")) + secret
    return base64.b64encode(hashlib.sha256(message.encode()).digest()).decode()


def oobit_case(name, change=None, drop=(), secret=OOBIT_SECRET, sig=None, method="GET", raw_plus=False,
               after_sign=None, content_type="application/x-www-form-urlencoded", query="", extra_pairs=(),
               get_body=""):
    f = dict(OOBIT_BASE)
    f.update(change or {})
    for d in drop:
        f.pop(d, None)
    f["signature"] = oobit_sign(f, secret) if sig is None else sig
    f.update(after_sign or {})
    encoded = urllib.parse.urlencode(list(f.items()) + list(extra_pairs))
    if raw_plus:  # the provider left the base64 '+' unencoded
        encoded = encoded.replace(urllib.parse.quote_plus(f["signature"]),
                                  urllib.parse.quote(f["signature"], safe="+"))
    if method == "GET":
        headers = {"Content-Type": content_type} if get_body else {}
        data = raw_request("GET", "/notify/oobit?" + encoded, headers, get_body)
    else:
        target = "/notify/oobit" + ("?" + query if query else "")
        data = raw_request(method, target, {"Content-Type": content_type}, encoded)
    write_bytes("oobit", name, data)


def oobit_with_plus():
    for i in range(1000):
        order = f"ABC{12365 + i}"
        if "+" in oobit_sign(dict(OOBIT_BASE, trans_order=order), OOBIT_SECRET):
            return order
    raise SystemExit("no signature with a +")


def oobit_cases():
    oobit_case("approved_get")
    oobit_case("approved_post", method="POST")
    oobit_case("pending", change={"reply_code": "553", "reply_desc": "Pending 3DS"})
    oobit_case("declined", change={"reply_code": "604", "reply_desc": "Order is unique and must be used only once."})
    oobit_case("plus_as_space", change={"trans_order": oobit_with_plus()}, raw_plus=True)
    oobit_case("jpy", change={"trans_amount": "1500", "trans_currency": "JPY"})
    # Rejected.
    oobit_case("tampered", after_sign={"trans_amount": "723.00"})
    oobit_case("wrong_secret", secret="not-the-key")
    oobit_case("unsigned", sig="")
    oobit_case("bad_base64", sig="not base64!")
    oobit_case("hex_not_base64", sig=hashlib.sha256(b"x").hexdigest())
    oobit_case("shifted_reply_code", change={"reply_code": "0007", "trans_amount": ".23"})
    oobit_case("missing_order", drop=["trans_order"])
    oobit_case("duplicate_field", extra_pairs=[("reply_code", "000")])
    oobit_case("post_json", method="POST", content_type="application/json")
    oobit_case("post_query_shadow", method="POST", query="reply_code=000")
    oobit_case("put", method="PUT")
    oobit_case("get_with_body", get_body="trans_amount=1.00")
    # A genuine decline for a numeric order, and the same signed string
    # regrouped into an approval of order "10" for 519.99.
    decline = {"trans_order": "1000", "reply_code": "051", "trans_amount": "9.99", "reply_desc": "Do not honour"}
    oobit_case("declined_numeric_order", change=decline)
    oobit_case("regrouped_into_approval", change=decline, after_sign={
        "trans_order": "10", "reply_code": "000", "trans_amount": "519.99", "reply_desc": "SUCCESS"})


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
    octo3_case("jpy", change={"currency": "JPY", "captured_amount": "1000", "authorized_amount": "1000",
                              "original_amount": "1000"})
    octo3_case("kwd", change={"currency": "KWD", "captured_amount": "1.234", "authorized_amount": "1.234",
                              "original_amount": "1.234"})
    octo3_case("unknown_currency", change={"currency": "ZZZ"})
    octo3_case("extra_decimals", change={"captured_amount": "12.505", "authorized_amount": "12.505",
                                         "original_amount": "12.505"})
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
    octo3_case("overflow_amount", change={"captured_amount": "99999999999999999999999",
                                          "authorized_amount": "", "original_amount": ""})
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
    # A genuine accepted REFUND whose first letters moved into the optional
    # field that sorts just before action: action=UND must not be a payment.
    octo3_case("refund_regrouped", change={"action": "REFUND", "refunded_amount": "5.00",
                                           "acq_response_code": "00"},
               after_sign={"acq_response_code": "00REF", "action": "UND"})
    octo3_case("refund_regrouped_short", change={"action": "REFUND", "refunded_amount": "5.00",
                                                 "acq_response_code": "0"},
               after_sign={"acq_response_code": "0RE", "action": "FUND"})
    # The last digit of authorized_amount moved onto captured_amount.
    # (adjacent in the signed string when no bill_to_ field sorts between them)
    octo3_case("shift_between_amounts", drop=["bill_to_first_name", "bill_to_last_name", "bill_to_email_address"],
               after_sign={"authorized_amount": "12.501", "captured_amount": "2.50"})
    octo3_case("negative_amount", change={"captured_amount": "-12.50"})
    octo3_case("padded_amount", change={"captured_amount": "012.50"})
    write("octo3", "query_shadows_field", form_request(
        "/notify/octo3?txn_status=ACCEPTED", list(signed_fields().items())))


    checkout_cases()
    octopus_cases()
    oobit_cases()

    # The providers added after the seeds each have a generator of their own,
    # testdata/gen_golden_<provider>.py, with a cases() function; they import
    # the helpers above from this file.
    for path in sorted(glob.glob(os.path.join(HERE, "gen_golden_*.py"))):
        name = os.path.splitext(os.path.basename(path))[0]
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        module.cases()


if __name__ == "__main__":
    main()
