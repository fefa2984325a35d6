package simulator

import (
	"net/url"
	"strings"

	"github.com/paynotify/paynotify/internal/standin"
)

// InquiryAttacks are the hostile notifications only an inquiry catches: a
// correctly signed notification of a transaction the provider's books do
// not have (made with a leaked key, or regrouped from another one), and one
// whose books say otherwise (an approval of a declined payment).
var InquiryAttacks = []string{"unknown_to_api", "contradicted"}

// InquiryPath is where the simulated provider sends notifications that
// paynotify confirms by asking the stand-in API: /notify/<provider>-inquiry.
func InquiryPath(provider string) string { return "/notify/" + provider + "-inquiry" }

// GenuineInquired builds a genuine notification of provider (oobit) for
// order, sent to InquiryPath, and books its transaction in api, as the
// provider's own books have it.
func GenuineInquired(provider, order string, k Keys, api *standin.API) Message {
	m := Genuine(provider, order, k)
	book(api, m, "")
	m.Path = strings.Replace(m.Path, "/notify/"+provider, InquiryPath(provider), 1)
	return m
}

// HostileInquired builds one of InquiryAttacks: signed with the right key,
// so that only the inquiry can refuse it.
func HostileInquired(provider, order, attack string, k Keys, api *standin.API) Message {
	m := Genuine(provider, order, k)
	switch attack {
	case "contradicted":
		book(api, m, "002") // the provider declined it
	case "unknown_to_api":
	default:
		panic("simulator: unknown inquiry attack " + attack)
	}
	m.Path = strings.Replace(m.Path, "/notify/"+provider, InquiryPath(provider), 1)
	m.Hostile = attack
	return m
}

// book registers m's transaction in api; replyCode, when set, replaces the
// notification's.
func book(api *standin.API, m Message, replyCode string) {
	if m.Provider != "oobit" {
		panic("simulator: no stand-in booking for " + m.Provider)
	}
	_, query, _ := strings.Cut(m.Path, "?")
	q, err := url.ParseQuery(query)
	if err != nil {
		panic(err)
	}
	if replyCode == "" {
		replyCode = q.Get("reply_code")
	}
	api.AddOobitTransaction(standin.OobitTransaction{
		Order: q.Get("trans_order"), TransID: q.Get("trans_id"), ReplyCode: replyCode, ReplyDesc: "SUCCESS",
		Amount: q.Get("trans_amount"), Currency: q.Get("trans_currency"), Date: q.Get("trans_date"),
	})
}
