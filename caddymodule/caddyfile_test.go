package caddymodule

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddytest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/paynotify/paynotify/verifiers"
)

// TestAdaptGolden: each testdata/caddyfile_adapt/*.caddytest holds a
// Caddyfile, a line of dashes, and the JSON `caddy adapt` must produce.
func TestAdaptGolden(t *testing.T) {
	files, err := filepath.Glob("../testdata/caddyfile_adapt/*.caddytest")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, err := os.ReadFile(file)
			require.NoError(t, err)
			caddyfileText, want, ok := strings.Cut(string(data), "----------\n")
			require.True(t, ok, "no ---------- line")
			assert.True(t, caddytest.CompareAdapt(t, file, caddyfileText, "caddyfile", strings.TrimRight(want, "\n")))
		})
	}
}

func TestUnmarshalCaddyfile(t *testing.T) {
	cases := []struct {
		name, input string
		want        Handler
	}{
		{"minimal", `paynotify octo3 {
			secret s1
		}`, Handler{ProviderRaw: raw(`{"name":"octo3","secrets":["s1"]}`)}},
		{"rotation on one line and repeated", `paynotify octo3 {
			secret new old
			secret older
			allow_ip 10.0.0.0/8
			allow_ip 192.0.2.1 2001:db8::/32
		}`, Handler{ProviderRaw: raw(`{"name":"octo3","secrets":["new","old","older"]}`),
			AllowIP: []string{"10.0.0.0/8", "192.0.2.1", "2001:db8::/32"}}},
		{"sizes and durations", `paynotify thedao {
			secret s
			max_body 1MiB
			dedup 30d
			store bolt
		}`, Handler{ProviderRaw: raw(`{"name":"thedao","secrets":["s"]}`), MaxBody: 1 << 20, Dedup: "30d", Store: &Store{Type: "bolt"}}},
		{"provider specific", `paynotify octo3 {
			signature off
			allow_ip 192.0.2.1
			algorithm hmac-sha256
			amount_unit minor
			ack "ACK"
			forward original
		}`, Handler{ProviderRaw: raw(`{"algorithm":"hmac-sha256","amount_unit":"minor","name":"octo3","signature_off":true}`),
			AllowIP: []string{"192.0.2.1"}, ACK: "ACK", Forward: "original"}},
		{"checkout options parse", `paynotify checkout {
			secret s
			authorization "Bearer x"
			upstream_secret whsec_abc
			store redis rediss://u:p@redis.internal:6380/1
			dedup_scope shop-1.eu
			body_timeout 3s
		}`, Handler{ProviderRaw: raw(`{"authorization":"Bearer x","name":"checkout","secrets":["s"]}`),
			UpstreamSecret: "whsec_abc", Store: &Store{Type: "redis", URL: "rediss://u:p@redis.internal:6380/1"},
			DedupScope: "shop-1.eu", BodyTimeout: caddy.Duration(3 * time.Second)}},
		{"octopus options parse", `paynotify octopus {
			secret {env.OCTOPUS_SECRET}
			key {file./run/secrets/oc_key}
		}`, Handler{ProviderRaw: raw(`{"key":"{file./run/secrets/oc_key}","name":"octopus","secrets":["{env.OCTOPUS_SECRET}"]}`)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got Handler
			require.NoError(t, got.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tc.input)))
			assert.Equal(t, tc.want, got)
		})
	}
}

func raw(s string) json.RawMessage { return json.RawMessage(s) }

