"""Golden requests of the wechatpay provider (loaded by gen_golden.py).

WeChat Pay API v3 (wechatpay-go core/notify, core/auth/validators): the body's
resource is AES-256-GCM encrypted with the merchant's 32-byte APIv3 key (nonce
= resource.nonce's 12 bytes, AAD = associated_data), and Wechatpay-Signature
is the base64 SHA256withRSA (PKCS #1 v1.5) signature of
"<Wechatpay-Timestamp>\\n<Wechatpay-Nonce>\\n<body>\\n" with the platform key
that Wechatpay-Serial names. Signed here with the test key pair in
testdata/wechatpay/keys/ (not WeChat Pay's), at 1714558830, a second before
the golden clock (2024-05-01T10:20:31Z).
"""
import base64
import json
import os

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from gen_golden import raw_request, write_bytes

HERE = os.path.dirname(os.path.abspath(__file__))
APIV3_KEY = b"wechatpay-test-apiv3-key-32bytes"  # 32 bytes: AES-256
assert len(APIV3_KEY) == 32
SERIAL = "PUB_KEY_ID_0112345678901234567890"
ROTATED_SERIAL = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"
T = 1714558830
NONCE = "5K8264ILTKCH16CQ2502SI8ZNMTM67VS"


def key(name):
    with open(os.path.join(HERE, "wechatpay", "keys", name), "rb") as f:
        return serialization.load_pem_private_key(f.read(), password=None)


def sign(private_key, ts, nonce, body):
    msg = f"{ts}\n{nonce}\n".encode() + body + b"\n"
    return base64.b64encode(private_key.sign(msg, padding.PKCS1v15(), hashes.SHA256())).decode()


def encrypt(plaintext, aad, nonce="fdasflkja484", apiv3_key=APIV3_KEY):
    if isinstance(plaintext, dict):
        plaintext = json.dumps(plaintext, separators=(",", ":"), ensure_ascii=False)
    if isinstance(plaintext, str):
        plaintext = plaintext.encode()
    return base64.b64encode(AESGCM(apiv3_key).encrypt(nonce.encode(), plaintext, aad.encode())).decode()


