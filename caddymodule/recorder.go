package caddymodule

import "net/http"

// upstreamReply records the status of the next handler's reply and keeps all
// of it (status, headers, interim 1xx responses, body) away from the
// provider: the provider must see its ACK or an error, never the app's page.
// The body is discarded as it is written, so a large reply costs no memory.
type upstreamReply struct {
	header http.Header
	status int
}

func (u *upstreamReply) Header() http.Header { return u.header }

func (u *upstreamReply) WriteHeader(status int) {
	if u.status != 0 || (status >= 100 && status < 200) {
		return // already decided, or an interim response
	}
	u.status = status
}

func (u *upstreamReply) Write(b []byte) (int, error) {
	if u.status == 0 {
		u.status = http.StatusOK
	}
	return len(b), nil
}

// FlushError lets reverse_proxy flush (http.ResponseController) without
// anything reaching the provider.
func (u *upstreamReply) FlushError() error { return nil }
