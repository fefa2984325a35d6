package caddymodule_test

// The hostile cases of alipay (RSA2 async notifications). Most are golden
// requests of testdata/gen_golden_alipay.py, signed in Python with the test
// key testdata/alipay/keys/test.pem: what changes a signed notification
// (a value, a signature, the charset, an added parameter) is refused by the
// signature, what Alipay signed but the app could read differently by the
// form's checks, a genuine notification of another app by app_id.

import (
	"net/http"
	"strings"
	"testing"
)

// alipayGolden is the golden request name, sent to /alipay, changed by
// change (nil: as it is).
func alipayGolden(name string, change func(r *http.Request, body []byte) []byte) func(t *testing.T) *http.Request {
	return fromGolden("alipay/"+name, "/alipay", change)
}

// alipayAppend is the genuine success notification with extra appended to
// its body.
func alipayAppend(extra string) func(t *testing.T) *http.Request {
	return alipayGolden("success", func(_ *http.Request, body []byte) []byte { return append(body, extra...) })
}

// alipayReplace is the genuine success notification with old replaced by
// new in its body.
func alipayReplace(old, new string) func(t *testing.T) *http.Request {
	return alipayGolden("success", func(_ *http.Request, body []byte) []byte {
		return []byte(strings.Replace(string(body), old, new, 1))
	})
}

func alipayHeader(name, value string) func(t *testing.T) *http.Request {
	return alipayGolden("success", func(r *http.Request, body []byte) []byte {
		r.Header.Set(name, value)
		return body
	})
}