def transaction(**change):
    tx = {"mchid": "1900000109", "appid": "wxd678efh567hg6787", "out_trade_no": "1217752501201407033233368018",
          "transaction_id": "4200002210202405011234567890", "trade_type": "JSAPI", "trade_state": "SUCCESS",
          "trade_state_desc": "支付成功", "bank_type": "CMC", "attach": "cart-7",
          "success_time": "2024-05-01T18:20:25+08:00", "payer": {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
          "amount": {"total": 100, "payer_total": 100, "currency": "CNY", "payer_currency": "CNY"}}
    tx.update(change)
    return {k: v for k, v in tx.items() if v is not None}


def refund(**change):
    rf = {"mchid": "1900000109", "transaction_id": "4200002210202405011234567890",
          "out_trade_no": "1217752501201407033233368018", "refund_id": "50300908092024050112345678901",
          "out_refund_no": "RF-1217752501", "refund_status": "SUCCESS", "success_time": "2024-05-01T18:20:20+08:00",
          "user_received_account": "招商银行信用卡0403",
          "amount": {"total": 100, "refund": 40, "payer_total": 100, "payer_refund": 40}}
    rf.update(change)
    return {k: v for k, v in rf.items() if v is not None}


def body(resource_plain, original_type="transaction", event_type="TRANSACTION.SUCCESS", summary="支付成功",
         resource_change=None, ciphertext=None, **top):
    res = {"original_type": original_type, "algorithm": "AEAD_AES_256_GCM",
           "ciphertext": ciphertext or encrypt(resource_plain, original_type),
           "associated_data": original_type, "nonce": "fdasflkja484"}
    res.update(resource_change or {})
    b = {"id": "EV-2018022511223320873", "create_time": "2024-05-01T18:20:28+08:00",
         "resource_type": "encrypt-resource", "event_type": event_type, "summary": summary, "resource": res}
    b.update(top)
    return json.dumps(b, separators=(",", ":"), ensure_ascii=False).encode()


def request(data, ts=T, nonce=NONCE, serial=SERIAL, signer="test.pem", sig=None, headers=None, drop=()):
    h = {"Content-Type": "application/json", "Wechatpay-Timestamp": str(ts), "Wechatpay-Nonce": nonce,
         "Wechatpay-Signature": sig or sign(key(signer), ts, nonce, data), "Wechatpay-Serial": serial,
         "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048",
         "Request-ID": "08F78BB5AF0610D302A2C8C90918B8B5"}
    for name in drop:
        del h[name]
    h.update(headers or {})
    return raw_request("POST", "/notify/wechatpay", h, data)


def cases():
    w = lambda name, data: write_bytes("wechatpay", name, data)
    # accepted
    w("success", request(body(transaction())))
    w("transaction_refund", request(body(transaction(trade_state="REFUND", trade_state_desc="转入退款"),
                                         event_type="TRANSACTION.REFUND", summary="转入退款")))
    w("refund_success", request(body(refund(), "refund", "REFUND.SUCCESS", "退款成功")))
    w("refund_abnormal", request(body(refund(refund_status="ABNORMAL", success_time=None), "refund",
                                      "REFUND.ABNORMAL", "退款异常")))
    w("notpay", request(body(transaction(trade_state="NOTPAY", trade_state_desc="未支付", success_time=None),
                             event_type="TRANSACTION.NOTPAY")))
    w("closed", request(body(transaction(trade_state="CLOSED", trade_state_desc="已关闭", success_time=None),
                             event_type="TRANSACTION.CLOSED")))
    w("payerror", request(body(transaction(trade_state="PAYERROR", trade_state_desc="支付失败，请重新下单支付",
                                           success_time=None), event_type="TRANSACTION.PAYERROR")))
    w("payscore", request(body({"mchid": "1900000109", "appid": "wxd678efh567hg6787",
                                "create_time": "2024-05-01T18:20:00+08:00",
                                "out_contract_code": "21640bdbd08e473e828f3206a2741c6e"},
                               "payscore", "PAYSCORE.USER_OPEN_SERVICE", "签约成功")))
    w("rotated_key", request(body(transaction()), serial=ROTATED_SERIAL, signer="rotated.pem"))
    w("lowercase_serial", request(body(transaction()), serial=ROTATED_SERIAL.lower(), signer="rotated.pem"))
    w("no_signature_type", request(body(transaction()), drop=["Wechatpay-Signature-Type"]))
    w("usd", request(body(transaction(amount={"total": 1050, "currency": "usd"}))))
    w("no_currency", request(body(transaction(amount={"total": 100}))))

    # rejected: signature
    genuine = body(transaction())
    probe = base64.b64encode(bytes(256)).decode()  # a well-formed signature that is not WeChat Pay's
    w("probe", request(genuine, sig=sign(key("test.pem"), T, NONCE, genuine.replace(b"SUCCESS", b"SUCCESs", 1))))
    w("zero_signature", request(genuine, sig=probe))
    tampered = request(genuine)
    w("tampered_body", tampered.replace(b'"event_type":"TRANSACTION.SUCCESS"', b'"event_type":"TRANSACTION.SUCCESX"'))
    w("wrong_key", request(genuine, signer="rotated.pem"))
    w("unknown_serial", request(genuine, serial="PUB_KEY_ID_0199999999999999999999"))
    w("old", request(genuine, ts=T - 301))
    w("future", request(genuine, ts=T + 303))
    w("tampered_timestamp", request(genuine).replace(f"Wechatpay-Timestamp: {T}".encode(),
                                                     f"Wechatpay-Timestamp: {T + 1}".encode()))
    w("tampered_nonce", request(genuine).replace(NONCE.encode(), b"X" + NONCE[1:].encode()))
    w("no_signature", request(genuine, drop=["Wechatpay-Signature"]))
    w("no_serial", request(genuine, drop=["Wechatpay-Serial"]))
    w("no_timestamp", request(genuine, drop=["Wechatpay-Timestamp"]))
    w("no_nonce", request(genuine, drop=["Wechatpay-Nonce"]))
    two = request(genuine).replace(b"Wechatpay-Serial:", b"Wechatpay-Serial: PUB_KEY_ID_0199999999999999999999\r\nWechatpay-Serial:", 1)
    w("two_serials", two)
    w("other_signature_type", request(genuine, headers={"Wechatpay-Signature-Type": "WECHATPAY2-SM2-WITH-SM3"}))
    # rejected: the resource (signed correctly, so only decryption catches it)
    ct = encrypt(transaction(), "transaction")
    raw = bytearray(base64.b64decode(ct))
    raw[5] ^= 1
    w("tampered_ciphertext", request(body(None, ciphertext=base64.b64encode(bytes(raw)).decode())))
    w("tampered_aad", request(body(None, ciphertext=ct, resource_change={"associated_data": "refund"})))
    w("tampered_resource_nonce", request(body(None, ciphertext=ct, resource_change={"nonce": "fdasflkja485"})))
    w("other_apiv3_key", request(body(None, ciphertext=encrypt(transaction(), "transaction",
                                                                apiv3_key=b"another-merchants-apiv3-key-0032"))))
    w("ciphertext_not_base64", request(body(None, ciphertext="not base64!")))
    w("other_algorithm", request(body(transaction(), resource_change={"algorithm": "AEAD_SM4_GCM"})))
    # rejected: signed and decrypted, but malformed
    w("duplicate_key_plaintext", request(body(
        '{"mchid":"1900000109","out_trade_no":"1217752501201407033233368018","trade_state":"PAYERROR",'
        '"trade_state":"SUCCESS","amount":{"total":100,"currency":"CNY"}}')))
    w("case_folded_key_plaintext", request(body(
        '{"mchid":"1900000109","out_trade_no":"1217752501201407033233368018","Trade_State":"PAYERROR",'
        '"trade_state":"SUCCESS","amount":{"total":100,"currency":"CNY"}}')))
    w("plaintext_not_json", request(body("trade_state=SUCCESS")))
    w("duplicate_key_body", request(genuine.replace(b'"id":', b'"id":"EV-other","id":', 1)))
    w("no_out_trade_no", request(body(transaction(out_trade_no=None))))
    w("no_trade_state", request(body(transaction(trade_state=None))))
    w("no_id", request(body(transaction(), id="")))
    w("other_resource_type", request(body(transaction(), resource_type="plain-resource")))
    w("fractional_total", request(body(transaction(amount={"total": 1.5, "currency": "CNY"}))))
    w("form_content_type", request(genuine, headers={"Content-Type": "application/x-www-form-urlencoded"}))
