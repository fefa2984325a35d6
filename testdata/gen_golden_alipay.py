"""Alipay (支付宝) asynchronous notifications: a form POST whose sign field is
the base64 SHA256withRSA signature (sign_type RSA2), made with Alipay's
private key, of the other non-empty parameters except sign_type, sorted by
name, k=v joined by &, the values decoded, as bytes in the charset the
charset field names. Signed here with the test keys of testdata/alipay/keys
(never real keys). Also writes Alipay's official vector (NOTES.md 10.9,
alipay-sdk-nodejs-all test/alipay.test.ts) as a form body into
testdata/vectors/. Loaded by gen_golden.py.
"""
import base64
import os
import urllib.parse

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from gen_golden import HERE, raw_request, write_bytes

FORM = "application/x-www-form-urlencoded"
APP_ID = "2021004100000001"
OTHER_APP_ID = "2021004199999999"
SECOND_APP_ID = "2021004100000002"


def key(name):
    with open(os.path.join(HERE, "alipay", "keys", name + ".pem"), "rb") as f:
        return serialization.load_pem_private_key(f.read(), password=None)


# China Standard Time: the golden clock 2024-05-01T10:20:31Z is 18:20:31.
BASE = [
    ("gmt_create", "2024-05-01 18:20:10"), ("charset", "utf-8"), ("seller_email", "shop@example.cn"),
    ("subject", "语雀空间 500人规模"), ("buyer_id", "2088102534368455"), ("invoice_amount", "88.88"),
    ("notify_id", "2024050100222182028068450559358070"),
    ("fund_bill_list", '[{"amount":"88.88","fundChannel":"ALIPAYACCOUNT"}]'),
    ("notify_type", "trade_status_sync"), ("trade_status", "TRADE_SUCCESS"), ("receipt_amount", "88.88"),
    ("buyer_pay_amount", "88.88"), ("app_id", APP_ID), ("seller_id", "2088531891668739"),
    ("gmt_payment", "2024-05-01 18:20:28"), ("notify_time", "2024-05-01 18:20:29"), ("version", "1.0"),
    ("out_trade_no", "ORD-20240501-0088"), ("total_amount", "88.88"),
    ("trade_no", "2024050122001468450512505578"), ("auth_app_id", APP_ID),
    ("buyer_logon_id", "xud***@126.com"), ("point_amount", "0.00"),
]


def fields(change=None, drop=()):
    change = dict(change or {})
    out = [(k, change.pop(k, v)) for k, v in BASE if k not in drop]
    return out + list(change.items())


def content(pairs, encoding, with_empty=False):
    """The signed bytes: sign and sign_type left out, and (as PRODUCT.md
    says) the empty values, unless with_empty (what Alipay's SDKs verify)."""
    kept = sorted((k.encode(encoding), v.encode(encoding)) for k, v in pairs
                  if k not in ("sign", "sign_type") and (with_empty or v != ""))
    return b"&".join(k + b"=" + v for k, v in kept)


def sign(pairs, encoding="utf-8", signer="test", digest=None, with_empty=False):
    sig = key(signer).sign(content(pairs, encoding, with_empty), padding.PKCS1v15(), digest or hashes.SHA256())
    return base64.b64encode(sig).decode()


def body_of(pairs, encoding="utf-8", quote_via=urllib.parse.quote_plus):
    return urllib.parse.urlencode(pairs, encoding=encoding, quote_via=quote_via).encode("ascii")


def request(name, body, method="POST", target="/notify/alipay", content_type=FORM + "; charset=utf-8"):
    h = {"Content-Type": content_type, "User-Agent": "Mozilla/4.0"}
    write_bytes("alipay", name, raw_request(method, target, h, body))


def notify(name, change=None, drop=(), encoding="utf-8", signer="test", sign_type="RSA2", digest=None,
           after_sign=None, extra=(), signed_extra=(), with_empty=False, body_encoding=None, **kw):
    """A notification: fields changed by change and drop, plus signed_extra
    (signed) and extra (added after signing, unsigned); after_sign changes
    values after signing."""
    pairs = fields(change, drop) + list(signed_extra)
    s = sign(pairs, encoding, signer, digest, with_empty)
    pairs = [(k, (after_sign or {}).get(k, v)) for k, v in pairs] + list(extra)
    if sign_type is not None:
        pairs.append(("sign_type", sign_type))
    pairs.append(("sign", s))
    request(name, body_of(pairs, body_encoding or encoding), **kw)


