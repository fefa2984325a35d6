package verifiers

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func provisionedInquiry(t *testing.T, rawURL string, timeout time.Duration) *Inquiry {
	t.Helper()
	q := &Inquiry{URL: rawURL, Timeout: caddy.Duration(timeout)}
	require.NoError(t, q.Provision(""))
	return q
}

func get(t *testing.T, q *Inquiry, path, query string) (*Answer, error) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, q.Endpoint(path, query), nil)
	require.NoError(t, err)
	return q.Do(context.Background(), req)
}

func TestInquireURLOption(t *testing.T) {
	for raw, want := range map[string]string{
		"https://api.mollie.com":                  "",
		"https://api-m.sandbox.paypal.com/":       "",
		"http://127.0.0.1:9999/oobit/getStatus":   "",
		"http://localhost:8082":                   "",
		"http://[::1]:8082":                       "",
		"http://api.mollie.com":                   "inquire: http is only for a stand-in on a loopback address, and api.mollie.com is not one: the provider's API is https",
		"http://10.0.0.1":                         "is not one",
		"ftp://api.mollie.com":                    "not an absolute http(s) URL",
		"api.mollie.com":                          "not an absolute http(s) URL",
		"/v2/payments":                            "not an absolute http(s) URL",
		"https://user:pass@api.mollie.com":        "inquire: a URL with credentials; credentials are options of their own",
		"https://api.mollie.com/#x":               "a URL with a fragment",
		"https://api.mollie.com/%zz":              "inquire: not a URL",
		"https://process.oobit.com/getStatus.asp": "",
	} {
		q := &Inquiry{URL: raw}
		err := q.CheckConfig("")
		if want == "" {
			assert.NoError(t, err, raw)
			continue
		}
		if assert.Error(t, err, raw) {
			assert.Contains(t, err.Error(), want, raw)
			assert.NotContains(t, err.Error(), "pass", raw)
			var oe *OptionError
			assert.True(t, errors.As(err, &oe), raw)
		}
	}
}

func TestInquiryTimeoutOption(t *testing.T) {
	q := &Inquiry{URL: "https://api.mollie.com", Timeout: caddy.Duration(31 * time.Second)}
	assert.EqualError(t, q.CheckConfig(""), "inquiry_timeout: 31s is not between 0 and 30s")
	q = &Inquiry{Timeout: caddy.Duration(time.Second)}
	assert.EqualError(t, q.CheckConfig(""), "inquiry_timeout: applies only with inquire")
	assert.NoError(t, q.CheckConfig("https://api.mollie.com"), "the provider's default URL is an inquire")

	// A placeholder is checked once resolved.
	t.Setenv("PAYNOTIFY_TEST_INQUIRE", "http://api.example.com")
	q = &Inquiry{URL: "{env.PAYNOTIFY_TEST_INQUIRE}"}
	assert.NoError(t, q.CheckConfig(""))
	assert.ErrorContains(t, q.Provision(""), "http is only for a stand-in on a loopback address")
	q = &Inquiry{URL: "{env.PAYNOTIFY_TEST_INQUIRE_UNSET}"}
	assert.ErrorContains(t, q.Provision(""), "inquire: ")

	q = &Inquiry{}
	require.NoError(t, q.Provision("https://api.mollie.com"))
	assert.Equal(t, "https://api.mollie.com", q.Base())
	assert.Equal(t, DefaultInquiryTimeout, q.timeout)
}

func TestInquiryEndpoint(t *testing.T) {
	q := provisionedInquiry(t, "http://127.0.0.1:1/mollie/", 0)
	assert.Equal(t, "http://127.0.0.1:1/mollie/v2/payments/tr_1", q.Endpoint("/v2/payments/tr_1", ""))
	q = provisionedInquiry(t, "http://127.0.0.1:1/member/getStatus.asp", 0)
	assert.Equal(t, "http://127.0.0.1:1/member/getStatus.asp?Order=a%2Bb", q.Endpoint("", "Order=a%2Bb"))
}

func TestInquiryFollowsRedirectsOnlyToTheSameHost(t *testing.T) {
	var calls atomic.Int64
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		_, _ = w.Write([]byte("other host"))
	}))
	defer other.Close()
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/moved":
			http.Redirect(w, r, "/here", http.StatusMovedPermanently)
		case "/away":
			http.Redirect(w, r, other.URL+"/x", http.StatusFound)
		case "/loop":
			http.Redirect(w, r, "/loop", http.StatusFound)
		case "/here":
			_, _ = w.Write([]byte("here"))
		}
	}))
	defer api.Close()
	q := provisionedInquiry(t, api.URL, 0)

	a, err := get(t, q, "/moved", "")
	require.NoError(t, err)
	assert.Equal(t, "here", string(a.Body))

	_, err = get(t, q, "/away", "")
	assert.ErrorIs(t, err, ErrInquiry)
	assert.ErrorContains(t, err, "redirect to another host (127.0.0.1) refused")
	assert.Zero(t, calls.Load(), "the other host was called")

	_, err = get(t, q, "/loop", "")
	assert.ErrorContains(t, err, "more than 3 redirects")
}

func TestInquiryRefusesAnHTTPSDowngrade(t *testing.T) {
	assert.ErrorContains(t, sameHostRedirect(
		&http.Request{URL: mustURL(t, "http://api.mollie.com/v2")},
		[]*http.Request{{URL: mustURL(t, "https://api.mollie.com/v2")}}), "redirect from https to http refused")
}

