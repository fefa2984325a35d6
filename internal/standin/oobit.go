package standin

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"net/http"
)

// oobit's getStatus.asp (seed 004): GET ?Order=&CompanyNum=&signature=,
// the signature the base64 SHA-256 of CompanyNum + Order + the merchant
// hash key; the answer lists every transaction of the order.

func init() {
	routes = append(routes, func(a *API, mux *http.ServeMux) {
		mux.HandleFunc("GET /oobit/getStatus.asp", a.oobitStatus)
	})
}

// OobitTransaction is one transaction getStatus.asp knows.
type OobitTransaction struct {
	Order     string // the merchant's order id (trans_order)
	TransID   string
	ReplyCode string // 000 approved, 553 pending, others declines
	ReplyDesc string
	Amount    string // as Oobit writes it, e.g. "7.23"
	Currency  string // ISO code, e.g. "USD"
	Date      string // dd/MM/yyyy HH:mm:ss, GMT
	Email     string
}

type oobitState struct {
	companyNum, hashKey string
	byOrder             map[string][]OobitTransaction
}

func (a *API) oobit() *oobitState {
	return state(a, "oobit", func() *oobitState { return &oobitState{byOrder: map[string][]OobitTransaction{}} })
}

// SetOobitMerchant sets the merchant number (CompanyNum) and hash key that
// getStatus.asp checks a call against.
func (a *API) SetOobitMerchant(companyNum, hashKey string) {
	s := a.oobit()
	a.mu.Lock()
	defer a.mu.Unlock()
	s.companyNum, s.hashKey = companyNum, hashKey
}

// AddOobitTransaction registers a transaction of an order; an order may
// have several (a decline, then an approval). A transaction registered
// again (same order and TransID) replaces the earlier one: its status
// changed.
func (a *API) AddOobitTransaction(t OobitTransaction) {
	s := a.oobit()
	a.mu.Lock()
	defer a.mu.Unlock()
	for i, known := range s.byOrder[t.Order] {
		if known.TransID == t.TransID {
			s.byOrder[t.Order][i] = t
			return
		}
	}
	s.byOrder[t.Order] = append(s.byOrder[t.Order], t)
}

func (a *API) oobitStatus(w http.ResponseWriter, r *http.Request) {
	f := a.call("oobit")
	if a.misbehave(w, r, f) {
		return
	}
	q := r.URL.Query()
	order, companyNum, signature := q.Get("Order"), q.Get("CompanyNum"), q.Get("signature")
	s := a.oobit()
	a.mu.Lock()
	wantNum, key := s.companyNum, s.hashKey
	txns := append([]OobitTransaction(nil), s.byOrder[order]...)
	a.mu.Unlock()

	sum := sha256.Sum256([]byte(companyNum + order + key))
	want := base64.StdEncoding.EncodeToString(sum[:])
	if wantNum == "" || companyNum != wantNum || order == "" ||
		subtle.ConstantTimeCompare([]byte(signature), []byte(want)) != 1 {
		oobitAnswer(w, "103", "Failed On Authentication", nil)
		return
	}
	switch f {
	case ErrorCode:
		oobitAnswer(w, "1", "General Error", nil)
		return
	case Unknown:
		txns = nil
	}
	data := make([]map[string]string, 0, len(txns))
	for _, t := range txns {
		if f == Lie {
			if t.ReplyCode == "000" {
				t.ReplyCode, t.ReplyDesc = "051", "Insufficient funds"
			} else {
				t.ReplyCode, t.ReplyDesc = "000", "SUCCESS"
			}
		}
		data = append(data, map[string]string{
			"replyCode": t.ReplyCode, "replyDesc": t.ReplyDesc, "trans_id": t.TransID, "trans_date": t.Date,
			"merchantID": companyNum, "trans_amount": t.Amount, "trans_currency": t.Currency,
			"trans_installments": "1", "client_email": t.Email,
		})
	}
	oobitAnswer(w, "0", "SUCCESS", data)
}

func oobitAnswer(w http.ResponseWriter, code, message string, data []map[string]string) {
	if data == nil {
		data = []map[string]string{}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"error": code, "message": message, "data": data})
}
