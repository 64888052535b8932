package netsim

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// groupMembers lists the live processes whose process group is pgid.
func groupMembers(pgid int) []int {
	var pids []int
	dirs, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, d := range dirs {
		b, err := os.ReadFile(d)
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp ...; comm may hold spaces, so cut at ')'.
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) > 2 && f[2] == strconv.Itoa(pgid) && f[0] != "Z" {
			pid, _ := strconv.Atoi(strings.Fields(s)[0])
			pids = append(pids, pid)
		}
	}
	return pids
}

func netnsInode(path string) (uint64, error) {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return 0, err
	}
	return st.Ino, nil
}

func TestPrivilegedProcess(t *testing.T) {
	Privileged(t)
	f := NewFabric(t, "netsimproc")
	n, err := f.AddNode("node1")
	if err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(t.TempDir(), "daemon.log")
	p := StartProcessT(t, n, logPath, "sh", "-c", "echo started; exec sleep 300")

	want, err := netnsInode(n.Path)
	if err != nil {
		t.Fatal(err)
	}
	// `ip netns exec` switches namespace just before it execs the daemon.
	err = WaitFor(context.Background(), 5*time.Second, 20*time.Millisecond, func() error {
		got, err := netnsInode(fmt.Sprintf("/proc/%d/ns/net", p.PID()))
		if err == nil && got != want {
			err = fmt.Errorf("process %d in netns inode %d, want node %s inode %d", p.PID(), got, n.NSName, want)
		}
		return err
	})
	if err != nil {
		t.Error(err)
	}
	err = WaitFor(context.Background(), 5*time.Second, 50*time.Millisecond, func() error {
		b, _ := os.ReadFile(logPath)
		if !strings.Contains(string(b), "started") {
			return fmt.Errorf("log %s = %q, want the daemon's output", logPath, b)
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}

	if err := p.Stop(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.Done():
	default:
		t.Fatal("Stop returned before the process was reaped")
	}
	if err := p.Wait(); err == nil || !strings.Contains(err.Error(), "terminated") {
		t.Errorf("Wait = %v, want killed by SIGTERM", err)
	}
	if err := p.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
}

func TestPrivilegedProcessKill9TakesTheGroup(t *testing.T) {
	Privileged(t)
	f := NewFabric(t, "netsimkill")
	n, err := f.AddNode("node1")
	if err != nil {
		t.Fatal(err)
	}
	// A shell that ignores SIGTERM and has a child of its own.
	p := StartProcessT(t, n, "", "sh", "-c", "trap '' TERM; sleep 300 & wait")
	err = WaitFor(context.Background(), 5*time.Second, 20*time.Millisecond, func() error {
		if m := groupMembers(p.PID()); len(m) < 2 {
			return fmt.Errorf("process group %d = %v, want the shell and its sleep", p.PID(), m)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Kill9(); err != nil {
		t.Fatal(err)
	}
	if err := p.Wait(); err == nil || !strings.Contains(err.Error(), "killed") {
		t.Errorf("Wait = %v, want killed by SIGKILL", err)
	}
	err = WaitFor(context.Background(), 5*time.Second, 20*time.Millisecond, func() error {
		if m := groupMembers(p.PID()); len(m) != 0 {
			return fmt.Errorf("process group %d still has %v", p.PID(), m)
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
}