def vector():
    """Alipay's official vector (alipay-sdk-nodejs-all test/alipay.test.ts,
    "verify sign should delete sign_type"): its exact parameters, sign and
    sign_type=RSA2 as the form body Alipay posts, checked here first."""
    params = {
        "gmt_create": "2019-08-15 15:56:22", "charset": "utf-8",
        "seller_email": "z97-yuquerevenue@service.aliyun.com", "subject": "语雀空间 500人规模",
        "buyer_id": "2088102534368455", "invoice_amount": "0.10",
        "notify_id": "2019081500222155624068450559358070",
        "fund_bill_list": '[{"amount":"0.10","fundChannel":"ALIPAYACCOUNT"}]',
        "notify_type": "trade_status_sync", "trade_status": "TRADE_SUCCESS", "receipt_amount": "0.10",
        "buyer_pay_amount": "0.10", "app_id": "2019073166072302", "seller_id": "2088531891668739",
        "gmt_payment": "2019-08-15 15:56:24", "notify_time": "2019-08-15 15:56:25", "version": "1.0",
        "out_trade_no": "20190815155618536-564-57", "total_amount": "0.10",
        "trade_no": "2019081522001468450512505578", "auth_app_id": "2019073166072302",
        "buyer_logon_id": "xud***@126.com", "point_amount": "0.00",
    }
    sig = ("QfTb8tqE1BMhS5qAnXtvsF3/jBkEvu9q9en0pdbBUDDjvKycZhQb7h8GDs4FKfi049PynaNuatxSgLb/nLWZpXyyh0LEWdK2S6Ri7nPwrVgOs08zugLO20vO"
           "Qz44y3ti2Ncm8/wZts1Fr2gZ7pShnVX3d1B50hbsXnObT1r/U8ONNQjWXd0HIul4TG+Q3fm3svmSvFEy0WnzuhcyHPX5Gm4ELNctL6Qd5YniGJFNcc7k"
           "opHYtI/XD9YCKCH6Ct02rzUs9i11C9CsadtZn+WhxF26Dqt9sGEFajkJ8cxUTLi8+VCpLHsgPE8P0y095uQcDdK0YjCh4x7wVSov+lrmOQ==")
    pub_b64 = ("MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAqObrdC7hrgAVM98tK0nv3hSQRGGKT4lBsQjHiGjeYZjOPIPHR5knm2jnnz/YGIXIofVHkA/t"
               "AlBAd5DrY7YpvI4tP5EONLtZKC2ghBMx7McI2wRD0xiqzxOQr1FuhZGJ8/AUokBzJrzY+aGX2xcOrxFYRlFilvVLTXg4LWjR1tdPkO6+i7wQZAIVMClP"
               "kwVRZEbaERRHlKqTzv2gGv5rDU8gRoe1LeaN+6BlbTqHWkQcNCUNrA8C6l17XAXGKDsm/9TFWwO8EPHHHCaQdjtV5/FdcWIt+L8SR1ss7EXTjYDFtxcK"
               "Vv9rEoY1lX8T4mX+GbXfZHraG5NCF1+XioL5JwIDAQAB")
    pub = serialization.load_der_public_key(base64.b64decode(pub_b64))
    pub.verify(base64.b64decode(sig), content(params.items(), "utf-8"), padding.PKCS1v15(), hashes.SHA256())
    pairs = list(params.items()) + [("sign_type", "RSA2"), ("sign", sig)]
    os.makedirs(os.path.join(HERE, "vectors"), exist_ok=True)
    with open(os.path.join(HERE, "vectors", "alipay_notify_body.txt"), "wb") as f:
        f.write(body_of(pairs))
    with open(os.path.join(HERE, "vectors", "alipay_public_key.b64"), "w") as f:
        f.write(pub_b64 + "\n")


