package standin

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"maps"
	"net/http"
)

// octopus' order/get ("Order Inquiry", seed 003): POST of
// {"merchant_order_id":…} with OC-Key and OC-Signature, the hex
// HMAC-SHA256 of "merchant_order_id=<id>" keyed with the API secret; the
// answer {"result":"success","data":<the order>}, errors
// {"result":"error","data":…}.

func init() {
	routes = append(routes, func(a *API, mux *http.ServeMux) {
		mux.HandleFunc("POST /octopus/order/get", a.octopusOrderGet)
	})
}

type octopusState struct {
	key, secret string
	orders      map[string]map[string]any
}

func (a *API) octopus() *octopusState {
	return state(a, "octopus", func() *octopusState { return &octopusState{orders: map[string]map[string]any{}} })
}

// SetOctopusCredentials sets the API key (OC-Key) and secret that order/get
// checks a call against.
func (a *API) SetOctopusCredentials(key, secret string) {
	s := a.octopus()
	a.mu.Lock()
	defer a.mu.Unlock()
	s.key, s.secret = key, secret
}

// AddOctopusOrder registers an order (its fields as order/get returns them,
// merchant_order_id among them), replacing one with the same id.
func (a *API) AddOctopusOrder(order map[string]any) {
	s := a.octopus()
	id, _ := order["merchant_order_id"].(string)
	a.mu.Lock()
	defer a.mu.Unlock()
	s.orders[id] = maps.Clone(order)
}

// OctopusNotFound is the answer for an order the stand-in does not know.
// The seed documents no answer of its own for that case; the gateway
// answers its errors this way.
const OctopusNotFound = `{"result":"error","data":"order not found"}`

func (a *API) octopusOrderGet(w http.ResponseWriter, r *http.Request) {
	f := a.call("octopus")
	if a.misbehave(w, r, f) {
		return
	}
	w.Header().Set("Content-Type", "application/json")
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	var req struct {
		MerchantOrderID string `json:"merchant_order_id"`
	}
	if err != nil || json.Unmarshal(body, &req) != nil || req.MerchantOrderID == "" {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, `{"result":"error","data":{"error":"Invalid parameters","details":"The 'merchant_order_id' field is required."}}`)
		return
	}
	s := a.octopus()
	a.mu.Lock()
	key, secret := s.key, s.secret
	order := maps.Clone(s.orders[req.MerchantOrderID])
	a.mu.Unlock()

	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte("merchant_order_id=" + req.MerchantOrderID))
	given, _ := hex.DecodeString(r.Header.Get("OC-Signature"))
	if key == "" || !hmac.Equal([]byte(r.Header.Get("OC-Key")), []byte(key)) || !hmac.Equal(given, mac.Sum(nil)) {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = io.WriteString(w, `{"result":"error","data":"invalid OC-Key or OC-Signature"}`)
		return
	}
	switch f {
	case ErrorCode:
		_, _ = io.WriteString(w, `{"result":"error","data":"An error occurred processing your request"}`)
		return
	case Unknown:
		order = nil
	case Lie:
		if order != nil {
			if order["payment_status"] == "completed" {
				order["payment_status"] = "failed"
			} else {
				order["payment_status"] = "completed"
			}
		}
	}
	if order == nil {
		_, _ = io.WriteString(w, OctopusNotFound)
		return
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"result": "success", "data": order})
}
