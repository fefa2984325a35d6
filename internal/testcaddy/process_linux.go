package testcaddy

import "syscall"

// sysProcAttr makes the kernel kill the child when the test process dies
// (a test timeout, a panic), so that no Caddy outlives its test.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
