"""Adyen standard webhooks: a batch of NotificationRequestItems, each signed
on its own in additionalData.hmacSignature = base64 HMAC-SHA256, keyed with
the hex-DECODED HMAC key, of
pspReference:originalReference:merchantAccountCode:merchantReference:value:currency:eventCode:success
(Adyen/adyen-go-api-library src/hmacvalidator). Loaded by gen_golden.py.
"""
import base64
import binascii
import copy
import hashlib
import hmac
import json

from gen_golden import raw_request, write_bytes

ADYEN_SECRET = "09A101BDBD5B1238FE30628D19AA125F297E0CCF31AC73635A07FCAE2BB3D263"
ADYEN_OLD_SECRET = "1CDC8A284235F54528C72764ADEB977D707E2D21B834F1A1AECB1EE663CFA255"
# The key of Adyen's own test vector (hmacvalidator_test.go).
ADYEN_VECTOR_KEY = "DFB1EB5485895CFA84146406857104ABB4CBCABDC8AAF103A624C8F6A3EAAB00"

BASE_ITEM = {
    "additionalData": {"authCode": "012345", "cardSummary": "1111", "expiryDate": "03/2030"},
    "amount": {"currency": "EUR", "value": 1050},
    "eventCode": "AUTHORISATION",
    "eventDate": "2024-05-01T12:20:30+02:00",
    "merchantAccountCode": "PaynotifyShopECOM",
    "merchantReference": "ORD-20240501-0001",
    "operations": ["CANCEL", "CAPTURE", "REFUND"],
    "paymentMethod": "visa",
    "pspReference": "NC6HT9CRT65ZGN82",
    "reason": "012345:1111:03/2030",
    "success": "true",
}


def signed_string(item):
    amount = item.get("amount")
    value = str(amount["value"]) if amount is not None else ""
    currency = amount["currency"] if amount is not None else ""
    return ":".join([item.get("pspReference", ""), item.get("originalReference", ""),
                     item.get("merchantAccountCode", ""), item.get("merchantReference", ""),
                     value, currency, item.get("eventCode", ""), item.get("success", "")])


def sign_item(item, secret=ADYEN_SECRET):
    key = binascii.unhexlify(secret)
    return base64.b64encode(hmac.new(key, signed_string(item).encode(), hashlib.sha256).digest()).decode()


def item(secret=ADYEN_SECRET, after_sign=None, drop=(), **change):
    """A signed item: BASE_ITEM with change, signed, then after_sign applied."""
    it = copy.deepcopy(BASE_ITEM)
    it.update(change)
    for d in drop:
        it.pop(d, None)
    it.setdefault("additionalData", {})["hmacSignature"] = sign_item(it, secret)
    for k, v in (after_sign or {}).items():
        if v is None:
            it.pop(k, None)
        else:
            it[k] = v
    return it


def body_of(items, indent=None):
    doc = {"live": "false", "notificationItems": [{"NotificationRequestItem": it} for it in items]}
    if indent:
        return json.dumps(doc, indent=indent)
    return json.dumps(doc, separators=(",", ":"))


def case(name, items=None, body=None, content_type="application/json", method="POST", target="/notify/adyen"):
    if body is None:
        body = body_of(items)
    write_bytes("adyen", name, raw_request(method, target, {"Content-Type": content_type}, body))


