package testcaddy

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// envMain makes a test binary that calls Main run Caddy's command line
// instead of its tests: Start re-executes the test binary with it, so a test
// gets a real Caddy process (with this repository's modules, as the test
// binary imports them) without building one.
const envMain = "PAYNOTIFY_TEST_CADDY_MAIN"

// Process is a Caddy running as a child process of the test: `caddy run`
// with the Caddyfile the test gave, on free loopback ports, with config and
// data directories of its own. It is killed when the test ends; when the
// test failed, the tail of its log is printed.
type Process struct {
	// Admin is the admin endpoint's address (host:port).
	Admin string
	// URL is the address of its HTTP server, http://127.0.0.1:<port>,
	// where the sites of the Caddyfile (http://) are served.
	URL string

	t        testing.TB
	dir      string
	global   string
	cmd      *exec.Cmd
	exited   chan struct{}
	exitErr  error
	logPath  string
	httpPort int
}

// Start runs Caddy with sites, the site blocks of a Caddyfile, after global
// options that Start writes: the admin endpoint and the HTTP port on free
// loopback ports, persist_config off, grace_period 1ns. A site is written
// http:// (served on URL whatever the host), and {$NAME} placeholders take
// their values from env (NAME=value entries), which the process gets on top
// of the test's environment. Start returns once the admin endpoint and the
// HTTP port answer; it fails the test if Caddy exits or does not answer
// within 20 s.
func Start(t testing.TB, sites string, env ...string) *Process {
	t.Helper()
	dir := t.TempDir()
	httpPort, adminPort, httpsPort := freePort(t), freePort(t), freePort(t)
	p := &Process{
		Admin:    fmt.Sprintf("127.0.0.1:%d", adminPort),
		URL:      fmt.Sprintf("http://127.0.0.1:%d", httpPort),
		t:        t,
		dir:      dir,
		logPath:  filepath.Join(dir, "caddy.log"),
		httpPort: httpPort,
		exited:   make(chan struct{}),
	}
	p.global = fmt.Sprintf(`{
	admin 127.0.0.1:%d
	default_bind 127.0.0.1
	http_port %d
	https_port %d
	auto_https off
	persist_config off
	skip_install_trust
	grace_period 1ns
}
`, adminPort, httpPort, httpsPort)
	config := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(config, []byte(p.global+sites), 0o600); err != nil {
		t.Fatal(err)
	}
	log, err := os.Create(p.logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close() // the child has its own descriptor

	// os.Executable, not os.Args[0]: caddytest sets os.Args to "caddy run …"
	// when it loads a Caddyfile.
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	p.cmd = exec.Command(exe, "run", "--config", config, "--adapter", "caddyfile")
	// In the test's directory: the test binary's package initialisation
	// may read files relative to it.
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Env = append(p.cmd.Env, envMain+"=1",
		"XDG_DATA_HOME="+filepath.Join(dir, "data"), "XDG_CONFIG_HOME="+filepath.Join(dir, "config"))
	p.cmd.Stdout, p.cmd.Stderr = log, log
	p.cmd.SysProcAttr = sysProcAttr()
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("starting caddy: %v", err)
	}
	go func() {
		p.exitErr = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.Kill()
		if t.Failed() {
			p.printLog()
		}
	})
	p.waitReady()
	return p
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// waitReady waits until the admin endpoint answers and the HTTP port takes
// connections (Caddy starts its admin endpoint before its apps).
func (p *Process) waitReady() {
	p.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	client := &http.Client{Timeout: time.Second}
	for {
		select {
		case <-p.exited:
			p.t.Fatalf("caddy exited while starting: %v", p.exitErr)
		default:
		}
		if res, err := client.Get("http://" + p.Admin + "/config/"); err == nil {
			res.Body.Close()
			if conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", p.httpPort), time.Second); err == nil {
				conn.Close()
				return
			}
		}
		if time.Now().After(deadline) {
			p.t.Fatal("caddy did not answer within 20 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Kill kills the process (SIGKILL: no cleanup, no stop of the apps) and
// waits until it is gone. Killing a process that has exited does nothing.
func (p *Process) Kill() {
	select {
	case <-p.exited:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
}

// Term sends SIGTERM, Caddy's graceful stop, and waits until the process
// has exited (it fails the test after 20 s). It returns the exit error,
// nil for a zero exit status.
func (p *Process) Term() error {
	p.t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		p.t.Fatalf("SIGTERM: %v", err)
	}
	select {
	case <-p.exited:
		return p.exitErr
	case <-time.After(20 * time.Second):
		p.t.Fatal("caddy did not exit within 20 s of SIGTERM")
		return nil
	}
}

// Reload loads sites (with the same global options) through the admin
// API's POST /load, as `caddy reload` does, and fails the test if Caddy
// refuses it. It returns once the old config's server has let go of the
// HTTP port, with http.DefaultClient's idle connections (to the old
// server, perhaps) closed.
func (p *Process) Reload(sites string) {
	p.t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://"+p.Admin+"/load", strings.NewReader(p.global+sites))
	if err != nil {
		p.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "text/caddyfile")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Fatalf("reload: %v", err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		p.t.Fatalf("reload: %s: %s", res.Status, body)
	}
	WaitOneListener(p.httpPort, 5*time.Second)
	http.DefaultClient.CloseIdleConnections()
}

// Log returns what the process logged so far.
func (p *Process) Log() string {
	b, _ := os.ReadFile(p.logPath)
	return string(b)
}

// printLog prints the last lines of the log.
func (p *Process) printLog() {
	lines := bytes.Split([]byte(strings.TrimRight(p.Log(), "\n")), []byte("\n"))
	if len(lines) > 60 {
		lines = lines[len(lines)-60:]
	}
	p.t.Logf("the last lines of caddy's log (%s, %s):\n%s", p.Admin, p.URL, bytes.Join(lines, []byte("\n")))
}
