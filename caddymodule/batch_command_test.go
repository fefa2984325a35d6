package caddymodule

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/paynotify/paynotify/verifiers"
)

// TestSignBatchProviders: caddy paynotify sign builds a batch of one that
// the provider accepts, and --field reaches into the batch's items by index.
func TestSignBatchProviders(t *testing.T) {
	const adyenKey = "09A101BDBD5B1238FE30628D19AA125F297E0CCF31AC73635A07FCAE2BB3D263"
	for _, c := range []struct {
		provider, secret string
		args             []string
		want             verifiers.Status
	}{
		{"adyen", adyenKey, nil, verifiers.StatusAuthorized},
		{"adyen", adyenKey, []string{"--field", "notificationItems.0.NotificationRequestItem.eventCode=CAPTURE",
			"--field", "notificationItems.0.NotificationRequestItem.amount.value=2000"}, verifiers.StatusSucceeded},
		{"gocardless", "s3cret", nil, verifiers.StatusSucceeded},
		{"gocardless", "s3cret", []string{"--field", "events.0.action=charged_back"}, verifiers.StatusDisputed},
	} {
		t.Run(c.provider, func(t *testing.T) {
			p := newProvider(t, c.provider, `{"secrets":["`+c.secret+`"]}`)
			args := append([]string{"sign", c.provider, "--secret", c.secret, "--order", "ORD-77", "--url", p.URL + "/notify"}, c.args...)
			stdout, stderr, err := run(t, args...)
			require.NoError(t, err, stdout+stderr)
			assert.Contains(t, stderr, "acknowledged")
			events := p.take()
			require.Len(t, events, 1)
			assert.Equal(t, "ORD-77", events[0].OrderID)
			assert.Equal(t, c.want, events[0].Status)
		})
	}
	_, _, err := run(t, "sign", "gocardless", "--secret", "s3cret", "--field", "events.1.action=failed")
	require.ErrorContains(t, err, "1 is not an index of the array (0 to 0)")
	_, _, err = run(t, "sign", "adyen", "--secret", "test-secret")
	require.ErrorContains(t, err, "secret 1 is not an even-length hex string")
}
