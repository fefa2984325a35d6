package caddymodule_test

// forward original: the app parses the forwarded request with its own
// framework, which renames and merges parameters (PHP's reply.code is
// reply_code, Rails merges the query over a JSON body, ASP.NET folds case).
// No unsigned parameter may be read in place of a signed one: each of these
// requests carries a genuine signature and must get 400 with nothing
// forwarded.

import (
	"net/http"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddytest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func shadowCaddyfile(up string) string {
	return globalOptions + strings.NewReplacer("UPSTREAM", up).Replace(`
http://localhost:9080 {
	handle /octo3/original {
		paynotify octo3 {
			dedup off
			secret octo3-test-secret
			forward original
		}
		reverse_proxy UPSTREAM
	}
	handle /thedao/original {
		paynotify thedao {
			dedup off
			secret octo3-test-secret
			forward original
		}
		reverse_proxy UPSTREAM
	}
	handle /checkout/original {
		paynotify checkout {
			dedup off
			secret cko-test-signature-key
			authorization cko-test-authorization
			forward original
		}
		reverse_proxy UPSTREAM
	}
	handle /octopus/original {
		paynotify octopus {
			dedup off
			secret octopus-test-secret
			key octopus-test-key
			forward original
		}
		reverse_proxy UPSTREAM
	}
	handle /oobit/original {
		paynotify oobit {
			dedup off
			secret oobit-test-hash-key
			allow_ip 127.0.0.1
			forward original
		}
		reverse_proxy UPSTREAM
	}
}
`)
}

func startShadowCaddy(t *testing.T) (*caddytest.Tester, *upstream) {
	up := newUpstream(t)
	tc := caddytest.NewTester(t)
	initServer(tc, shadowCaddyfile(strings.TrimPrefix(up.URL, "http://")), "caddyfile")
	return tc, up
}

// withQuery is the golden request name sent to path with its query replaced
// by query ("" keeps the golden query; a leading & appends to it).
func withQuery(name, path, query string) func(t *testing.T) *http.Request {
	return func(t *testing.T) *http.Request {
		req := golden(t, name, path)
		switch {
		case strings.HasPrefix(query, "&"):
			req.URL.RawQuery += query
		case query != "":
			req.URL.RawQuery = query
		}
		return req
	}
}

// oobitDeclineGet is Oobit's signed decline (reply_code=051) as a GET, with
// extra appended to its query.
func oobitDeclineGet(extra string) func(t *testing.T) *http.Request {
	return withQuery("oobit/declined_numeric_order", "/oobit/original", "&"+extra)
}

// oobitDeclinePost is the same decline as a POST form (the signature is the
// same), with extraBody appended to the body and query as the query.
func oobitDeclinePost(query, extraBody string) func(t *testing.T) *http.Request {
	return func(t *testing.T) *http.Request {
		body := golden(t, "oobit/declined_numeric_order", "/").URL.RawQuery
		if extraBody != "" {
			body += "&" + extraBody
		}
		req, err := http.NewRequest(http.MethodPost, "http://localhost:9080/oobit/original", strings.NewReader(body))
		require.NoError(t, err)
		req.URL.RawQuery = query
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return req
	}
}

// shadowExploits were all accepted and forwarded before parameter names were
// compared as the apps' frameworks read them.
var shadowExploits = []struct {
	name  string
	build func(t *testing.T) *http.Request
}{
	// oobit signs only five values; PHP reads the last of reply.code and reply_code.
	{"oobit GET: reply.code=000 after the signed reply_code=051 (PHP)", oobitDeclineGet("reply.code=000")},
	{"oobit POST form: reply.code=000 after the signed reply_code=051 (PHP)", oobitDeclinePost("", "reply.code=000")},
	{"oobit POST: ?reply.code=000 over the form's reply_code=051 (PHP $_REQUEST)", oobitDeclinePost("reply.code=000", "")},
	{"oobit GET: reply+code=000 (PHP: space becomes _)", oobitDeclineGet("reply+code=000")},
	{"oobit GET: +reply_code=000 (PHP drops leading spaces)", oobitDeclineGet("+reply_code=000")},
	{"oobit GET: reply_code%00=000 (PHP cuts the name at NUL)", oobitDeclineGet("reply_code%00=000")},
	{"oobit GET: reply[code=000 (PHP: an unclosed [ becomes _)", oobitDeclineGet("reply%5Bcode=000")},
	{"oobit GET: Reply_Code=000 (ASP.NET ignores case)", oobitDeclineGet("Reply_Code=000")},
	{"oobit GET: tranſ_amount=999.00 with a long s (ASP.NET ignores case)", oobitDeclineGet("tran%C5%BF_amount=999.00")},
	{"oobit GET: reply_code[]=000 (PHP, Rails, qs: an array under reply_code)", oobitDeclineGet("reply_code%5B%5D=000")},
	{"oobit GET: n.reply_code=000 (ASP.NET Core binds a model from any prefix)", oobitDeclineGet("n.reply_code=000")},
	{"oobit POST form: Reply_Code=000 next to reply_code=051 (ASP.NET)", oobitDeclinePost("", "Reply_Code=000")},
	{"oobit POST form in UTF-7: reply+AF8-code=000 is reply_code to ASP.NET's Request.Form", func(t *testing.T) *http.Request {
		req := oobitDeclinePost("", "reply%2BAF8-code=000")(t)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-7")
		return req
	}},

	// thedao/octo3: the query is not signed.
	{"thedao: ?captured.amount=99999.00 fills PHP's $_REQUEST['captured_amount']", withQuery("thedao/thedao", "/thedao/original", "&captured.amount=99999.00")},
	{"octo3 decline: ?TXN_STATUS=ACCEPTED (ASP.NET Request[] reads the query first)", withQuery("octo3/declined", "/octo3/original", "&TXN_STATUS=ACCEPTED")},
	{"octo3 decline: ?txn_status%00=ACCEPTED (PHP)", withQuery("octo3/declined", "/octo3/original", "&txn_status%00=ACCEPTED")},
	{"octo3 decline: ?txn+status=ACCEPTED (PHP)", withQuery("octo3/declined", "/octo3/original", "&txn+status=ACCEPTED")},

	// checkout and octopus: Rails merges the query over the JSON body.
	{"checkout payment_declined replayed with ?type=payment_captured (Rails)", withQuery("checkout/payment_declined", "/checkout/original", "type=payment_captured")},
	{"checkout: ?data[amount]=1 replaces the whole data hash (Rails)", withQuery("checkout/payment_declined", "/checkout/original", "data%5Bamount%5D=1")},
	{"checkout: ?webhook[type]=payment_captured takes the place of Rails' wrapped JSON", withQuery("checkout/payment_declined", "/checkout/original", "webhook%5Btype%5D=payment_captured")},
	{"checkout: ?Type=payment_captured (ASP.NET)", withQuery("checkout/payment_declined", "/checkout/original", "Type=payment_captured")},
	{"octopus failed replayed with ?payment_status=completed (Rails)", withQuery("octopus/failed", "/octopus/original", "payment_status=completed")},
	{"octopus failed: ?PAYMENT_STATUS=completed (ASP.NET)", withQuery("octopus/failed", "/octopus/original", "PAYMENT_STATUS=completed")},
}

func TestUnsignedParametersCannotShadowSignedOnesInOriginalMode(t *testing.T) {
	tc, up := startShadowCaddy(t)
	for _, c := range shadowExploits {
		t.Run(c.name, func(t *testing.T) {
			r := send(t, tc, c.build(t))
			assert.Equal(t, http.StatusBadRequest, r.Status)
			assert.Empty(t, r.Body)
			assert.Empty(t, up.take(), "the request reached the app")
		})
	}
}

// TestGenuineNotificationsWithTheirOwnQueryAreForwarded: a webhook URL may
// carry the merchant's own query (a token, a shop id); a name that no
// framework reads as a notification field is forwarded as it came.
func TestGenuineNotificationsWithTheirOwnQueryAreForwarded(t *testing.T) {
	tc, up := startShadowCaddy(t)
	cases := []struct {
		name  string
		build func(t *testing.T) *http.Request
		ack   string
	}{
		{"octo3 ?src=octo3", withQuery("octo3/accepted", "/octo3/original", ""), "ACK"},
		{"thedao ?src=octo3&shop=hk-1", withQuery("thedao/thedao", "/thedao/original", "&shop=hk-1"), "ACK"},
		{"checkout ?token=abc", withQuery("checkout/payment_captured", "/checkout/original", "token=abc"), ""},
		{"checkout ?token=abc&shop=hk-1", withQuery("checkout/payment_declined", "/checkout/original", "token=abc&shop=hk-1"), ""},
		{"octopus ?token=abc", withQuery("octopus/completed", "/octopus/original", "token=abc"), "success"},
		{"oobit GET as sent", withQuery("oobit/approved_get", "/oobit/original", ""), "OK"},
		{"oobit POST ?token=abc", withQuery("oobit/approved_post", "/oobit/original", "token=abc"), "OK"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := c.build(t)
			query := req.URL.RawQuery
			r := send(t, tc, req)
			assert.Equal(t, http.StatusOK, r.Status)
			assert.Equal(t, c.ack, r.Body)
			got := up.take()
			require.Len(t, got, 1)
			assert.Equal(t, query, got[0].RawQuery, "the query reaches the app as it came")
		})
	}
}

// TestCookiesAreNotForwarded: ASP.NET's Request["reply_code"] and PHP's
// $_REQUEST without request_order read cookies as parameters; providers
// send none, so none reaches the app.
func TestCookiesAreNotForwarded(t *testing.T) {
	tc, up := startShadowCaddy(t)
	for _, build := range []func(t *testing.T) *http.Request{
		withQuery("oobit/approved_get", "/oobit/original", ""),
		withQuery("octo3/accepted", "/octo3/original", ""),
	} {
		req := build(t)
		req.Header.Add("Cookie", "reply_code=051; txn_status=DECLINED")
		req.Header.Add("Cookie", "trans_amount=1.00")
		r := send(t, tc, req)
		require.Equal(t, http.StatusOK, r.Status)
		got := up.take()
		require.Len(t, got, 1)
		assert.Empty(t, got[0].Header.Values("Cookie"), "a cookie reached the app")
	}
}
