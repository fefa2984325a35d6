package caddymodule_test

import (
	"time"

	"github.com/caddyserver/caddy/v2/caddytest"

	"github.com/paynotify/paynotify/internal/testcaddy"
)

// initServer loads config into the package's Caddy, as tc.InitServer does,
// and returns once the previous config's server has let go of port 9080
// (testcaddy.WaitOneListener says why). CI once met the EOF it prevents.
func initServer(tc *caddytest.Tester, rawConfig, configType string) {
	tc.InitServer(rawConfig, configType)
	testcaddy.WaitOneListener(9080, 5*time.Second)
}