func init() {
	hostileRoutes = append(hostileRoutes, `
	handle /alipay {
		paynotify alipay {
			public_key {file.../testdata/alipay/keys/test.pub}
			app_id 2021004100000001
			STORE
		}
		reverse_proxy UPSTREAM
	}
`)
	hostileCatalogue = append(hostileCatalogue,
		// alipay: signature
		hostile{"alipay tampered amount", alipayGolden("tampered", nil), 401},
		hostile{"alipay signed with another key", alipayGolden("wrong_key", nil), 401},
		hostile{"alipay sign_type RSA (SHA1withRSA)", alipayGolden("rsa1", nil), 401},
		hostile{"alipay SHA1withRSA sign relabelled RSA2", alipayGolden("rsa1", func(_ *http.Request, body []byte) []byte {
			return []byte(strings.Replace(string(body), "sign_type=RSA&", "sign_type=RSA2&", 1))
		}), 401},
		hostile{"alipay sign_type MD5", alipayGolden("md5_sign_type", nil), 401},
		hostile{"alipay sign_type in lower case", alipayReplace("sign_type=RSA2", "sign_type=rsa2"), 401},
		hostile{"alipay sign missing", alipayGolden("missing_sign", nil), 401},
		hostile{"alipay sign empty", alipayGolden("empty_sign", nil), 401},
		hostile{"alipay sign not base64", alipayGolden("sign_not_base64", nil), 401},
		hostile{"alipay sign changed in one character", alipayGolden("success", func(_ *http.Request, body []byte) []byte {
			i := strings.Index(string(body), "&sign=") + len("&sign=") + 20
			for strings.Contains(string(body[i-2:i+1]), "%") { // a base64 letter, not an escape
				i++
			}
			body[i] = map[bool]byte{true: 'B', false: 'A'}[body[i] == 'A']
			return body
		}), 401},
		hostile{"alipay sign with a line break", alipayReplace("&sign=", "&sign=%0A"), 401},
		hostile{"alipay sign of 3000 characters", alipayReplace("&sign=", "&sign="+strings.Repeat("QUFB", 750)), 401},
		hostile{"alipay body cut in the sign", alipayGolden("success", func(_ *http.Request, body []byte) []byte {
			i := strings.Index(string(body), "&sign=") + 100
			for strings.Contains(string(body[i-2:i]), "%") { // not inside an escape
				i--
			}
			return body[:i]
		}), 401},
		hostile{"alipay unsigned parameter added", alipayGolden("unsigned_param", nil), 401},
		// Alipay's signature, refund_fee merged into receipt_amount: would
		// read as another succeeded payment.
		hostile{"alipay partial refund regrouped into a payment", alipayGolden("regrouped_merge", nil), 401},
		hostile{"alipay non-empty parameter added", alipayAppend("&passback_params=x"), 401},
		hostile{"alipay signed parameter emptied", alipayReplace("total_amount=88.88", "total_amount="), 401},
		hostile{"alipay signed parameter removed", alipayReplace("&receipt_amount=88.88", ""), 401},
		hostile{"alipay signed over UTF-8, sent as GBK", alipayGolden("other_charset", nil), 401},
		hostile{"alipay charset changed to gb18030", alipayGolden("gbk", func(_ *http.Request, body []byte) []byte {
			return []byte(strings.Replace(string(body), "charset=gbk", "charset=gb18030", 1))
		}), 401},
		// alipay: a genuine notification of another app
		hostile{"alipay another app_id", alipayGolden("other_app", nil), 403},
		hostile{"alipay app_id missing, signed", alipayGolden("no_app_id", nil), 403},
		// alipay: the form, signed or with empty (unsigned) parameters
		hostile{"alipay duplicate name", alipayGolden("duplicate_name", nil), 400},
		hostile{"alipay sign given twice", alipayGolden("success", func(_ *http.Request, body []byte) []byte {
			_, sign, _ := strings.Cut(string(body), "&sign=")
			return append(body, "&sign="+sign...)
		}), 400},
		hostile{"alipay empty parameter given twice", alipayAppend("&passback_params=&passback_params="), 400},
		hostile{"alipay empty parameter meeting trade_status", alipayAppend("&Trade_Status="), 400},
		hostile{"alipay empty parameter with a dot", alipayAppend("&out.trade_no="), 400},
		hostile{"alipay empty parameter with brackets", alipayAppend("&trade_status[]="), 400},
		hostile{"alipay parameter without a name", alipayAppend("&=x"), 400},
		hostile{"alipay names meeting, signed", alipayGolden("meeting_names", nil), 400},
		hostile{"alipay bracket name, signed", alipayGolden("bracket_name", nil), 400},
		hostile{"alipay bad escape", alipayAppend("&passback_params=%E"), 400},
		hostile{"alipay invalid UTF-8", alipayGolden("invalid_utf8", nil), 400},
		hostile{"alipay invalid GBK", alipayGolden("invalid_gbk", nil), 400},
		hostile{"alipay unknown charset", alipayGolden("unknown_charset", nil), 400},
		hostile{"alipay out_trade_no missing, signed", alipayGolden("no_out_trade_no", nil), 400},
		hostile{"alipay trade_no missing, signed", alipayGolden("no_trade_no", nil), 400},
		hostile{"alipay trade_status missing, signed", alipayGolden("no_trade_status", nil), 400},
		hostile{"alipay refund_fee not a decimal, signed", alipayGolden("bad_refund_fee", nil), 400},
		hostile{"alipay total_amount not a decimal, signed", alipayGolden("bad_amount", nil), 400},
		hostile{"alipay query shadowing trade_status", alipayGolden("query_shadow", nil), 400},
		// alipay: transport
		hostile{"alipay JSON content type", alipayGolden("json_type", nil), 400},
		hostile{"alipay multipart content type", alipayHeader("Content-Type", "multipart/form-data; boundary=x"), 400},
		hostile{"alipay content type charset UTF-7", alipayHeader("Content-Type", "application/x-www-form-urlencoded; charset=UTF-7"), 400},
		hostile{"alipay GET", alipayGolden("get", nil), 405},
		hostile{"alipay header of 2 MB", alipayGolden("success", func(r *http.Request, body []byte) []byte {
			header2MB(r)
			return body
		}), 431},
	)
}
