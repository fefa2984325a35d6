// Package testcaddy keeps the Caddy that a test process runs in a scratch
// directory, and runs Caddy processes for tests that kill or restart one.
package testcaddy

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/caddyserver/caddy/v2"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
)

// Main runs the tests of m with Caddy's config and data directories in a
// scratch directory, removed afterwards, and exits. Call it from TestMain.
//
// Started by Start (PAYNOTIFY_TEST_CADDY_MAIN=1), the test binary is Caddy
// instead: Main runs Caddy's command line with the binary's arguments.
func Main(m *testing.M) {
	if os.Getenv(envMain) == "1" {
		caddycmd.Main()
		os.Exit(0)
	}
	dir, err := os.MkdirTemp("", "paynotify-test")
	if err != nil {
		panic(err)
	}
	os.Setenv("XDG_DATA_HOME", filepath.Join(dir, "data"))
	os.Setenv("XDG_CONFIG_HOME", filepath.Join(dir, "config"))
	// Caddy computed these two from the environment when its package was
	// initialised, before TestMain: without this, the in-process Caddy
	// autosaves each test config (secrets included) to the user's
	// ~/.config/caddy and creates its local CA and locks under
	// ~/.local/share/caddy. (caddy run --envfile resets them the same way.)
	caddy.ConfigAutosavePath = filepath.Join(caddy.AppConfigDir(), "autosave.json")
	caddy.DefaultStorage.Path = caddy.AppDataDir()
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
