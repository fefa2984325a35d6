package testcaddy

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"time"
)

// WaitOneListener returns once at most one TCP socket listens on port, and
// reports false if two or more still did after timeout.
//
// Caddy binds each config's listener with SO_REUSEPORT, so for a moment after
// a reload two sockets listen on the port and the kernel hands a new
// connection to either. The old server stops in a goroutine that may not have
// run when the reload returns ("the scheduler might still pause them",
// caddyhttp.App.stop). A connection the old server accepts after its shutdown
// began is closed without an answer (net/http's conn.serve): the client reads
// EOF. A provider retries such a notification; a test must not meet it.
//
// A connection kept alive to the old server is closed by its shutdown after
// the listener: the caller should also drop its client's idle connections.
//
// It reads Linux's /proc/net/tcp and tcp6; elsewhere it does not wait.
func WaitOneListener(port int, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for listeners(port) > 1 {
		if time.Now().After(deadline) {
			fmt.Fprintf(os.Stderr, "testcaddy: %d sockets still listen on port %d %v after a reload\n", listeners(port), port, timeout)
			return false
		}
		time.Sleep(time.Millisecond)
	}
	return true
}

// listeners counts the TCP sockets listening on port.
func listeners(port int) int {
	suffix := fmt.Sprintf(":%04X", port)
	n := 0
	for _, name := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(name)
		if err != nil {
			continue
		}
		s := bufio.NewScanner(f)
		for s.Scan() {
			// sl local_address rem_address st …; st 0A is LISTEN.
			fields := strings.Fields(s.Text())
			if len(fields) >= 4 && fields[3] == "0A" && strings.HasSuffix(fields[1], suffix) {
				n++
			}
		}
		f.Close()
	}
	return n
}