def cases():
    # Accepted.
    case("authorisation", [item()])
    case("authorisation_refused", [item(success="false", reason="Refused", pspReference="QJCBPSNM7MBLXH82")])
    case("capture", [item(eventCode="CAPTURE", pspReference="K6NHLSC6CBFWLR82", originalReference="NC6HT9CRT65ZGN82")])
    case("capture_failed", [item(eventCode="CAPTURE_FAILED", pspReference="K6NHLSC6CBFWLR82",
                                 originalReference="NC6HT9CRT65ZGN82", reason="Insufficient balance")])
    case("cancellation", [item(eventCode="CANCELLATION", pspReference="T5NSV6N8ZQ8QGN82",
                               originalReference="NC6HT9CRT65ZGN82")])
    case("refund", [item(eventCode="REFUND", pspReference="HJ9K6QB6C4FWLR82", originalReference="NC6HT9CRT65ZGN82",
                         amount={"currency": "EUR", "value": 500})])
    case("refund_not_done", [item(eventCode="REFUND", success="false", pspReference="HJ9K6QB6C4FWLR82",
                                  originalReference="NC6HT9CRT65ZGN82", reason="Transaction hasn't been captured")])
    case("chargeback", [item(eventCode="CHARGEBACK", pspReference="L2QZK4R6DQ4KGN82",
                             originalReference="NC6HT9CRT65ZGN82", reason="Fraud")])
    case("offer_closed", [item(eventCode="OFFER_CLOSED", pspReference="X5DFW7R92SBLXH82", paymentMethod="ideal")])
    case("pending", [item(eventCode="PENDING", pspReference="W8HQ7X2CN9SKGN82", paymentMethod="klarna")])
    # An event the status table does not name, without an order: forwarded as unknown.
    case("report_available", [item(eventCode="REPORT_AVAILABLE", pspReference="settlement_detail_report_batch_1.csv",
                                   merchantReference="", amount={"currency": "EUR", "value": 0},
                                   reason="https://ca-test.adyen.com/reports/download/settlement_detail_report_batch_1.csv",
                                   drop=["operations", "paymentMethod"])])
    # No amount at all: value and currency are signed as empty fields.
    case("no_amount", [item(eventCode="RECURRING_CONTRACT", pspReference="C9BN3L7WD4QKGN82", drop=["amount"])])
    case("jpy", [item(amount={"currency": "JPY", "value": 1000}, pspReference="B3RS7TQ2M8VLXH82")])
    case("kwd", [item(amount={"currency": "KWD", "value": 1234}, pspReference="B3RS7TQ2M8VLXH83")])
    case("old_secret", [item(secret=ADYEN_OLD_SECRET)])
    case("colon_in_reference", [item(merchantReference="SHOP:ORD:42", pspReference="P4GS9N2WQ7CLXH82")])
    case("charset", [item()], content_type="application/json; charset=utf-8")
    case("pretty_body", body=body_of([item()], indent=4))
    # A batch: each item its own event, signed on its own, one of them
    # under the old secret (rotation covers every item).
    batch = [
        item(),
        item(eventCode="CAPTURE", pspReference="K6NHLSC6CBFWLR82", originalReference="NC6HT9CRT65ZGN82",
             secret=ADYEN_OLD_SECRET),
        item(eventCode="REFUND", pspReference="HJ9K6QB6C4FWLR82", originalReference="NC6HT9CRT65ZGN82",
             amount={"currency": "EUR", "value": 500}),
    ]
    case("batch", batch)
    # The same item twice in one batch: two events with one id (the handler
    # delivers it once).
    case("same_item_twice", [item(), item()])
    # Adyen's own vector: the item of hmacvalidator_test.go, with the
    # signature written there, not computed here.
    vector = {
        "additionalData": {"hmacSignature": "ipnxGCaUZ4l8TUW75a71/ghd2Fe5ffvX0pV4TLTntIc="},
        "amount": {"currency": "EUR", "value": 1000},
        "eventCode": "EVENT",
        "merchantAccountCode": "merchantAccount",
        "merchantReference": "reference",
        "originalReference": "originalReference",
        "pspReference": "pspReference",
        "success": "true",
    }
    assert sign_item(vector, ADYEN_VECTOR_KEY) == vector["additionalData"]["hmacSignature"]
    case("official_vector", [vector])

    # Rejected: signatures.
    case("tampered", [item(after_sign={"amount": {"currency": "EUR", "value": 1}})])
    case("one_bad_item", [batch[0], item(eventCode="CAPTURE", pspReference="K6NHLSC6CBFWLR82",
                                         originalReference="NC6HT9CRT65ZGN82", after_sign={"merchantReference": "ORD-OTHER"}),
                          batch[2]])
    case("wrong_secret", [item(secret="00112233445566778899AABBCCDDEEFF00112233445566778899AABBCCDDEEFF")])
    unsigned = item()
    del unsigned["additionalData"]["hmacSignature"]
    case("unsigned", [unsigned])
    no_additional = item()
    del no_additional["additionalData"]
    case("no_additional_data", [no_additional])
    bad_b64 = item()
    bad_b64["additionalData"]["hmacSignature"] = "not base64 at all, but 44 chars long......."
    case("bad_base64", [bad_b64])
    hex_sig = item()
    key = binascii.unhexlify(ADYEN_SECRET)
    hex_sig["additionalData"]["hmacSignature"] = hmac.new(key, signed_string(hex_sig).encode(), hashlib.sha256).hexdigest()
    case("hex_signature", [hex_sig])
    # Keyed with the secret's text instead of its hex-decoded bytes.
    text_key = item()
    text_key["additionalData"]["hmacSignature"] = base64.b64encode(
        hmac.new(ADYEN_SECRET.encode(), signed_string(text_key).encode(), hashlib.sha256).digest()).decode()
    case("text_key", [text_key])

    # Rejected: content (signed).
    case("empty_batch", body='{"live":"false","notificationItems":[]}')
    case("no_items", body='{"live":"false"}')
    case("item_without_request", body='{"live":"false","notificationItems":[{"Other":{}}]}')
    good = json.dumps({"NotificationRequestItem": item()}, separators=(",", ":"))
    case("duplicate_key", body='{"live":"false","live":"true","notificationItems":[' + good + ']}')
    dup_in_item = item()
    text = json.dumps({"NotificationRequestItem": dup_in_item}, separators=(",", ":"))
    case("duplicate_key_in_item", body='{"live":"false","notificationItems":[' +
         text.replace('"success":"true"', '"success":"false","success":"true"') + ']}')
    case("case_folded_key", body='{"live":"false","notificationItems":[' +
         text.replace('"success":"true"', '"Success":"false","success":"true"') + ']}')
    case("invalid_utf8", body=('{"live":"false","notificationItems":[' +
                               text.replace('"reason":"012345:1111:03/2030"', '"reason":"\udcff"') + ']}')
         .encode("utf-8", "surrogateescape"))
    # A genuine item with a colon in merchantReference, rewritten so that the
    # colon's left part moves into merchantAccountCode: the signed string,
    # and so the signature, is unchanged.
    shifted = item(merchantReference="X:ORD-20240501-0001", pspReference="P4GS9N2WQ7CLXH83")
    shifted["merchantAccountCode"] += ":X"
    shifted["merchantReference"] = "ORD-20240501-0001"
    case("colon_shifted", [shifted])
    case("missing_success", [item(success="")])
    case("success_not_boolean", [item(success="yes")])
    case("missing_reference", [item(merchantReference="")])
    case("fractional_value", [item(amount={"currency": "EUR", "value": 10.5})])
    case("negative_value", [item(amount={"currency": "EUR", "value": -1050})])
    case("form_content_type", [item()], content_type="application/x-www-form-urlencoded")
    case("get_method", [item()], method="GET")
