// Package simulator behaves like the payment providers and like a faulty
// merchant app, for tests and benchmarks: it builds correctly signed
// notifications for every supported provider (and hostile variants of them),
// sends them, retries each genuine one with backoff until it receives exactly
// that provider's ACK, and records what was acknowledged.
//
// The signers are written here again, apart from package verifiers, so that a
// shared misreading of a scheme would show up as refused notifications.
package simulator

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"
)

// Keys are the secrets the simulated providers sign with.
type Keys struct {
	Octo3, TheDAO, Checkout, CheckoutAuthorization, Octopus, OctopusKey, Oobit string
}

// Message is one notification as a provider sends it, ready to be sent again.
type Message struct {
	Provider string
	Order    string // unique per genuine notification
	Method   string
	Path     string // with the query string, if any
	Header   http.Header
	Body     []byte
	// Hostile names the attack, "" for a genuine notification.
	Hostile string
	// ACKStatus and ACKBody are the provider's ACK.
	ACKStatus int
	ACKBody   string
}

// Request builds the HTTP request of m against base (http://host:port).
func (m Message) Request(ctx context.Context, base string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, m.Method, base+m.Path, bytes.NewReader(m.Body))
	if err != nil {
		return nil, err
	}
	req.Header = m.Header.Clone()
	return req, nil
}

// Providers lists the simulated providers.
var Providers = []string{"octo3", "thedao", "checkout", "octopus", "oobit"}

// Genuine builds a correctly signed notification of provider for order,
// sent to /notify/<provider>.
func Genuine(provider, order string, k Keys) Message {
	switch provider {
	case "octo3", "thedao": // one platform, one scheme
		secret := k.Octo3
		if provider == "thedao" {
			secret = k.TheDAO
		}
		f := map[string]string{
			"version": "2.0", "action": "PAY", "merch_order_id": order, "merch_id": "M100200", "term_id": "T01",
			"currency": "HKD", "txn_time": "2024-05-01 10:20:30", "txn_status": "ACCEPTED",
			"txn_response_code": "00", "dr_count": "1", "txn_no": "TXN-" + order, "captured_amount": "12.50",
			"card_num": "4111111111111111", "merch_data": "SOAK-RAW-MARKER",
		}
		f["secure_hash"] = octo3Sum(f, sha1.New, secret)
		return form(provider, order, f, "ACK")
	case "checkout":
		body := fmt.Sprintf(`{"id":"evt_%s","type":"payment_captured","created_on":"2024-05-01T10:20:30Z",`+
			`"data":{"id":"pay_%s","reference":%q,"amount":1050,"currency":"HKD","metadata":{"note":"SOAK-RAW-MARKER"}}}`,
			order, order, order)
		h := http.Header{"Content-Type": {"application/json"}, "Cko-Signature": {hexHMAC(sha256.New, k.Checkout, body)}}
		if k.CheckoutAuthorization != "" {
			h.Set("Authorization", k.CheckoutAuthorization)
		}
		return Message{Provider: "checkout", Order: order, Method: http.MethodPost, Path: "/notify/checkout",
			Header: h, Body: []byte(body), ACKStatus: http.StatusOK}
	case "octopus":
		f := map[string]string{
			"merchant_order_id": order, "payment_status": "completed", "currency": "php", "final_amount": "99.50",
			"merchant_uid": "MUID-1", "order_uid": "OUID-" + order, "tenant": "SOAK-RAW-MARKER",
		}
		keys := sortedKeys(f)
		var signed, body []string
		for _, key := range keys {
			signed = append(signed, key+"="+f[key])
			body = append(body, fmt.Sprintf("%q:%q", key, f[key]))
		}
		h := http.Header{"Content-Type": {"application/json"},
			"Oc-Signature": {hexHMAC(sha256.New, k.Octopus, strings.Join(signed, "&"))}}
		if k.OctopusKey != "" {
			h.Set("Oc-Key", k.OctopusKey)
		}
		return Message{Provider: "octopus", Order: order, Method: http.MethodPost, Path: "/notify/octopus",
			Header: h, Body: []byte("{" + strings.Join(body, ",") + "}"), ACKStatus: http.StatusOK, ACKBody: "success"}
	case "oobit":
		q := url.Values{
			"reply_code": {"000"}, "reply_desc": {"SOAK-RAW-MARKER"}, "trans_id": {"9" + digits(order)},
			"trans_order": {order}, "trans_amount": {"7.23"}, "trans_currency": {"USD"},
			"trans_date": {"11/02/2020 12:40:11"},
		}
		sum := sha256.Sum256([]byte(q.Get("trans_id") + order + "000" + "7.23" + "USD" + k.Oobit))
		q.Set("signature", base64.StdEncoding.EncodeToString(sum[:]))
		return Message{Provider: "oobit", Order: order, Method: http.MethodGet, Path: "/notify/oobit?" + q.Encode(),
			Header: http.Header{}, ACKStatus: http.StatusOK, ACKBody: "OK"}
	}
	panic("simulator: unknown provider " + provider)
}

