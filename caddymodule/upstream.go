package caddymodule

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// newUpstreamSigner checks a Standard Webhooks secret, "whsec_" followed by
// 24 to 64 random bytes in base64 as the spec asks, and returns its signer.
func newUpstreamSigner(secret string) (*standardwebhooks.Webhook, error) {
	encoded, ok := strings.CutPrefix(secret, "whsec_")
	if !ok {
		return nil, errors.New(`must start with "whsec_" (generate one with: echo "whsec_$(openssl rand -base64 32)")`)
	}
	key, err := base64.StdEncoding.DecodeString(encoded)
	if err != nil {
		return nil, errors.New(`is not "whsec_" followed by standard base64`)
	}
	if len(key) < 24 || len(key) > 64 {
		return nil, fmt.Errorf("decodes to %d bytes; Standard Webhooks secrets are 24 to 64 bytes", len(key))
	}
	return standardwebhooks.NewWebhook(secret)
}

// signUpstream sets the Standard Webhooks headers of a forwarded request:
// its id, the time it is sent and the signature of both with body.
func signUpstream(wh *standardwebhooks.Webhook, header http.Header, id string, now time.Time, body []byte) {
	// Sign cannot fail: its only error is a nil it always returns.
	signature, _ := wh.Sign(id, now, body)
	header.Set(standardwebhooks.HeaderWebhookID, id)
	header.Set(standardwebhooks.HeaderWebhookTimestamp, strconv.FormatInt(now.Unix(), 10))
	header.Set(standardwebhooks.HeaderWebhookSignature, signature)
}
