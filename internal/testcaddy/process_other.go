//go:build !linux

package testcaddy

import "syscall"

func sysProcAttr() *syscall.SysProcAttr { return nil }
