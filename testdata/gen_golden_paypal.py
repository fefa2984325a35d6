"""PayPal REST webhook golden requests. PayPal signs each transmission with
RSA PKCS#1 v1.5 / SHA-256 over
    <PAYPAL-TRANSMISSION-ID>|<PAYPAL-TRANSMISSION-TIME>|<webhook id>|<crc32(body)>
(the CRC-32 of the body's bytes as an unsigned decimal; PayPal-Java-SDK
Event.validateReceivedEvent), verified with the certificate at
PAYPAL-CERT-URL. These are signed here with a test key whose self-signed
certificate is testdata/paypal/golden_cert.pem; the Go tests register it in
the stand-in PayPal API under CERT_URL, which verifies like PayPal.

The keys are made once (with the cryptography module) and kept in
testdata/paypal/, so that the requests are the same on every run (PKCS#1
v1.5 signatures are deterministic). Loaded by gen_golden.py."""
import base64
import copy
import datetime
import json
import uuid
import os
import zlib

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from gen_golden import raw_request, write_bytes

HERE = os.path.dirname(os.path.abspath(__file__))
DIR = os.path.join(HERE, "paypal")

WEBHOOK_ID = "8PT597110X687430LKGECATA"
CERT_URL = "https://api.sandbox.paypal.com/v1/notifications/certs/CERT-360caa42-fca2a594-golden01"
TIME = "2024-05-01T10:20:30Z"

# PayPal's official offline vector (PayPal-Java-SDK ValidateCertTest.java);
# the body, signature and sandbox certificate are in testdata/vectors/.
VECTOR_ID = "071f7d20-1584-11e7-abf0-6b62a8a99ac4"
VECTOR_TIME = "2017-03-30T20:04:05Z"
VECTOR_CERT_URL = "https://api.sandbox.paypal.com/v1/notifications/certs/CERT-testClientCert"


def load_key(name):
    """The RSA key testdata/paypal/<name>.pem, made on first use."""
    path = os.path.join(DIR, name + ".pem")
    if os.path.exists(path):
        with open(path, "rb") as f:
            return serialization.load_pem_private_key(f.read(), password=None)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    os.makedirs(DIR, exist_ok=True)
    with open(path, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                  serialization.NoEncryption()))
    return key


def write_cert(key):
    """golden_cert.pem: a self-signed certificate of key, named like PayPal's."""
    path = os.path.join(DIR, "golden_cert.pem")
    if os.path.exists(path):
        return
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "messageverificationcerts.sandbox.paypal.com"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "paynotify golden tests")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(20240501).not_valid_before(datetime.datetime(2024, 1, 1))
            .not_valid_after(datetime.datetime(2034, 1, 1)).sign(key, hashes.SHA256()))
    with open(path, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))


def signed_string(tid, ttime, webhook_id, body):
    return f"{tid}|{ttime}|{webhook_id}|{zlib.crc32(body) & 0xffffffff}".encode()


def sign(key, tid, ttime, webhook_id, body):
    return base64.b64encode(key.sign(signed_string(tid, ttime, webhook_id, body), padding.PKCS1v15(),
                                     hashes.SHA256())).decode()


CAPTURE = {
    "id": "2GG279541U471931P", "status": "COMPLETED",
    "amount": {"currency_code": "USD", "value": "10.50"},
    "final_capture": True,
    "seller_protection": {"status": "ELIGIBLE", "dispute_categories": ["ITEM_NOT_RECEIVED", "UNAUTHORIZED_TRANSACTION"]},
    "seller_receivable_breakdown": {"gross_amount": {"currency_code": "USD", "value": "10.50"},
                                    "paypal_fee": {"currency_code": "USD", "value": "0.80"},
                                    "net_amount": {"currency_code": "USD", "value": "9.70"}},
    "invoice_id": "ORD-20240501-0042", "custom_id": "cart-7781",
    "supplementary_data": {"related_ids": {"order_id": "5O190127TN364715T"}},
    "payee": {"email_address": "merchant@example.com", "merchant_id": "7KNGBPH2U58GQ"},
    "create_time": "2024-05-01T10:20:27Z", "update_time": "2024-05-01T10:20:27Z",
    "links": [{"href": "https://api.paypal.com/v2/payments/captures/2GG279541U471931P", "rel": "self", "method": "GET"}],
}


