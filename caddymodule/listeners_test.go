package caddymodule_test

import (
	"net/http"
	"time"

	"github.com/caddyserver/caddy/v2/caddytest"

	"github.com/paynotify/paynotify/internal/testcaddy"
)

// initServer loads config into the package's Caddy, as tc.InitServer does,
// and returns once the previous config's servers have let go of port 9080
// and the admin port (testcaddy.WaitOneListener says why; CI once met the
// EOF it prevents), with the idle connections of tc.Client and of
// http.DefaultClient, which the tests use for the admin API, closed.
func initServer(tc *caddytest.Tester, rawConfig, configType string) {
	tc.InitServer(rawConfig, configType)
	settle(tc)
}

// settle waits for the previous config's servers to let go of the ports
// after a reload, and closes the clients' idle connections.
func settle(tc *caddytest.Tester) {
	testcaddy.WaitOneListener(9080, 5*time.Second)
	testcaddy.WaitOneListener(2999, 5*time.Second)
	tc.Client.CloseIdleConnections()
	http.DefaultClient.CloseIdleConnections()
}
