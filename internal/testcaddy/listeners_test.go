package testcaddy

import (
	"context"
	"net"
	"runtime"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// Two sockets on one port, as Caddy has during a reload, count as two; a
// connection counts as none.
func TestListenersCountsTheSocketsListeningOnAPort(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc/net/tcp")
	}
	reuse := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var err error
		if cerr := c.Control(func(fd uintptr) {
			err = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
		}); cerr != nil {
			return cerr
		}
		return err
	}}
	old, err := reuse.Listen(context.Background(), "tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer old.Close()
	port := old.Addr().(*net.TCPAddr).Port
	assert.Equal(t, 1, listeners(port))

	current, err := reuse.Listen(context.Background(), "tcp", old.Addr().String())
	require.NoError(t, err)
	defer current.Close()
	assert.Equal(t, 2, listeners(port))

	conn, err := net.Dial("tcp", old.Addr().String())
	require.NoError(t, err)
	defer conn.Close()
	assert.Equal(t, 2, listeners(port))

	old.Close()
	WaitOneListener(port, 0)
	assert.Equal(t, 1, listeners(port))
	current.Close()
	assert.Equal(t, 0, listeners(port))
}