func TestInquiryVerifiesTLSCertificates(t *testing.T) {
	api := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("VERIFIED"))
	}))
	defer api.Close()
	q := provisionedInquiry(t, api.URL, 0)
	_, err := get(t, q, "/", "")
	assert.ErrorIs(t, err, ErrInquiry)
	assert.ErrorContains(t, err, "certificate", "a certificate no trusted authority signed was accepted")
}

func TestInquiryAnswerLimitAndTimeout(t *testing.T) {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/huge":
			_, _ = w.Write([]byte(strings.Repeat("x", MaxInquiryAnswer+1)))
		case "/full":
			_, _ = w.Write([]byte(strings.Repeat("x", MaxInquiryAnswer)))
		case "/slow":
			select {
			case <-time.After(5 * time.Second):
			case <-r.Context().Done():
			}
		case "/ua":
			_, _ = w.Write([]byte(r.UserAgent()))
		}
	}))
	defer api.Close()
	q := provisionedInquiry(t, api.URL, 200*time.Millisecond)

	_, err := get(t, q, "/huge", "")
	assert.ErrorIs(t, err, ErrInquiry)
	assert.ErrorContains(t, err, "is over 1048576 bytes")
	a, err := get(t, q, "/full", "")
	require.NoError(t, err)
	assert.Len(t, a.Body, MaxInquiryAnswer)

	start := time.Now()
	_, err = get(t, q, "/slow", "signature=c2VjcmV0LWRlcml2ZWQ%3D")
	assert.ErrorIs(t, err, ErrInquiry)
	assert.ErrorContains(t, err, "did not answer within inquiry_timeout 200ms")
	assert.NotContains(t, err.Error(), "c2VjcmV0", "the query (oobit's carries a signature) is in the reason")
	assert.Less(t, time.Since(start), 2*time.Second)

	a, err = get(t, q, "/ua", "")
	require.NoError(t, err)
	assert.Equal(t, "paynotify-inquiry/1", string(a.Body))
}

func TestInquiryUnreachableNamesTheHostNotTheQuery(t *testing.T) {
	api := httptest.NewServer(http.NotFoundHandler())
	base := api.URL
	api.Close()
	q := provisionedInquiry(t, base, time.Second)
	_, err := get(t, q, "/getStatus.asp", "CompanyNum=1234567&signature=c2VjcmV0")
	assert.ErrorIs(t, err, ErrInquiry)
	assert.ErrorContains(t, err, "calling "+strings.TrimPrefix(base, "http://"))
	assert.NotContains(t, err.Error(), "c2VjcmV0")
	assert.NotContains(t, err.Error(), "CompanyNum")
}

func TestAnswerUnexpected(t *testing.T) {
	for status, want := range map[int]string{
		401: "inquiry failed: Mollie's payments API answered 401: check the API credentials",
		403: "inquiry failed: Mollie's payments API answered 403: check the API credentials",
		429: "inquiry failed: Mollie's payments API answered 429 (rate limited)",
		502: "inquiry failed: Mollie's payments API answered 502",
	} {
		err := (&Answer{Status: status}).Unexpected("Mollie's payments API")
		assert.EqualError(t, err, want)
		assert.ErrorIs(t, err, ErrInquiry)
	}
}

func TestInquiryCredential(t *testing.T) {
	t.Setenv("PAYNOTIFY_TEST_KEY", "live_abc")
	v, err := InquiryCredential("api_key", "{env.PAYNOTIFY_TEST_KEY}", true)
	require.NoError(t, err)
	assert.Equal(t, "live_abc", v)
	_, err = InquiryCredential("api_key", "", true)
	assert.EqualError(t, err, "api_key: required")
	_, err = InquiryCredential("api_key", "{env.PAYNOTIFY_TEST_KEY_UNSET}", true)
	assert.ErrorContains(t, err, "api_key: ")
	v, err = InquiryCredential("merchant_number", "", false)
	assert.NoError(t, err)
	assert.Empty(t, v)
}

func TestVerifyByInquiryDoesNotReturnUnconfirmedEvents(t *testing.T) {
	v := &fakeInquirer{inquires: true, err: ErrSignature}
	events, err := VerifyByInquiry(context.Background(), v, &Request{})
	assert.ErrorIs(t, err, ErrSignature)
	assert.Empty(t, events)
	v = &fakeInquirer{inquires: false}
	events, err = VerifyByInquiry(context.Background(), v, &Request{})
	assert.NoError(t, err)
	assert.Equal(t, "stated", events[0].ID, "without inquiry the notification's own checks are all there is")
	assert.False(t, v.asked)
}

type fakeInquirer struct {
	inquires, asked bool
	err             error
}

func (f *fakeInquirer) Provider() string  { return "fake" }
func (f *fakeInquirer) Methods() []string { return nil }
func (f *fakeInquirer) ACK() ACK          { return ACK{} }
func (f *fakeInquirer) Inquires() bool    { return f.inquires }
func (f *fakeInquirer) Verify(ctx context.Context, r *Request) ([]Event, error) {
	return VerifyByInquiry(ctx, f, r)
}
func (f *fakeInquirer) Notice(*Request) ([]Event, error) { return []Event{{ID: "stated"}}, nil }
func (f *fakeInquirer) Inquire(context.Context, *Request, []Event) ([]Event, error) {
	f.asked = true
	return nil, f.err
}

func mustURL(t *testing.T, raw string) *url.URL {
	u, err := url.Parse(raw)
	require.NoError(t, err)
	return u
}
