//go:build !linux

package haproxy

import "syscall"

// sysProcAttr starts HAProxy in its own process group (no Pdeathsig
// outside Linux: Stop must be called).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
