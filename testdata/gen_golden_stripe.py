"""Golden requests of the stripe provider (loaded by gen_golden.py).

Stripe-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">, keyed with
the whsec_ secret's own bytes (stripe-go webhook.ComputeSignature). Signed
at 1714558830, a second before the golden clock (2024-05-01T10:20:31Z).
"""
import copy
import hashlib
import hmac
import json

from gen_golden import raw_request, write_bytes

SECRET = "whsec_stripe_test_secret"
OLD_SECRET = "whsec_stripe_old_secret"
T = 1714558830


def sign(secret, t, body):
    return hmac.new(secret.encode(), str(t).encode() + b"." + body, hashlib.sha256).hexdigest()


def event(type_, obj, **top):
    ev = {"id": "evt_1PBr3kLkdIwHu7ix0Xm4c2Ba", "object": "event", "api_version": "2024-04-10",
          "created": 1714558829, "data": {"object": obj}, "livemode": False, "pending_webhooks": 1,
          "request": {"id": "req_NqPzD7sBJzUbYg", "idempotency_key": "6b1c3b3c-0f0e-4bd5-9d55-0d56a8a3c2b7"},
          "type": type_}
    ev.update(top)
    return ev


def payment_intent(**change):
    pi = {"id": "pi_3PBr3jLkdIwHu7ix1k2YhD3F", "object": "payment_intent", "amount": 2000,
          "amount_capturable": 0, "amount_received": 2000, "capture_method": "automatic",
          "currency": "usd", "customer": "cus_Q1uKx9yS3ZxB7v", "last_payment_error": None,
          "latest_charge": "ch_3PBr3jLkdIwHu7ix1ZJ0pQ8S",
          "metadata": {"order_id": "ORD-2024-0501-7", "cart": "c-991"},
          "payment_method": "pm_1PBr3iLkdIwHu7ixq3gN2bqY", "payment_method_types": ["card"],
          "receipt_email": "jenny.rosen@example.com", "status": "succeeded", "cancellation_reason": None}
    pi.update(change)
    return pi


def charge(**change):
    ch = {"id": "ch_3PBr3jLkdIwHu7ix1ZJ0pQ8S", "object": "charge", "amount": 2000, "amount_captured": 2000,
          "amount_refunded": 0, "captured": True, "currency": "usd", "failure_code": None,
          "failure_message": None, "metadata": {"order_id": "ORD-2024-0501-7"}, "paid": True,
          "payment_intent": "pi_3PBr3jLkdIwHu7ix1k2YhD3F",
          "billing_details": {"address": {"country": "US", "postal_code": "94103"},
                              "email": "jenny.rosen@example.com", "name": "Jenny Rosen", "phone": None},
          "payment_method_details": {"card": {"brand": "visa", "last4": "4242", "exp_month": 8,
                                              "exp_year": 2026}, "type": "card"},
          "refunded": False, "status": "succeeded"}
    ch.update(change)
    return ch


def session(**change):
    cs = {"id": "cs_test_a1b2c3d4e5f6g7h8i9j0", "object": "checkout.session", "amount_subtotal": 2000,
          "amount_total": 2200, "client_reference_id": "ORD-2024-0501-8", "currency": "eur",
          "customer_details": {"email": "max@example.com", "name": "Max Mustermann", "phone": "+49 30 1234567",
                               "tax_exempt": "none", "address": {"country": "DE"}},
          "metadata": {}, "mode": "payment", "payment_intent": "pi_3PBr4bLkdIwHu7ix0mJ2a7Qe",
          "payment_status": "paid", "status": "complete"}
    cs.update(change)
    return cs


def stripe_case(name, ev=None, body=None, secret=SECRET, t=T, header=None, content_type="application/json",
                target="/notify/stripe", after_sign=None, extra_headers=None):
    if body is None:
        body = json.dumps(ev, separators=(",", ":"))
    body = body.encode() if isinstance(body, str) else body
    h = {"Content-Type": content_type}
    if header is None:
        header = f"t={t},v1={sign(secret, t, body)}"
    if header is not False:
        h["Stripe-Signature"] = header
    h.update(extra_headers or {})
    if after_sign:
        body = after_sign(body)
    write_bytes("stripe", name, raw_request("POST", target, h, body))


def body_of(ev):
    return json.dumps(ev, separators=(",", ":")).encode()