def cases():
    vector()
    notify("success")
    notify("finished", change={"trade_status": "TRADE_FINISHED", "notify_time": "2024-05-01 18:20:30"})
    notify("pending", change={"trade_status": "WAIT_BUYER_PAY"},
           drop=("gmt_payment", "fund_bill_list", "receipt_amount", "invoice_amount", "buyer_pay_amount", "point_amount"))
    notify("closed", change={"trade_status": "TRADE_CLOSED", "gmt_close": "2024-05-01 18:20:30"},
           drop=("gmt_payment", "fund_bill_list", "receipt_amount", "invoice_amount", "buyer_pay_amount", "point_amount"))
    # The whole trade refunded: TRADE_CLOSED with refund_fee (gmt_refund with milliseconds).
    notify("refund_full", change={"trade_status": "TRADE_CLOSED", "refund_fee": "88.88",
                                  "gmt_refund": "2024-05-01 18:20:27.467", "gmt_close": "2024-05-01 18:20:28",
                                  "out_biz_no": "RF-20240501-0001", "notify_time": "2024-05-01 18:20:30"})
    # A part of it refunded: TRADE_SUCCESS with refund_fee, the total refunded so far.
    notify("refund_partial", change={"refund_fee": "20.00", "gmt_refund": "2024-05-01 18:20:27.123",
                                     "out_biz_no": "RF-20240501-0002", "notify_time": "2024-05-01 18:20:30"})
    notify("refund_partial_second", change={"refund_fee": "30.00", "gmt_refund": "2024-05-01 18:20:29.001",
                                            "out_biz_no": "RF-20240501-0003", "notify_time": "2024-05-01 18:20:30"})
    notify("trans_currency", change={"trans_currency": "USD", "total_amount": "12.50", "settle_currency": "USD"})
    # A merchant who chose GBK: the values percent-encoded in GBK, signed over the GBK bytes.
    notify("gbk", change={"charset": "gbk", "subject": "语雀空间 500人规模", "body": "会员年费·续订"},
           encoding="gbk", content_type=FORM + "; charset=GBK")
    notify("gb18030", change={"charset": "GB18030", "subject": "𠀀 扩展字 €"}, encoding="gb18030")
    # Spaces sent as + in some values and %20 in others: both decode to a space.
    pairs = fields({"subject": "Café Latte x 2", "body": "a+b & c=d"})
    s = sign(pairs)
    pairs += [("sign_type", "RSA2"), ("sign", s)]
    mixed = b"&".join(urllib.parse.quote(k).encode() + b"=" + (
        urllib.parse.quote(v, safe="") if k in ("subject",) else urllib.parse.quote_plus(v)).encode()
        for k, v in pairs)
    request("spaces", mixed)
    # An empty parameter inside the signature, as Alipay's SDKs verify (k=).
    notify("empty_signed", signed_extra=[("passback_params", "")], with_empty=True)
    notify("no_sign_type", sign_type=None)
    notify("old_key", signer="old")
    notify("second_app", change={"app_id": SECOND_APP_ID, "auth_app_id": SECOND_APP_ID})
    notify("unmapped_status", change={"trade_status": "TRADE_PENDING_REVIEW"}, drop=("out_trade_no",))
    notify("no_content_type_charset", content_type=FORM)

    # Rejected.
    notify("tampered", after_sign={"total_amount": "0.01"})
    notify("wrong_key", signer="other")
    notify("rsa1", sign_type="RSA", digest=hashes.SHA1())
    notify("md5_sign_type", sign_type="MD5")
    notify("other_app", change={"app_id": OTHER_APP_ID, "auth_app_id": OTHER_APP_ID})
    notify("no_app_id", drop=("app_id",))
    request("missing_sign", body_of(fields() + [("sign_type", "RSA2")]))
    request("empty_sign", body_of(fields() + [("sign_type", "RSA2"), ("sign", "")]))
    request("sign_not_base64", body_of(fields() + [("sign_type", "RSA2"), ("sign", "not*base64*at*all")]))
    notify("unsigned_param", extra=[("refund_fee", "88.88")])
    # Empty parameters added after Alipay signed (outside the text PRODUCT.md
    # signs, but Alipay's SDKs verify empty parameters as k=).
    notify("empty_unsigned", extra=[("refund_fee", ""), ("passback_params", "")])
    # A captured partial refund regrouped: refund_fee merged into the value
    # of receipt_amount, the field before it in the signed text. The text,
    # and so the signature, are Alipay's; without refund_fee it would read
    # as another "succeeded" payment.
    pairs = fields({"refund_fee": "20.00", "gmt_refund": "2024-05-01 18:20:27.123",
                    "out_biz_no": "RF-20240501-0002", "notify_time": "2024-05-01 18:20:30"})
    s = sign(pairs)
    merged = [(k, v + "&refund_fee=20.00" if k == "receipt_amount" else v) for k, v in pairs if k != "refund_fee"]
    assert content(merged, "utf-8") == content(pairs, "utf-8")
    request("regrouped_merge", body_of(merged + [("sign_type", "RSA2"), ("sign", s)]))
    # Signed over the UTF-8 bytes, sent as GBK: not what Alipay signed.
    notify("other_charset", change={"charset": "gbk"}, encoding="utf-8", body_encoding="gbk")
    notify("invalid_utf8", change={"subject": "语雀"}, encoding="gbk", body_encoding="gbk")
    request("invalid_gbk", body_of(fields({"charset": "gbk"}) + [("sign", "AAAA")]).replace(
        b"subject=", b"subject=%81%20"))
    notify("unknown_charset", change={"charset": "big5", "subject": "order"}, encoding="ascii")
    request("duplicate_name", body_of(fields() + [("sign_type", "RSA2"), ("sign", sign(fields()))]) +
            b"&trade_status=TRADE_SUCCESS")
    notify("meeting_names", signed_extra=[("Trade_Status", "WAIT_BUYER_PAY")])
    notify("bracket_name", signed_extra=[("trade_status[x]", "1")])
    notify("no_out_trade_no", drop=("out_trade_no",))
    notify("no_trade_no", drop=("trade_no",))
    notify("no_trade_status", drop=("trade_status",))
    notify("bad_refund_fee", change={"refund_fee": "1,00", "gmt_refund": "2024-05-01 18:20:27"})
    notify("bad_amount", change={"total_amount": "88.888.8"})
    notify("query_shadow", target="/notify/alipay?trade_status=TRADE_SUCCESS")
    notify("get", method="GET")
    notify("json_type", content_type="application/json")