func TestUnmarshalCaddyfileErrors(t *testing.T) {
	cases := []struct{ input, want string }{
		{`paynotify`, "needs a provider name"},
		{`paynotify octo3 checkout`, "takes one provider"},
		{"paynotify octo3 {\n secret\n}", "secret needs at least one value"},
		{"paynotify octo3 {\n allow_ip\n}", "allow_ip needs at least one"},
		{"paynotify octo3 {\n forward json\n}", `forward: "json" is not normalized or original`},
		{"paynotify octo3 {\n forward original normalized\n}", "forward takes one value"},
		{"paynotify octo3 {\n max_body lots\n}", `max_body: "lots" is not a size`},
		{"paynotify octo3 {\n max_body 0\n}", `max_body: "0" is not a size`},
		{"paynotify octo3 {\n dedup forever\n}", `dedup: "forever" is not a duration or off`},
		{"paynotify octo3 {\n dedup -1h\n}", "must be positive"},
		{"paynotify octo3 {\n store memcached\n}", "store: bolt [<path>] or redis <url>"},
		{"paynotify octo3 {\n store redis\n}", "store: bolt [<path>] or redis <url>"},
		{"paynotify octo3 {\n store redis http://x\n}", "redis needs a url"},
		{"paynotify octo3 {\n store bolt /x redis://y\n}", "store: bolt [<path>] or redis <url>"},
		{"paynotify octo3 {\n signature on\n}", "signature: the only value is off"},
		{"paynotify octo3 {\n ack\n}", "ack needs a value"},
		{"paynotify octo3 {\n forward original\n forward original\n}", "forward given twice"},
		{"paynotify octo3 {\n secrets s\n}", `paynotify octo3: unrecognized option "secrets": not a paynotify option, and provider octo3 takes secret, algorithm, amount_unit, signature, at Testfile:2`},
		{"paynotify octo3 {\n secret a\n secret b\n algorithm hmac-sha1\n algorithm hmac-sha1\n}", "algorithm given twice"},
		{"paynotify octo3 {\n secret s\n dedup_scope a/b\n}", `dedup_scope: "a/b" is not a name`},
		{"paynotify octo3 {\n secret s\n body_timeout 0s\n}", `body_timeout: "0s" is not a positive duration`},
		{"paynotify octo3 {\n secret s\n body_timeout soon\n}", `body_timeout: "soon" is not a positive duration`},
		// What the provider can tell before placeholders are resolved, at
		// the line of the directive or of the option.
		{"paynotify octo4 {\n secret s\n}", fmt.Sprintf(`paynotify octo4: provider: unknown provider "octo4" (supported: %v), at Testfile:1`, verifiers.Providers())},
		{"paynotify checkout {\n authorization a\n}", `paynotify checkout: secret: required for provider "checkout" (the webhook signature key), at Testfile:1`},
		{"paynotify octo3 {\n secret s\n\n key k\n}", `paynotify octo3: key: does not apply to provider "octo3" (its options: secret, algorithm, amount_unit, signature), at Testfile:4`},
		{"paynotify octo3 {\n secret s\n algorithm md5\n}", `paynotify octo3: algorithm: "md5" is not hmac-sha1 or hmac-sha256, at Testfile:3`},
		{"paynotify oobit {\n secret s\n}", `paynotify oobit: allow_ip: required for oobit as configured`},
		{"paynotify thedao {\n signature off\n}", `paynotify thedao: allow_ip: required for thedao as configured, and narrower than 0.0.0.0/0 or ::/0: signature off`},
		{"paynotify thedao {\n secret s\n allow_ip 10.0.0.1\n signature off\n}", `paynotify thedao: signature: off and a secret together: remove one of them, at Testfile:4`},
	}
	for _, tc := range cases {
		t.Run(tc.want, func(t *testing.T) {
			var h Handler
			err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tc.input))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.NotContains(t, err.Error(), "secret s", "no secret in the message")
		})
	}
}

// TestCaddyfileExampleIsValid: the README's first command runs this file, so
// it must adapt and provision (caddy validate) as it is.
func TestCaddyfileExampleIsValid(t *testing.T) {
	text, err := os.ReadFile("../Caddyfile.example")
	require.NoError(t, err)
	cfgJSON, _, err := caddyconfig.GetAdapter("caddyfile").Adapt(text, map[string]any{"filename": "Caddyfile.example"})
	require.NoError(t, err)
	var cfg caddy.Config
	require.NoError(t, json.Unmarshal(cfgJSON, &cfg))
	require.NoError(t, caddy.Validate(&cfg))
	assert.Contains(t, string(cfgJSON), `"handler":"paynotify"`)
}
