package caddymodule

import (
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestUnmarshalDeliver(t *testing.T) {
	cases := []struct {
		name, input string
		want        *Deliver
	}{
		{"queued with every option", `paynotify octo3 {
			secret s
			deliver queued {
				to          http://localhost:8000/webhooks/octo3
				retry_for   24h
				timeout     10s
				concurrency 8
				backoff     2s 1m
			}
		}`, &Deliver{Mode: "queued", To: "http://localhost:8000/webhooks/octo3", RetryFor: caddy.Duration(24 * time.Hour),
			Timeout: caddy.Duration(10 * time.Second), Concurrency: 8, Backoff: caddy.Duration(2 * time.Second),
			BackoffMax: caddy.Duration(time.Minute)}},
		// The defaults are filled in at provision, not written into the JSON.
		{"queued with the defaults", "paynotify octo3 {\n secret s\n deliver queued {\n to http://app:8000/n\n }\n}",
			&Deliver{Mode: "queued", To: "http://app:8000/n"}},
		{"placeholder URL", "paynotify octo3 {\n secret s\n deliver queued {\n to {env.APP_URL}\n }\n}",
			&Deliver{Mode: "queued", To: "{env.APP_URL}"}},
		{"direct", "paynotify octo3 {\n secret s\n deliver direct\n}", &Deliver{Mode: "direct"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var h Handler
			require.NoError(t, h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tc.input)))
			assert.Equal(t, tc.want, h.Deliver)
		})
	}
}

func TestUnmarshalDeliverErrors(t *testing.T) {
	cases := []struct{ input, want string }{
		{"deliver", "deliver: direct or queued"},
		{"deliver later", `deliver: "later" is not direct or queued`},
		{"deliver queued", "deliver queued: to <url> is required"},
		{"deliver queued {\n retry_for 1h\n }", "deliver queued: to <url> is required"},
		{"deliver direct {\n to http://x\n }", "deliver direct takes no options (to is for deliver queued)"},
		{"deliver queued {\n to ftp://x/y\n }", "deliver: to: an http:// or https:// URL with a host is required"},
		{"deliver queued {\n to /webhooks\n }", "deliver: to: an http:// or https:// URL with a host is required"},
		{"deliver queued {\n to http://user:pw@app/x\n }", "deliver: to: credentials in the URL are not supported"},
		{"deliver queued {\n to http://app/x\n to http://app/y\n }", "deliver: to given twice"},
		{"deliver queued {\n to http://app/x http://app/y\n }", "deliver: to takes one value"},
		{"deliver queued {\n to http://app/x\n retry_for forever\n }", `deliver: retry_for: "forever" is not a positive duration`},
		{"deliver queued {\n to http://app/x\n timeout 0s\n }", `deliver: timeout: "0s" is not a positive duration`},
		{"deliver queued {\n to http://app/x\n concurrency many\n }", `deliver: concurrency: "many" is not a number`},
		{"deliver queued {\n to http://app/x\n concurrency 0\n }", "deliver: concurrency: 0 is not between 1 and 256"},
		{"deliver queued {\n to http://app/x\n concurrency 1000\n }", "deliver: concurrency: 1000 is not between 1 and 256"},
		{"deliver queued {\n to http://app/x\n backoff 1m 1s\n }", "deliver: backoff: the longest wait 1s is shorter than the first 1m0s"},
		{"deliver queued {\n to http://app/x\n backoff\n }", "deliver: backoff <first> [<longest>]"},
		{"deliver queued {\n to http://app/x\n retries 5\n }", `deliver: unrecognized option "retries"`},
	}
	for _, tc := range cases {
		t.Run(tc.want, func(t *testing.T) {
			var h Handler
			err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser("paynotify octo3 {\n secret s\n " + tc.input + "\n}"))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.NotContains(t, err.Error(), "pw@", "no credentials in the message")
		})
	}
}

// TestDeliverCheck: what provision refuses in JSON configs, which skip the
// Caddyfile parser, and the defaults it fills in.
func TestDeliverCheck(t *testing.T) {
	d := &Deliver{Mode: "queued", To: "https://app.internal/n?shop=1"}
	to, err := d.check()
	require.NoError(t, err)
	assert.Equal(t, "https://app.internal/n?shop=1", to.String())
	assert.Equal(t, Deliver{Mode: "queued", To: d.To, RetryFor: caddy.Duration(DefaultRetryFor), Timeout: caddy.Duration(DefaultTimeout),
		Concurrency: DefaultConcurrency, Backoff: caddy.Duration(DefaultBackoff), BackoffMax: caddy.Duration(DefaultBackoffMax)}, *d)

	t.Setenv("PAYNOTIFY_TEST_APP_URL", "http://127.0.0.1:8000/from-env")
	to, err = (&Deliver{Mode: "queued", To: "{env.PAYNOTIFY_TEST_APP_URL}"}).check()
	require.NoError(t, err)
	assert.Equal(t, "http://127.0.0.1:8000/from-env", to.String())

	for _, c := range []struct {
		d    Deliver
		want string
	}{
		{Deliver{Mode: "queued"}, "queued: to <url> is required"},
		{Deliver{Mode: "queued", To: "{env.PAYNOTIFY_TEST_UNSET}"}, "to: evaluated placeholder {env.PAYNOTIFY_TEST_UNSET} is empty"},
		{Deliver{Mode: "queued", To: "http://app/x", RetryFor: caddy.Duration(-time.Second)}, "retry_for: must be positive"},
		{Deliver{Mode: "queued", To: "http://app/x", Backoff: caddy.Duration(time.Hour)}, ""},
		{Deliver{Mode: "queued", To: "http://app/x#frag"}, "to: a URL without #fragment is required"},
		{Deliver{Mode: "direct", To: "http://app/x"}, "apply to deliver queued only"},
		{Deliver{Mode: "later"}, `"later" is not direct or queued`},
	} {
		_, err := c.d.check()
		if c.want == "" {
			assert.NoError(t, err, "%+v", c.d)
			assert.Equal(t, c.d.Backoff, c.d.BackoffMax, "a first backoff over the default longest one is the longest")
			continue
		}
		assert.ErrorContains(t, err, c.want, "%+v", c.d)
	}
}

// TestBackoff: the waits double from backoff up to the longest, each drawn
// between half of it and all of it.
func TestBackoff(t *testing.T) {
	q := &queueRoute{settings: Deliver{Backoff: caddy.Duration(time.Second), BackoffMax: caddy.Duration(5 * time.Minute)}}
	for attempts, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second,
		9: 256 * time.Second, 10: 5 * time.Minute, 1000: 5 * time.Minute} {
		seen := map[time.Duration]bool{}
		for range 200 {
			d := q.backoff(attempts)
			assert.GreaterOrEqual(t, d, want/2, "attempt %d", attempts)
			assert.LessOrEqual(t, d, want, "attempt %d", attempts)
			seen[d] = true
		}
		assert.Greater(t, len(seen), 100, "attempt %d: the waits are spread (jitter)", attempts)
	}
}
