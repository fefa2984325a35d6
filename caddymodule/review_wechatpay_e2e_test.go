package caddymodule

// Adversarial review of the wechatpay provider: caddy paynotify sign.

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/paynotify/paynotify/verifiers"
)

// TestReviewSignWechatpayRefundAmount: the README fragment says "fields
// with refund_status make a refund notification", with --field changing the
// transaction. A refund's amount is amount.refund, which the example
// transaction does not have, so --field amount.refund=500 sets it as the
// string "500" (only a field that holds a number already stays a number),
// and paynotify refuses the notification its own signer built: 400
// "amount.refund of the refund is not a number". (Without amount.refund the
// refund event has no amount at all.)
func TestReviewSignWechatpayRefundAmount(t *testing.T) {
	o := &signOptions{now: time.Now, privateKey: "../examples/keys/wechatpay-demo.pem",
		options: []string{"public_key PUB_KEY_ID_DEMO {file.../examples/keys/wechatpay-demo.pub}", "apiv3_key wechatpay-demo-apiv3-key-32chars"},
		fields:  []string{"refund_status=SUCCESS", "out_refund_no=RF-1", "amount.refund=500"}}
	n, _, err := o.build("wechatpay", "/notify/wechatpay")
	require.NoError(t, err)
	p, err := o.provider("wechatpay")
	require.NoError(t, err)
	events, err := p.Verify(context.Background(), &verifiers.Request{Method: n.Method, Header: n.Header, Body: n.Body, ReceivedAt: time.Now()})
	require.NoError(t, err, "the signer's refund notification is refused by the provider")
	require.Len(t, events, 1)
	assert.EqualValues(t, "refunded", events[0].Status)
	assert.Equal(t, "5.00", events[0].Amount)
}