def cases():
    # Accepted: one per mapped type, the checkout session's two outcomes,
    # events that carry no order, and the header's variants.
    stripe_case("payment_intent_succeeded", event("payment_intent.succeeded", payment_intent()))
    stripe_case("payment_intent_processing", event("payment_intent.processing", payment_intent(
        status="processing", amount_received=0, payment_method_types=["sepa_debit"], currency="eur")))
    stripe_case("payment_intent_requires_action", event("payment_intent.requires_action", payment_intent(
        status="requires_action", amount_received=0)))
    stripe_case("payment_intent_amount_capturable_updated", event(
        "payment_intent.amount_capturable_updated", payment_intent(
            status="requires_capture", capture_method="manual", amount_capturable=2000, amount_received=0)))
    stripe_case("payment_intent_payment_failed", event("payment_intent.payment_failed", payment_intent(
        status="requires_payment_method", amount_received=0, last_payment_error={
            "code": "card_declined", "decline_code": "insufficient_funds", "type": "card_error",
            "message": "Your card has insufficient funds."})))
    stripe_case("payment_intent_canceled", event("payment_intent.canceled", payment_intent(
        status="canceled", amount_received=0, cancellation_reason="abandoned")))
    stripe_case("charge_succeeded", event("charge.succeeded", charge()))
    stripe_case("charge_failed", event("charge.failed", charge(
        status="failed", paid=False, captured=False, amount_captured=0, failure_code="card_declined",
        failure_message="Your card was declined.")))
    stripe_case("charge_refunded", event("charge.refunded", charge(amount_refunded=2000, refunded=True)))
    # charge.refunded is sent for a partial refund too: the amount is what was refunded.
    stripe_case("charge_partially_refunded", event("charge.refunded", charge(amount_refunded=500, refunded=False)))
    # A session that needed no payment (a trial, a 100 % discount) is complete.
    stripe_case("checkout_session_no_payment_required", event("checkout.session.completed", session(
        payment_status="no_payment_required", amount_total=0, payment_intent=None)))
    stripe_case("charge_dispute_created", event("charge.dispute.created", {
        "id": "dp_1PBr6dLkdIwHu7ixH7p0kGc1", "object": "dispute", "amount": 2000, "currency": "usd",
        "charge": "ch_3PBr3jLkdIwHu7ix1ZJ0pQ8S", "payment_intent": "pi_3PBr3jLkdIwHu7ix1k2YhD3F",
        "metadata": {}, "reason": "fraudulent", "status": "needs_response"}))
    stripe_case("checkout_session_completed", event("checkout.session.completed", session()))
    stripe_case("checkout_session_completed_unpaid", event("checkout.session.completed", session(
        payment_status="unpaid", payment_intent="pi_3PBr4bLkdIwHu7ix0mJ2a7Qf")))
    stripe_case("checkout_session_async_payment_succeeded", event(
        "checkout.session.async_payment_succeeded", session()))
    stripe_case("checkout_session_async_payment_failed", event(
        "checkout.session.async_payment_failed", session(payment_status="unpaid")))
    stripe_case("checkout_session_expired", event("checkout.session.expired", session(
        payment_status="unpaid", status="expired", payment_intent=None)))
    invoice = {"id": "in_1PBr7xLkdIwHu7ixW5dD8tVb", "object": "invoice", "amount_due": 1500,
               "amount_paid": 1500, "amount_remaining": 0, "currency": "gbp", "customer_email": "ops@example.co.uk",
               "metadata": {"order_id": "SUB-ORD-42"}, "payment_intent": "pi_3PBr7yLkdIwHu7ix0Qw2Ee5r",
               "status": "paid", "subscription": "sub_1PBr7wLkdIwHu7ixzP1z8V2n", "total": 1500}
    stripe_case("invoice_paid", event("invoice.paid", invoice))
    stripe_case("invoice_payment_failed", event("invoice.payment_failed", dict(
        invoice, amount_paid=0, amount_remaining=1500, status="open")))
    # Not payment events: forwarded as unknown, without an order.
    stripe_case("customer_created", event("customer.created", {
        "id": "cus_Q1uKx9yS3ZxB7v", "object": "customer", "email": "jenny.rosen@example.com",
        "metadata": {}, "name": "Jenny Rosen"}))
    # billing.credit_grant's amount is an object, not a number.
    stripe_case("credit_grant_created", event("billing.credit_grant.created", {
        "id": "credgr_test_61R9", "object": "billing.credit_grant",
        "amount": {"monetary": {"currency": "usd", "value": 1000}, "type": "monetary"},
        "category": "promotional", "customer": "cus_Q1uKx9yS3ZxB7v"}))
    # A thin event notification (event destinations, API v2): the same
    # signature; no data, created in RFC 3339, the app fetches the event.
    stripe_case("thin_event", body=json.dumps({
        "id": "evt_test_65R9Ijk8dPHzMlyCsMB16Rk1aCSQgA1hCeLdFsU0DhAM", "object": "v2.core.event",
        "type": "v1.billing.meter.error_report_triggered", "livemode": False,
        "created": "2024-05-01T10:20:29.123Z",
        "related_object": {"id": "mtr_test_61R9", "type": "billing.meter",
                           "url": "/v1/billing/meters/mtr_test_61R9"}}, separators=(",", ":")))
    # Amounts: zero-decimal JPY; ISK, zero-decimal in ISO 4217, sent by
    # Stripe as a two-decimal amount.
    stripe_case("jpy", event("payment_intent.succeeded", payment_intent(amount=1500, amount_received=1500,
                                                                       currency="jpy")))
    stripe_case("isk", event("payment_intent.succeeded", payment_intent(amount=150000, amount_received=150000,
                                                                       currency="isk")))
    # Connect: the connected account is the merchant.
    stripe_case("connect_account", event("payment_intent.succeeded", payment_intent(),
                                         account="acct_1PBq9lQ2xYz3AbCd"))
    # Rotation and a rolled secret: the old secret; two v1s of which the
    # second is the configured secret's; a v0 beside.
    stripe_case("old_secret", event("payment_intent.succeeded", payment_intent()), secret=OLD_SECRET)
    b = body_of(event("payment_intent.succeeded", payment_intent()))
    stripe_case("two_v1", body=b, header=f"t={T},v1={sign('whsec_another_endpoint', T, b)},v1={sign(SECRET, T, b)}")
    stripe_case("with_v0_and_bad_v1", body=b,
                header=f"t={T},v1=not-hex,v1={sign(SECRET, T, b)},v0={sign('whsec_v0', T, b)}")
    stripe_case("uppercase_hex", body=b, header=f"t={T},v1={sign(SECRET, T, b).upper()}")
    stripe_case("pretty_body", body=json.dumps(event("payment_intent.succeeded", payment_intent()), indent=2))
    stripe_case("merchant_query", body=b, target="/notify/stripe?token=abc")

    # Rejected.
    stripe_case("tampered", body=b, after_sign=lambda x: x.replace(b'"amount":2000', b'"amount":9000'))
    stripe_case("wrong_secret", body=b, secret="whsec_not_the_secret")
    stripe_case("unsigned", body=b, header=False)
    stripe_case("empty_header", body=b, header="")
    stripe_case("no_t", body=b, header=f"v1={sign(SECRET, T, b)}")
    stripe_case("two_t", body=b, header=f"t={T},t={T + 1},v1={sign(SECRET, T, b)}")
    stripe_case("t_not_digits", body=b, header=f"t=+{T},v1={sign(SECRET, T, b)}")
    stripe_case("only_v0", body=b, header=f"t={T},v0={sign(SECRET, T, b)}")
    stripe_case("v1_not_hex", body=b, header=f"t={T},v1=" + "zz" * 32)
    stripe_case("v1_truncated", body=b, header=f"t={T},v1={sign(SECRET, T, b)[:32]}")
    stripe_case("upper_case_names", body=b, header=f"T={T},V1={sign(SECRET, T, b)}")
    stripe_case("spaces", body=b, header=f"t={T}, v1={sign(SECRET, T, b)}")
    stripe_case("element_without_value", body=b, header=f"t={T},v1={sign(SECRET, T, b)},x")
    stripe_case("too_old", body=b, t=T - 301)
    stripe_case("in_future", body=b, t=T + 302)
    stripe_case("duplicate_key", body='{"id":"evt_dup","object":"event","type":"payment_intent.payment_failed",'
                '"type":"payment_intent.succeeded","data":{"object":{"id":"pi_1","amount":100,"currency":"usd",'
                '"metadata":{"order_id":"ORD-1"}}}}')
    stripe_case("case_folded_key", body='{"id":"evt_dup","object":"event","type":"payment_intent.payment_failed",'
                '"Type":"payment_intent.succeeded","data":{"object":{"id":"pi_1","amount":100,"currency":"usd",'
                '"metadata":{"order_id":"ORD-1"}}}}')
    stripe_case("invalid_utf8", body=b'{"id":"evt_u","object":"event","type":"payment_intent.succeeded",'
                b'"data":{"object":{"id":"pi_1","amount":100,"currency":"usd","metadata":{"order_id":"ORD-\xff"}}}}')
    stripe_case("missing_order", event("payment_intent.succeeded", payment_intent(metadata={})))
    no_id = event("payment_intent.succeeded", payment_intent())
    del no_id["id"]
    stripe_case("missing_id", no_id)
    no_type = event("payment_intent.succeeded", payment_intent())
    del no_type["type"]
    stripe_case("missing_type", no_type)
    # A succeeded PaymentIntent's amount is amount_received.
    stripe_case("amount_as_string", event("payment_intent.succeeded", payment_intent(amount_received="2000")))
    stripe_case("fractional_amount", body=b.replace(b'"amount_received":2000', b'"amount_received":20.5'))
    stripe_case("form_content_type", body=b, content_type="application/x-www-form-urlencoded")
    stripe_case("query_shadows_type", body=b, target="/notify/stripe?type=charge.succeeded")
    stripe_case("two_headers", body=b, extra_headers={"stripe-signature": f"t={T},v1={sign(SECRET, T, b)}"})

    # The derived vector of NOTES.md (stripe-go's algorithm, secret
    # whsec_test_secret), with its header as computed there: at its own
    # clock (t=1700000000) it passes the signature; it has no type.
    vector = b'{\n  "id": "evt_test_webhook",\n  "object": "event"\n}'
    stripe_case("derived_vector", body=vector,
                header="t=1700000000,v1=4f1cd7feda9826e746b7d482c4badebb657398df1099e1046364f6196a230150")
    assert sign("whsec_test_secret", 1700000000, vector) == \
        "4f1cd7feda9826e746b7d482c4badebb657398df1099e1046364f6196a230150"
