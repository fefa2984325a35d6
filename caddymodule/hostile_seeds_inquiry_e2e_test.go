package caddymodule_test

// The hostile cases only inquiry catches, for the seed providers oobit and
// octopus: validly signed notifications that getStatus.asp or order/get
// contradicts. Each case registers, in hostileAPI, the genuine transaction
// its forgery contradicts.

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/paynotify/paynotify/internal/standin"
)

const (
	oobitHostileMerchant = "5722306"
	oobitHostileKey      = "oobit-test-hash-key"
)

func init() {
	hostileRoutes = append(hostileRoutes, `
	handle /oobit/inquire {
		paynotify oobit {
			secret oobit-test-hash-key
			merchant_number 5722306
			inquire INQUIRE/oobit/getStatus.asp
			STORE
			dedup_scope oobit-inquire
		}
		reverse_proxy UPSTREAM
	}
	handle /octopus/inquire {
		paynotify octopus {
			secret octopus-test-secret
			key octopus-test-key
			inquire INQUIRE/octopus/order/get
			STORE
			dedup_scope octopus-inquire
		}
		reverse_proxy UPSTREAM
	}
`)
	hostileCatalogue = append(hostileCatalogue,
		hostile{"oobit regrouped approval from an allowed source, inquiry", oobitKnowing(oobitDecline1000,
			fromGolden("oobit/regrouped_into_approval", "/oobit/inquire", nil)), http.StatusUnauthorized},
		hostile{"oobit approval getStatus.asp says is a decline", oobitKnowing(oobitDecline1000,
			signedOobit("/oobit/inquire", map[string]string{"trans_id": "22924", "trans_order": "1000",
				"reply_code": "000", "trans_amount": "9.99", "trans_currency": "USD"})), http.StatusUnauthorized},
		hostile{"oobit amount getStatus.asp contradicts", oobitKnowing(oobitDecline1000,
			signedOobit("/oobit/inquire", map[string]string{"trans_id": "22924", "trans_order": "1000",
				"reply_code": "051", "trans_amount": "99.90", "trans_currency": "USD"})), http.StatusUnauthorized},
		hostile{"oobit currency getStatus.asp contradicts", oobitKnowing(oobitDecline1000,
			signedOobit("/oobit/inquire", map[string]string{"trans_id": "22924", "trans_order": "1000",
				"reply_code": "051", "trans_amount": "9.99", "trans_currency": "EUR"})), http.StatusUnauthorized},
		hostile{"oobit transaction getStatus.asp does not know", oobitKnowing(oobitDecline1000,
			signedOobit("/oobit/inquire", map[string]string{"trans_id": "99999", "trans_order": "1000",
				"reply_code": "000", "trans_amount": "9.99", "trans_currency": "USD"})), http.StatusUnauthorized},
		hostile{"octopus completed, the gateway says failed", octopusKnowing("ORD-H", "failed", "99.50",
			octopusInquiring(octopusValid)), http.StatusUnauthorized},
		hostile{"octopus amount the gateway contradicts", octopusKnowing("ORD-H", "completed", "9.95",
			octopusInquiring(octopusValid)), http.StatusUnauthorized},
		hostile{"octopus currency the gateway contradicts", octopusKnowing("ORD-H", "completed", "99.50",
			octopusInquiring(withField(octopusValid, "currency", "usd"))), http.StatusUnauthorized},
		// The gateway answers an unknown order with its error answer: a
		// failed inquiry, retried, never forwarded.
		hostile{"octopus order the gateway does not know", octopusKnowing("ORD-H", "completed", "99.50",
			octopusInquiring(withField(octopusValid, "merchant_order_id", "ORD-NONE"))), http.StatusServiceUnavailable},
	)
}

// oobitDecline1000 is the golden decline: order 1000, trans_id 22924, 051,
// 9.99 USD.
var oobitDecline1000 = standin.OobitTransaction{Order: "1000", TransID: "22924", ReplyCode: "051",
	ReplyDesc: "Do not honour", Amount: "9.99", Currency: "USD", Date: "11/02/2020 12:40:11"}

// oobitKnowing tells hostileAPI the merchant and txn before building.
func oobitKnowing(txn standin.OobitTransaction, build func(t *testing.T) *http.Request) func(t *testing.T) *http.Request {
	return func(t *testing.T) *http.Request {
		hostileAPI.SetOobitMerchant(oobitHostileMerchant, oobitHostileKey)
		hostileAPI.AddOobitTransaction(txn)
		return build(t)
	}
}

// signedOobit is a GET notification of fields to path, signed with the
// test hash key: base64 SHA-256 of the five values and the key.
func signedOobit(path string, f map[string]string) func(t *testing.T) *http.Request {
	return func(t *testing.T) *http.Request {
		q := url.Values{}
		for k, v := range f {
			q.Set(k, v)
		}
		signed := f["trans_id"] + f["trans_order"] + f["reply_code"] + f["trans_amount"] + f["trans_currency"]
		sum := sha256.Sum256([]byte(signed + oobitHostileKey))
		q.Set("signature", base64.StdEncoding.EncodeToString(sum[:]))
		req, err := http.NewRequest(http.MethodGet, "http://localhost:9080"+path+"?"+q.Encode(), nil)
		require.NoError(t, err)
		return req
	}
}

// octopusKnowing tells hostileAPI the order as the gateway knows it.
func octopusKnowing(order, status, amount string, build func(t *testing.T) *http.Request) func(t *testing.T) *http.Request {
	return func(t *testing.T) *http.Request {
		hostileAPI.SetOctopusCredentials("octopus-test-key", "octopus-test-secret")
		hostileAPI.AddOctopusOrder(map[string]any{"merchant_order_id": order, "payment_status": status,
			"currency": "php", "final_amount": amount})
		return build(t)
	}
}

// octopusInquiring is signedOctopus sent to the inquiring route.
func octopusInquiring(fields map[string]string) func(t *testing.T) *http.Request {
	return func(t *testing.T) *http.Request {
		req := signedOctopus(fields)(t)
		req.URL.Path = "/octopus/inquire"
		return req
	}
}
