package standin

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"
)

// Mollie's payments API: GET /mollie/v2/payments/{id} with
// Authorization: Bearer <API key> (docs.mollie.com/reference/get-payment).
// Tests set inquire <stand-in>/mollie.

// MolliePayment is a payment as a test registers it; the stand-in answers
// it in the shape of Mollie's payment object.
type MolliePayment struct {
	ID          string // tr_...
	Status      string // open, pending, authorized, paid, canceled, expired, failed
	Value       string // amount.value, e.g. "10.00"
	Currency    string // amount.currency, e.g. "EUR"
	Description string
	Method      string         // ideal, creditcard, ...
	Metadata    map[string]any // nil: null
	Refunded    string         // amountRefunded.value ("" for "0.00")
	ChargedBack string         // amountChargedBack.value ("": none)
	// CreatedAt is when the payment was created; the status' own time
	// (paidAt, ...) is a minute later. Zero: 2024-05-01T10:19:31Z.
	CreatedAt time.Time
	// FailureReason is details.failureReason of a failed card payment.
	FailureReason string
}

type mollieAccount struct {
	key      string // the API key the payment is asked with
	payments map[string]MolliePayment
}

type mollieState struct {
	accounts map[string]*mollieAccount // by API key
}

func (a *API) mollie() *mollieState {
	return state(a, "mollie", func() *mollieState { return &mollieState{accounts: map[string]*mollieAccount{}} })
}

// AddMolliePayment registers p in the account of apiKey: asked with that
// key, the stand-in answers it.
func (a *API) AddMolliePayment(apiKey string, p MolliePayment) {
	s := a.mollie()
	a.mu.Lock()
	defer a.mu.Unlock()
	acct := s.accounts[apiKey]
	if acct == nil {
		acct = &mollieAccount{key: apiKey, payments: map[string]MolliePayment{}}
		s.accounts[apiKey] = acct
	}
	acct.payments[p.ID] = p
}

func init() {
	routes = append(routes, func(a *API, mux *http.ServeMux) {
		mux.HandleFunc("GET /mollie/v2/payments/{id}", a.molliePayment)
	})
}

func (a *API) molliePayment(w http.ResponseWriter, r *http.Request) {
	f := a.call("mollie")
	if a.misbehave(w, r, f) {
		return
	}
	id := r.PathValue("id")
	key, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	s := a.mollie()
	a.mu.Lock()
	acct := s.accounts[key]
	var p MolliePayment
	var known bool
	if ok && acct != nil {
		p, known = acct.payments[id]
	}
	a.mu.Unlock()
	if !ok || acct == nil {
		mollieError(w, http.StatusUnauthorized, "Unauthorized Request", "Missing authentication, or failed to authenticate", "")
		return
	}
	switch {
	case f == ErrorCode:
		mollieError(w, http.StatusUnprocessableEntity, "Unprocessable Entity", "The payment id is invalid", "id")
		return
	case f == Unknown || !known:
		mollieError(w, http.StatusNotFound, "Not Found", "No payment exists with token "+id+".", "")
		return
	case f == Lie:
		// Another payment's answer, with another status.
		p.ID += "x"
		if p.Status == "paid" {
			p.Status = "failed"
		} else {
			p.Status = "paid"
		}
	}
	w.Header().Set("Content-Type", "application/hal+json")
	_ = json.NewEncoder(w).Encode(molliePaymentObject(p))
}

// molliePaymentObject is p in the shape of Mollie's payment object.
func molliePaymentObject(p MolliePayment) map[string]any {
	created := p.CreatedAt
	if created.IsZero() {
		created = time.Date(2024, 5, 1, 10, 19, 31, 0, time.UTC)
	}
	at := func(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05+00:00") }
	money := func(v string) map[string]any { return map[string]any{"value": v, "currency": p.Currency} }
	self := "https://api.mollie.com/v2/payments/" + p.ID
	o := map[string]any{
		"resource":     "payment",
		"id":           p.ID,
		"mode":         "test",
		"createdAt":    at(created),
		"amount":       money(p.Value),
		"description":  p.Description,
		"method":       nilIfEmpty(p.Method),
		"metadata":     p.Metadata,
		"status":       p.Status,
		"isCancelable": p.Status == "open",
		"profileId":    "pfl_QkEhN94Ba",
		"sequenceType": "oneoff",
		"redirectUrl":  "https://shop.example/order/return",
		"webhookUrl":   "https://shop.example/notify/mollie",
		"_links": map[string]any{
			"self":          map[string]any{"href": self, "type": "application/hal+json"},
			"dashboard":     map[string]any{"href": "https://my.mollie.com/dashboard/org_12345678/payments/" + p.ID, "type": "text/html"},
			"documentation": map[string]any{"href": "https://docs.mollie.com/reference/get-payment", "type": "text/html"},
		},
	}
	switch p.Status {
	case "open":
		o["expiresAt"] = at(created.Add(15 * time.Minute))
	case "paid":
		o["paidAt"] = at(created.Add(time.Minute))
		refunded := p.Refunded
		if refunded == "" {
			refunded = "0.00"
		}
		o["amountRefunded"] = money(refunded)
		o["amountRemaining"] = money(p.Value)
		if p.ChargedBack != "" {
			o["amountChargedBack"] = money(p.ChargedBack)
		}
	case "authorized":
		o["authorizedAt"] = at(created.Add(time.Minute))
	case "canceled":
		o["canceledAt"] = at(created.Add(time.Minute))
	case "expired":
		o["expiredAt"] = at(created.Add(time.Minute))
	case "failed":
		o["failedAt"] = at(created.Add(time.Minute))
		if p.FailureReason != "" {
			o["details"] = map[string]any{"failureReason": p.FailureReason, "failureMessage": "The card was declined"}
		}
	}
	return o
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// mollieError answers Mollie's error object (application/hal+json).
func mollieError(w http.ResponseWriter, status int, title, detail, field string) {
	e := map[string]any{
		"status": status, "title": title, "detail": detail,
		"_links": map[string]any{"documentation": map[string]any{
			"href": "https://docs.mollie.com/overview/handling-errors", "type": "text/html"}},
	}
	if field != "" {
		e["field"] = field
	}
	w.Header().Set("Content-Type", "application/hal+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(e)
}
