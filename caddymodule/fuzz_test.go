package caddymodule

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// FuzzUnmarshalCaddyfile: no Caddyfile block makes the parser panic, and what
// it accepts survives the trip through JSON config unchanged (what `caddy
// adapt` writes is what the handler loads).
func FuzzUnmarshalCaddyfile(f *testing.F) {
	for _, seed := range []string{
		"octo3 {\n secret a b\n allow_ip 10.0.0.0/8\n}",
		"thedao {\n signature off\n allow_ip 192.0.2.1\n forward original\n max_body 1MiB\n}",
		"octo3 {\n dedup 72h\n store bolt /tmp/x.db\n ack OK\n}",
		"checkout {\n secret s\n authorization \"Bearer x\"\n store redis redis://127.0.0.1:6379/0\n}",
		"octo3 {\n secret s\n algorithm hmac-sha256\n amount_unit minor\n upstream_secret whsec_x\n body_timeout 5s\n}",
		"octopus {\n secret s\n key k\n dedup_scope shop1\n}",
		"octo3 {\n max_body 99999999999TB\n}",
		"octo3 {\n store redis\n}",
		"octo3 {\n {\n}",
	} {
		f.Add(seed)
	}
	f.Add("octo3 {\n secret <<X\n}") // an unterminated heredoc: a lexer error, not a crash
	f.Fuzz(func(t *testing.T, block string) {
		// Tokenize as Caddy does; caddyfile.NewTestDispenser would exit the
		// process on a lexer error (log.Fatal), which is not Caddy's behaviour.
		tokens, err := caddyfile.Tokenize([]byte("paynotify "+block), "Caddyfile")
		if err != nil {
			return
		}
		var h Handler
		if err := h.UnmarshalCaddyfile(caddyfile.NewDispenser(tokens)); err != nil {
			return
		}
		out, err := json.Marshal(h)
		if err != nil {
			t.Fatalf("accepted config does not encode: %v", err)
		}
		var back Handler
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatalf("adapted config does not load: %v", err)
		}
		if !reflect.DeepEqual(h, back) {
			t.Fatalf("config changed on the way through JSON:\n%+v\n%+v", h, back)
		}
	})
}
