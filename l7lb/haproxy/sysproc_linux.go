package haproxy

import "syscall"

// sysProcAttr starts HAProxy in its own process group and has the kernel
// send it SIGTERM when the thread that started it ends.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}