// Attacks are the kinds of hostile notification Hostile builds.
var Attacks = []string{"tampered", "wrong_secret", "unsigned", "forbidden_source", "oversized", "malformed", "wrong_method"}

// Hostile builds a hostile variant of a genuine notification: it must never
// reach the app nor be acknowledged.
func Hostile(provider, order, attack string, k Keys) Message {
	var m Message
	switch attack {
	case "wrong_secret":
		bad := Keys{Octo3: "x", TheDAO: "x", Checkout: "x", CheckoutAuthorization: k.CheckoutAuthorization, Octopus: "x",
			OctopusKey: k.OctopusKey, Oobit: "x"}
		m = Genuine(provider, order, bad)
	default:
		m = Genuine(provider, order, k)
	}
	m.Hostile = attack
	switch attack {
	case "tampered":
		if provider == "oobit" {
			m.Path = strings.Replace(m.Path, "trans_amount=7.23", "trans_amount=723.00", 1)
		} else {
			m.Body = bytes.Replace(m.Body, []byte("SOAK-RAW-MARKER"), []byte("SOAK-RAW-MARKEX"), 1)
		}
	case "unsigned":
		for _, h := range []string{"Cko-Signature", "Oc-Signature"} {
			m.Header.Del(h)
		}
		if provider == "octo3" || provider == "thedao" {
			m.Body = removeFormField(m.Body, "secure_hash")
		}
		m.Path = removeQueryField(m.Path, "signature")
	case "forbidden_source":
		m.Header.Set("X-Forwarded-For", "192.0.2.66") // outside allow_ip, through the trusted proxy
	case "oversized":
		m.Body = append(m.Body, bytes.Repeat([]byte(" "), 80<<10)...)
		if provider == "oobit" {
			m.Method = http.MethodPost
			m.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
	case "malformed":
		m.Body = []byte("\x00\xff not a notification {")
		if provider == "oobit" {
			m.Method, m.Path = http.MethodPost, "/notify/oobit"
			m.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
	case "wrong_method":
		m.Method = http.MethodPut
	}
	return m
}

// Result is what became of one message.
type Result struct {
	Message  Message
	Attempts int
	Acked    bool
	Statuses map[int]int // reply status → count
}

// Sender sends messages like a provider: it retries a genuine message with
// backoff until it receives exactly its ACK, up to MaxAttempts; a hostile
// message is sent once.
type Sender struct {
	Client      *http.Client
	Base        string
	MaxAttempts int
	Backoff     time.Duration // first retry delay, doubled up to MaxBackoff
	MaxBackoff  time.Duration
}

// Send delivers m and returns what happened.
func (s *Sender) Send(ctx context.Context, m Message) Result {
	res := Result{Message: m, Statuses: map[int]int{}}
	delay := s.Backoff
	for res.Attempts < s.MaxAttempts {
		res.Attempts++
		status, body, err := s.once(ctx, m)
		if err == nil {
			res.Statuses[status]++
			if status == m.ACKStatus && body == m.ACKBody {
				res.Acked = true
				return res
			}
		} else {
			res.Statuses[0]++ // no reply: connection error or timeout
		}
		if m.Hostile != "" || ctx.Err() != nil {
			return res
		}
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return res
		}
		delay = min(2*delay, s.MaxBackoff)
	}
	return res
}

func (s *Sender) once(ctx context.Context, m Message) (int, string, error) {
	req, err := m.Request(ctx, s.Base)
	if err != nil {
		return 0, "", err
	}
	res, err := s.Client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 1<<16))
	return res.StatusCode, string(body), err
}

func form(provider, order string, f map[string]string, ack string) Message {
	v := url.Values{}
	for key, val := range f {
		v.Set(key, val)
	}
	return Message{Provider: provider, Order: order, Method: http.MethodPost, Path: "/notify/" + provider,
		Header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, Body: []byte(v.Encode()),
		ACKStatus: http.StatusOK, ACKBody: ack}
}

func hexHMAC(h func() hash.Hash, secret, message string) string {
	mac := hmac.New(h, []byte(secret))
	mac.Write([]byte(message))
	return hex.EncodeToString(mac.Sum(nil))
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func digits(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func removeFormField(body []byte, name string) []byte {
	v, _ := url.ParseQuery(string(body))
	v.Del(name)
	return []byte(v.Encode())
}

func removeQueryField(path, name string) string {
	p, q, ok := strings.Cut(path, "?")
	if !ok {
		return path
	}
	v, _ := url.ParseQuery(q)
	v.Del(name)
	return p + "?" + v.Encode()
}

// Tally counts events safely from several goroutines.
type Tally struct {
	mu sync.Mutex
	n  map[string]int
}

// Add counts one of key.
func (t *Tally) Add(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.n == nil {
		t.n = map[string]int{}
	}
	t.n[key]++
}

// Snapshot returns the counts.
func (t *Tally) Snapshot() map[string]int {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make(map[string]int, len(t.n))
	for k, v := range t.n {
		out[k] = v
	}
	return out
}
