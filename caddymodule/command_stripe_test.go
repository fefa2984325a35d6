package caddymodule

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSignStripeAndPaddle: caddy paynotify sign builds notifications of the
// two timestamped providers, signed now, with fields changed on the command
// line, that their verifiers acknowledge; a notification signed with
// another secret is refused.
func TestSignStripeAndPaddle(t *testing.T) {
	for _, c := range []struct {
		provider string
		args     []string
		want     map[string]string // event member → value
	}{
		{"stripe", nil, map[string]string{"status": "succeeded", "amount": "10.50", "currency": "USD"}},
		{"stripe", []string{"--field", "type=charge.refunded", "--field", "data.object.currency=jpy", "--field", "data.object.amount:=1500"},
			map[string]string{"status": "refunded", "amount": "1500", "currency": "JPY"}},
		{"paddle", nil, map[string]string{"status": "succeeded", "amount": "10.50", "currency": "USD"}},
		{"paddle", []string{"--field", "event_type=transaction.payment_failed", "--field", "data.currency_code=EUR"},
			map[string]string{"status": "failed", "amount": "10.50", "currency": "EUR"}},
	} {
		t.Run(c.provider+strings.Join(c.args, " "), func(t *testing.T) {
			p := newProvider(t, c.provider, `{"secrets":["s3cret-old","s3cret"]}`)
			args := append([]string{"sign", c.provider, "--secret", "s3cret", "--order", "ORD-77", "--url", p.URL + "/notify"}, c.args...)
			stdout, stderr, err := run(t, args...)
			require.NoError(t, err, stdout+stderr)
			assert.Contains(t, stderr, "acknowledged")
			events := p.take()
			require.Len(t, events, 1)
			assert.Equal(t, "ORD-77", events[0].OrderID)
			e, _ := json.Marshal(events[0])
			var got map[string]any
			require.NoError(t, json.Unmarshal(e, &got))
			for k, v := range c.want {
				assert.Equal(t, v, got[k], k)
			}

			_, _, err = run(t, "sign", c.provider, "--secret", "guess", "--url", p.URL+"/notify")
			assert.Error(t, err, "signed with a secret the provider does not have")
			assert.Empty(t, p.take())
		})
	}
}