def event(event_type, resource, resource_type="capture", summary="Payment completed for $ 10.50 USD", **top):
    ev = {"id": "WH-58D329510W468432D-8HN650336L201105X", "event_version": "1.0",
          "create_time": "2024-05-01T10:20:29.613Z", "resource_type": resource_type, "resource_version": "2.0",
          "event_type": event_type, "summary": summary, "resource": resource,
          "links": [{"href": "https://api.paypal.com/v1/notifications/webhooks-events/WH-58D329510W468432D-8HN650336L201105X",
                     "rel": "self", "method": "GET"}]}
    ev.update(top)
    return {k: v for k, v in ev.items() if v is not None}


def capture(**change):
    c = copy.deepcopy(CAPTURE)
    c.update(change)
    return {k: v for k, v in c.items() if v is not None}


def compact(obj):
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def case(name, ev=None, body=None, key=None, webhook_id=WEBHOOK_ID, tid=None,
         ttime=TIME, cert_url=CERT_URL, algo="SHA256withRSA", sig=None, headers=None, drop=(), after_sign=None,
         content_type="application/json", target="/notify/paypal", method="POST"):
    if tid is None:
        # Each delivery attempt is a transmission of its own, with its own
        # id: paynotify refuses a transmission id seen with another body.
        tid = str(uuid.uuid5(uuid.NAMESPACE_URL, "paynotify-golden/paypal/" + name))
    if body is None:
        body = compact(ev)
    elif isinstance(body, str):
        body = body.encode()
    if sig is None:
        sig = sign(key or GOLDEN, tid, ttime, webhook_id, body)
    h = {"Content-Type": content_type, "PAYPAL-TRANSMISSION-ID": tid, "PAYPAL-TRANSMISSION-TIME": ttime,
         "PAYPAL-TRANSMISSION-SIG": sig, "PAYPAL-AUTH-ALGO": algo, "PAYPAL-CERT-URL": cert_url}
    for d in drop:
        h.pop(d)
    h.update(headers or {})
    if after_sign:
        body = after_sign(body)
    write_bytes("paypal", name, raw_request(method, target, h, body))


GOLDEN = None


