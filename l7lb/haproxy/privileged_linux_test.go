package haproxy

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dcnet/dcnet/internal/netsim"
)

const testConfig = `global
    stats socket %[1]s/admin.sock mode 600 level admin expose-fd listeners
    hard-stop-after 3s
defaults
    mode http
    timeout connect 2s
    timeout client 10s
    timeout server 10s
frontend fe
    bind 127.0.0.1:8080
    default_backend be
backend be
    server s1 127.0.0.1:1 disabled
    server s2 127.0.0.1:1 disabled
%[2]s
`

// TestPrivilegedInstance runs Debian's HAProxy in a namespace: start,
// a batch of runtime commands in prompt mode, a refused reload that keeps
// the old worker, a good reload that replaces it, and a restart after
// kill -9.
func TestPrivilegedInstance(t *testing.T) {
	netsim.Privileged(t, "haproxy")
	f := netsim.NewFabric(t, "l7ah")
	node, err := f.AddNode("lb")
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "l7ah-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	cfgPath := filepath.Join(dir, "haproxy.cfg")
	write := func(extra string) {
		if err := os.WriteFile(cfgPath, []byte(fmt.Sprintf(testConfig, dir, extra)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("")
	p := New(Options{
		Command:      []string{"ip", "netns", "exec", node.NSName, "haproxy"},
		ConfigPath:   cfgPath,
		MasterSocket: filepath.Join(dir, "master.sock"),
		StatsSocket:  filepath.Join(dir, "admin.sock"),
	})
	t.Cleanup(func() {
		p.Stop()
		if t.Failed() {
			t.Logf("haproxy output:\n%s", strings.Join(p.Log(), "\n"))
		}
	})
	ctx := context.Background()
	if err := p.Start(ctx); err != nil {
		t.Fatal(err)
	}
	errs, err := p.Runtime().Batch(ctx, []Op{
		SetServerAddr("be", "s1", netip.MustParseAddrPort("127.0.0.1:9001")),
		SetServerWeight("be", "s1", 7),
		SetServerState("be", "s1", StateReady),
		SetServerState("be", "nope", StateReady),
		SetServerState("be", "s2", StateDrain),
	})
	if err != nil || errs[0] != nil || errs[1] != nil || errs[2] != nil || errs[3] == nil || errs[4] != nil {
		t.Fatalf("batch: %v, %v", errs, err)
	}
	st, err := p.Runtime().ShowServersState(ctx)
	if err != nil || len(st) != 2 || st[0].Addr != "127.0.0.1" || st[0].Port != 9001 || st[0].Weight != 7 || st[0].Maint() || !st[1].Drain() {
		t.Fatalf("servers state = %+v, %v", st, err)
	}
	before, err := p.ShowProc(ctx)
	if err != nil || len(before.Workers) != 1 {
		t.Fatalf("show proc = %+v, %v", before, err)
	}

	// A configuration the master refuses: reported, the worker stays.
	write("backend broken\n    nonsense_keyword 1\n")
	var re *ReloadError
	if err := p.Reload(ctx); !errors.As(err, &re) || re.Failed == 0 || len(re.Alerts()) == 0 {
		t.Fatalf("bad reload = %v, want a ReloadError with alerts", err)
	}
	t.Logf("refused reload: %v", re)
	after, err := p.ShowProc(ctx)
	if err != nil || len(after.Workers) != 1 || after.Workers[0].PID != before.Workers[0].PID {
		t.Fatalf("after the refused reload: %+v, %v; want worker %d still there", after, err, before.Workers[0].PID)
	}
	if st, _ := p.Runtime().ShowServersState(ctx); len(st) != 2 || st[0].Weight != 7 {
		t.Errorf("runtime state lost by the refused reload: %+v", st)
	}

	// A good one: a new worker answers, the old one leaves.
	write("")
	if err := p.Reload(ctx); err != nil {
		t.Fatalf("good reload: %v", err)
	}
	next, err := p.ShowProc(ctx)
	if err != nil || len(next.Workers) != 1 || next.Workers[0].PID == before.Workers[0].PID || next.Master.Failed != 0 {
		t.Fatalf("after the good reload: %+v, %v", next, err)
	}
	info, err := p.Runtime().ShowInfo(ctx)
	if err != nil || info["Pid"] != fmt.Sprint(next.Workers[0].PID) {
		t.Errorf("stats socket answered by %v, %v; want the new worker %d", info["Pid"], err, next.Workers[0].PID)
	}

	// kill -9: the supervisor starts it again.
	pid, starts := p.PID(), p.Starts()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if err := netsim.WaitFor(ctx, 20*time.Second, 50*time.Millisecond, func() error {
		if p.Starts() == starts || p.PID() == pid || p.PID() == 0 {
			return errors.New("not restarted")
		}
		_, err := p.Runtime().ShowInfo(ctx)
		return err
	}); err != nil {
		t.Fatalf("restart after kill -9: %v", err)
	}
	select {
	case <-p.Started():
	default:
		t.Error("no Started signal after the restart")
	}
}
