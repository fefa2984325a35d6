package caddymodule

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// resettableBody is a request body that can be read again, so that one
// request serves every iteration of a benchmark without allocating.
type resettableBody struct{ bytes.Reader }

func (*resettableBody) Close() error { return nil }

// discardWriter is the provider's side of a benchmark: it keeps the status
// and drops the body; like Caddy's writer, it takes read deadlines.
type discardWriter struct {
	header http.Header
	status int
}

func (d *discardWriter) Header() http.Header         { return d.header }
func (d *discardWriter) WriteHeader(status int)      { d.status = status }
func (d *discardWriter) Write(b []byte) (int, error) { return len(b), nil }

func (d *discardWriter) SetReadDeadline(time.Time) error { return nil }

// appReads answers 200 once it has read and closed the forwarded body, as
// reverse_proxy's transport does.
var appReads = caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
	if _, err := io.Copy(io.Discard, r.Body); err != nil {
		return err
	}
	if err := r.Body.Close(); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
})

// BenchmarkServeHTTP is paynotify's per-request cost in Caddy without the
// network: octo3's golden notification, dedup off, forward normalized, an
// app in process that answers 200, the notification line logged as JSON
// (to nowhere). The request and the writer are reused; everything else is
// what a request costs.
func BenchmarkServeHTTP(b *testing.B) {
	for _, bc := range []struct {
		name    string
		handler Handler
	}{
		{"normalized", Handler{Dedup: "off", AllowIP: []string{"192.0.2.0/24"}}},
		{"original", Handler{Dedup: "off", AllowIP: []string{"192.0.2.0/24"}, Forward: "original"}},
		{"signed", Handler{Dedup: "off", AllowIP: []string{"192.0.2.0/24"}, UpstreamSecret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			h := bc.handler // a fresh copy for each run: Provision fills it in
			h.ProviderRaw = providerJSON("octo3", testSecret)
			ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
			defer cancel()
			if err := h.Provision(ctx); err != nil {
				b.Fatal(err)
			}
			h.logger = zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()),
				zapcore.AddSync(io.Discard), zapcore.InfoLevel))

			raw, err := os.ReadFile("../testdata/octo3/accepted.http")
			if err != nil {
				b.Fatal(err)
			}
			req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw)))
			if err != nil {
				b.Fatal(err)
			}
			payload, err := io.ReadAll(req.Body)
			if err != nil {
				b.Fatal(err)
			}
			req.RemoteAddr = "192.0.2.10:40000"
			req = req.WithContext(context.WithValue(req.Context(), caddy.ReplacerCtxKey, caddy.NewReplacer()))
			body := &resettableBody{}
			req.Body = body
			w := &discardWriter{header: http.Header{}}

			b.ReportAllocs()
			for b.Loop() {
				body.Reset(payload)
				clear(w.header)
				w.status = 0
				if err := h.ServeHTTP(w, req, appReads); err != nil {
					b.Fatal(err)
				}
				if w.status != http.StatusOK {
					b.Fatalf("status %d", w.status)
				}
			}
		})
	}
}