def cases():
    global GOLDEN
    GOLDEN = load_key("golden_key")
    write_cert(GOLDEN)
    forger = load_key("forger_key")

    # The official vector, as PayPal sent it.
    with open(os.path.join(HERE, "vectors", "paypal_event_body.json"), "rb") as f:
        vector_body = f.read()
    with open(os.path.join(HERE, "vectors", "paypal_transmission_sig.b64")) as f:
        vector_sig = f.read().strip()
    case("vector_official", body=vector_body, tid=VECTOR_ID, ttime=VECTOR_TIME, cert_url=VECTOR_CERT_URL,
         sig=vector_sig)

    # Accepted.
    done = event("PAYMENT.CAPTURE.COMPLETED", capture())
    case("capture_completed", done)
    case("capture_custom_id", event("PAYMENT.CAPTURE.COMPLETED", capture(invoice_id=None, custom_id="ORD-CUSTOM-7")))
    case("capture_paypal_order_id", event("PAYMENT.CAPTURE.COMPLETED", capture(invoice_id=None, custom_id=None)))
    case("capture_pending", event("PAYMENT.CAPTURE.PENDING", capture(
        status="PENDING", status_details={"reason": "PENDING_REVIEW"}), summary="Payment pending for $ 10.50 USD"))
    case("capture_denied", event("PAYMENT.CAPTURE.DENIED", capture(
        status="DECLINED", status_details={"reason": "BUYER_COMPLAINT"}), summary="A payment capture was denied"))
    case("capture_declined", event("PAYMENT.CAPTURE.DECLINED", capture(status="DECLINED"),
                                   summary="A payment capture was declined"))
    case("capture_refunded", event("PAYMENT.CAPTURE.REFUNDED", {
        "id": "1JU08902781691411", "status": "COMPLETED", "amount": {"value": "4.00", "currency_code": "USD"},
        "invoice_id": "ORD-20240501-0042", "custom_id": "cart-7781", "note_to_payer": "Returned goods",
        "seller_payable_breakdown": {"gross_amount": {"value": "4.00", "currency_code": "USD"},
                                     "net_amount": {"value": "3.70", "currency_code": "USD"}},
        "payer": {"email_address": "merchant@example.com", "merchant_id": "7KNGBPH2U58GQ"},
        "create_time": "2024-05-01T10:20:21-07:00", "update_time": "2024-05-01T10:20:21-07:00"},
        resource_type="refund", summary="A $ 4.00 USD capture payment was refunded"))
    order = {"id": "5O190127TN364715T", "intent": "CAPTURE", "status": "APPROVED",
             "purchase_units": [{"reference_id": "default", "amount": {"currency_code": "EUR", "value": "25.00"},
                                 "payee": {"email_address": "merchant@example.com", "merchant_id": "7KNGBPH2U58GQ"}}],
             "payer": {"name": {"given_name": "John", "surname": "Doe"}, "email_address": "buyer@example.com",
                       "payer_id": "QYR5Z8XDVJNXQ"},
             "create_time": "2024-05-01T10:19:58Z"}
    case("order_approved", event("CHECKOUT.ORDER.APPROVED", order, resource_type="checkout-order",
                                 summary="An order has been approved by buyer"))
    order_inv = copy.deepcopy(order)
    order_inv["purchase_units"][0]["invoice_id"] = "ORD-20240501-0050"
    case("order_approved_invoice_id", event("CHECKOUT.ORDER.APPROVED", order_inv, resource_type="checkout-order",
                                            summary="An order has been approved by buyer"))
    auth = {"id": "0VF52814937998046", "status": "CREATED", "amount": {"value": "10.50", "currency_code": "USD"},
            "invoice_id": "ORD-20240501-0042", "expiration_time": "2024-05-30T10:20:27Z",
            "supplementary_data": {"related_ids": {"order_id": "5O190127TN364715T"}},
            "create_time": "2024-05-01T10:20:27Z"}
    case("authorization_created", event("PAYMENT.AUTHORIZATION.CREATED", auth, resource_type="authorization",
                                        summary="A payment authorization was created"))
    case("authorization_voided", event("PAYMENT.AUTHORIZATION.VOIDED", dict(auth, status="VOIDED"),
                                       resource_type="authorization", summary="A payment authorization was voided"))
    case("dispute_created", event("CUSTOMER.DISPUTE.CREATED", {
        "dispute_id": "PP-D-27803", "id": "PP-D-27803", "reason": "MERCHANDISE_OR_SERVICE_NOT_RECEIVED",
        "status": "OPEN", "dispute_amount": {"currency_code": "USD", "value": "10.50"},
        "disputed_amount": {"currency_code": "USD", "value": "10.50"},
        "disputed_transactions": [{"seller_transaction_id": "2GG279541U471931P", "invoice_number": "ORD-20240501-0042",
                                   "custom": "cart-7781", "gross_amount": {"currency_code": "USD", "value": "10.50"}}],
        "create_time": "2024-05-01T10:20:00.000Z"}, resource_type="dispute", summary="A new dispute opened"))
    case("sale_completed_v1", event("PAYMENT.SALE.COMPLETED", {
        "id": "80021663DE681814L", "state": "completed", "amount": {"total": "30.11", "currency": "USD",
                                                                     "details": {"subtotal": "30.11"}},
        "payment_mode": "INSTANT_TRANSFER", "parent_payment": "PAY-1PA12106FU478450MKRETS4A",
        "invoice_number": "", "custom": "", "create_time": "2024-05-01T10:20:20Z"},
        resource_type="sale", summary="Payment completed for $ 30.11 USD"))
    case("capture_jpy", event("PAYMENT.CAPTURE.COMPLETED", capture(amount={"currency_code": "JPY", "value": "1200"})))
    # Spaces, line breaks and members in another order: the signature (and
    # PayPal's check) is over the bytes as sent.
    pretty = json.dumps({"summary": done["summary"], "resource": done["resource"], "event_type": done["event_type"],
                         "id": done["id"], "create_time": done["create_time"], "event_version": "1.0",
                         "resource_type": "capture"}, indent=3, separators=(" ,", " :  "))
    case("unusual_spacing", body=pretty)
    # Other header spellings: HTTP header names are case-insensitive.
    case("lower_case_headers", done, tid="8a5b2c10-07a9-11ef-9d2e-2b1f6d3a4c5e", drop=("PAYPAL-TRANSMISSION-ID", "PAYPAL-CERT-URL"),
         headers={"paypal-transmission-id": "8a5b2c10-07a9-11ef-9d2e-2b1f6d3a4c5e", "paypal-cert-url": CERT_URL})

    # Rejected before PayPal is asked.
    for h in ("PAYPAL-TRANSMISSION-ID", "PAYPAL-TRANSMISSION-TIME", "PAYPAL-TRANSMISSION-SIG", "PAYPAL-AUTH-ALGO",
              "PAYPAL-CERT-URL"):
        case("missing_" + h[7:].lower().replace("-", "_"), done, drop=(h,))
    case("empty_transmission_sig", done, sig="")
    case("transmission_sig_not_base64", done, sig="not-base64!!")
    case("cert_url_http", done, cert_url=CERT_URL.replace("https:", "http:"))
    case("cert_url_other_host", done, cert_url="https://api.paypal.com.evil.example/v1/notifications/certs/CERT-1")
    case("cert_url_lookalike", done, cert_url="https://evilpaypal.com/v1/notifications/certs/CERT-1")
    case("cert_url_userinfo", done, cert_url="https://api.paypal.com@evil.example/v1/notifications/certs/CERT-1")
    case("cert_url_port", done, cert_url="https://api.paypal.com:8443/v1/notifications/certs/CERT-1")
    case("cert_url_escaped_host", done, cert_url="https://evil.example%2F.paypal.com/v1/notifications/certs/CERT-1")
    case("missing_id", event("PAYMENT.CAPTURE.COMPLETED", capture(), id=None))
    case("missing_event_type", event(None, capture()))
    case("no_order_id", event("PAYMENT.CAPTURE.COMPLETED", capture(invoice_id=None, custom_id=None,
                                                                   supplementary_data=None)))
    case("amount_not_decimal", event("PAYMENT.CAPTURE.COMPLETED", capture(amount={"currency_code": "USD",
                                                                                   "value": "10,50"})))
    case("duplicate_key", body=compact(done).replace(b'"event_type":', b'"event_type":"PAYMENT.CAPTURE.DENIED","event_type":', 1))
    case("casefold_key", body=compact(done).replace(b'"event_type":', b'"Event_Type":"PAYMENT.CAPTURE.DENIED","event_type":', 1))
    case("invalid_utf8", body=compact(done).replace(b"ORD-20240501-0042", b"ORD-\xff", 1))
    case("form_content_type", done, content_type="application/x-www-form-urlencoded")
    case("query_shadows_field", done, target="/notify/paypal?event_type=PAYMENT.CAPTURE.COMPLETED")
    case("get", done, method="GET")

    # Rejected by PayPal's verify API (FAILURE).
    case("tampered", done, after_sign=lambda b: b.replace(b'"value":"10.50"', b'"value":"90.50"', 1))
    case("wrong_webhook_id", done, webhook_id="1JE4291016473214C")
    case("forged_key", done, key=forger)
    case("reformatted", done, after_sign=lambda b: json.dumps(json.loads(b), indent=1).encode())
    case("signature_of_another_transmission", done,
         sig=sign(GOLDEN, "9b6c3d21-07a9-11ef-9d2e-2b1f6d3a4c5e", TIME, WEBHOOK_ID, compact(done)))
