package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dcnet/dcnet/cluster"
	"github.com/dcnet/dcnet/ctl/doctor"
	"github.com/dcnet/dcnet/internal/netsim"
)

const (
	// doctorConfig reconciles every 3 s: long enough for a doctor run
	// (well under a second) to see hand damage before overlayd repairs
	// it, short enough for the test to see the repair.
	doctorConfig = `{"overlays":[{"name":"dcos","subnet":"9.0.0.0/8","prefix":24,"subnet6":"fd01:b::/64","prefix6":80}],"reconcileInterval":"3s"}`
	// doctorSync is dcnet-l4lb's --sync-interval, for the same reason.
	doctorSync   = "3s"
	doctorTask   = "app.marathon.containerip.dcos.thisdcos.directory."
	doctorRepair = 30 * time.Second
	// doctorTries bounds the damage-and-look rounds when a daemon
	// repaired the damage while the doctor was looking.
	doctorTries = 4
)

// doctorReport is dcnetctl doctor's JSON.
type doctorReport struct {
	OK      bool
	Passed  int
	Failed  int
	Summary string
	Checks  []doctor.Check
}

// failed lists the checks that failed.
func (r doctorReport) failed() []doctor.Check {
	var out []doctor.Check
	for _, c := range r.Checks {
		if c.Status == doctor.Failed {
			out = append(out, c)
		}
	}
	return out
}

func (r doctorReport) String() string {
	b, _ := json.MarshalIndent(r.failed(), "", "  ")
	return r.Summary + "\n" + string(b)
}

// runDoctor runs dcnetctl doctor in nd and returns its report (with
// --json), its output and its exit code.
func runDoctor(t *testing.T, nd *node, asJSON bool) (doctorReport, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	argv := []string{bin("dcnetctl"), "--socket", nd.socket, "doctor"}
	if asJSON {
		argv = append(argv, "--json")
	}
	cmd := nd.Exec(ctx, argv...)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("dcnetctl doctor on %s: %v\n%s", nd.Name, err, stderr.String())
	}
	var rep doctorReport
	if asJSON {
		if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
			t.Fatalf("dcnetctl doctor --json on %s: %v\n%s\n%s", nd.Name, err, out.String(), stderr.String())
		}
		if rep.OK != (code == 0) {
			t.Errorf("doctor on %s: ok %v with exit status %d", nd.Name, rep.OK, code)
		}
	}
	return rep, out.String(), code
}

// waitDoctorOK waits until the doctor passes on nd.
func waitDoctorOK(t *testing.T, nd *node, timeout time.Duration, why string) doctorReport {
	t.Helper()
	var rep doctorReport
	err := netsim.WaitFor(context.Background(), timeout, 200*time.Millisecond, func() error {
		var code int
		rep, _, code = runDoctor(t, nd, true)
		if code != 0 {
			return fmt.Errorf("exit %d: %s", code, rep)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("doctor on %s %s: %v", nd.Name, why, err)
	}
	return rep
}

// damage is one piece of hand damage and exactly what the doctor must
// say about it.
type damage struct {
	name string
	// do damages the node; present reports whether the damage is still
	// there (repairs only put things back, so damage present after a
	// doctor run was present during it).
	do      func() error
	present func() bool
	check   string // the one check that fails
	kind    doctor.Kind
	object  string
	command string
}

// diagnose applies d on nd, checks that the doctor reports exactly d (one
// failed check with one finding, exit status 1), then that it passes again
// once the daemons repaired it.
func diagnose(t *testing.T, nd *node, d damage) {
	t.Helper()
	for try := 1; ; try++ {
		if err := d.do(); err != nil {
			t.Fatalf("%s: %v", d.name, err)
		}
		rep, _, code := runDoctor(t, nd, true)
		if !d.present() {
			if try == doctorTries {
				t.Fatalf("%s: repaired during each of %d doctor runs", d.name, doctorTries)
			}
			continue // repaired while the doctor looked: it may or may not have seen it
		}
		fails := rep.failed()
		if code != 1 || len(fails) != 1 || fails[0].Name != d.check || len(fails[0].Findings) != 1 {
			t.Fatalf("%s: exit %d, want exactly one failed check %q with one finding:\n%s", d.name, code, d.check, rep)
		}
		f := fails[0].Findings[0]
		if f.Kind != d.kind || f.Object != d.object || f.Command != d.command {
			t.Errorf("%s: finding %s %q (see %q), want %s %q (see %q)", d.name, f.Kind, f.Object, f.Command, d.kind, d.object, d.command)
		}
		t.Logf("%s: %s %s: %s %s (see: %s)", d.name, fails[0].Component, fails[0].Name, f.Kind, f.Object, f.Command)
		break
	}
	rep := waitDoctorOK(t, nd, doctorRepair, "after "+d.name)
	t.Logf("%s repaired: %s", d.name, rep.Summary)
}

// TestPrivilegedDoctor: two nodes with overlayd, dcnet-l4lb and dcnet-dns
// (a named VIP with a backend on a1, a task name published in etcd);
// dcnetctl doctor passes on both, then reports exactly each piece of hand
// damage on a2 (a neighbour, an FDB entry, a route, a backend map element,
// an endpoint record) with the command that shows it and exit status 1,
// and passes again once the daemons repaired it; a stopped dcnet-dns is
// reported, with the checks it skipped.
func TestPrivilegedDoctor(t *testing.T) {
	netsim.RequireCommands(t, "nft", "dig", "bridge", "curl")
	_, nodes, members, endpoints := agents(t, "doctor", 2, doctorConfig)
	a1, a2 := nodes[0], nodes[1]
	var dnsProcs []*netsim.Process
	for _, nd := range nodes {
		netsim.StartProcessT(t, nd.Node, filepath.Join(nd.dir, "l4lb.log"), bin("dcnet-l4lb"), "--etcd-endpoints", endpoints,
			"--node-name", nd.Name, "--http-addr", l4lbHTTP, "--sync-interval", doctorSync)
		dnsProcs = append(dnsProcs, netsim.StartProcessT(t, nd.Node, filepath.Join(nd.dir, "dns.log"), bin("dcnet-dns"),
			"--node-ip", nd.UnderlayIP.String(), "--etcd-endpoints", endpoints, "--upstream", "127.0.0.1:5399", "--timeout", "1s"))
	}
	attachWeb(t, a1, "web1")
	plain := attach(t, a2, "plain")
	if err := etcdctl(members[0].Node, endpoints, "put", cluster.TaskNamesPrefix+doctorTask, `["9.0.1.77"]`); err != nil {
		t.Fatal(err)
	}
	waitWebVIP(t, a2, true, 1)
	for _, nd := range nodes {
		rep := waitDoctorOK(t, nd, doctorRepair, "at start")
		t.Logf("%s: %s", nd.Name, rep.Summary)
	}
	_, text, code := runDoctor(t, a2, false)
	if code != 0 || !strings.HasPrefix(text, "all ") || !strings.HasSuffix(text, " checks passed\n") || strings.Count(text, "\n") != 1 {
		t.Errorf("healthy text report (exit %d):\n%s", code, text)
	}

	st, err := a1.client.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	peerIP, peerMAC, peerUnder := st.VTEP.IP, st.VTEP.MAC, a1.UnderlayIP.String()
	peerSubnet := st.Networks[0].NodeSubnet
	run := func(argv ...string) error {
		out, err := a2.Run(context.Background(), argv...)
		if err != nil {
			return fmt.Errorf("%v: %v: %s", argv, err, out)
		}
		return nil
	}
	// gone says the damage is there: argv's output lacks want.
	gone := func(want string, argv ...string) func() bool {
		return func() bool {
			out, err := a2.Run(context.Background(), argv...)
			return err == nil && !strings.Contains(out, want)
		}
	}
	vip := waitWebVIP(t, a2, true, 1)
	vs, err := vips(a2)
	if err != nil {
		t.Fatal(err)
	}
	var backend string
	for _, v := range vs {
		if v.Address == vip && v.Protocol == "tcp" && len(v.Backends) == 1 {
			backend = v.Backends[0].IP
		}
	}
	slot := vip + " . tcp . 80 . 0x00000000"
	var epKey string
	for _, a := range a2.leases() {
		for _, ip := range a.IPs {
			if strings.HasPrefix(ip.Address, plain.ip4+"/") {
				epKey = cluster.EndpointKey(a2.Name, a.Network, a.ContainerID, a.IfName)
			}
		}
	}
	if epKey == "" {
		t.Fatalf("no lease of %s on %s: %+v", plain.ip4, a2.Name, a2.leases())
	}

	for _, d := range []damage{
		{name: "ip neigh del", do: func() error { return run("ip", "neigh", "del", peerIP, "dev", "vtep1024") },
			present: gone(peerIP+" ", "ip", "neigh", "show", "dev", "vtep1024", "nud", "permanent"),
			check:   "vtep neighbours", kind: doctor.Missing, object: peerIP + " lladdr " + peerMAC + " PERMANENT", command: "ip neigh show dev vtep1024"},
		{name: "bridge fdb del", do: func() error { return run("bridge", "fdb", "del", peerMAC, "dev", "vtep1024", "dst", peerUnder, "self") },
			present: gone(peerMAC+" dst "+peerUnder, "bridge", "fdb", "show", "dev", "vtep1024"),
			check:   "vtep fdb", kind: doctor.Missing, object: peerMAC + " dst " + peerUnder + " self permanent", command: "bridge fdb show dev vtep1024"},
		{name: "ip route del", do: func() error { return run("ip", "route", "del", peerSubnet, "dev", "vtep1024") },
			present: gone(peerSubnet+" ", "ip", "route", "show", "dev", "vtep1024"),
			check:   "vtep routes", kind: doctor.Missing, object: peerSubnet + " via " + peerIP + " onlink", command: "ip route show dev vtep1024"},
		{name: "nft delete element", do: func() error {
			return run("nft", "delete", "element", "ip", "dcnet-l4lb", "backends", "{ "+slot+" }")
		}, present: gone(slot, "nft", "list", "map", "ip", "dcnet-l4lb", "backends"),
			check: "nft table ip dcnet-l4lb", kind: doctor.Missing, object: slot + " : " + backend + " . 80", command: "nft list map ip dcnet-l4lb backends"},
		{name: "etcdctl del endpoint record", do: func() error { return etcdctl(members[0].Node, endpoints, "del", epKey) },
			present: func() bool {
				out, err := members[0].Node.Run(context.Background(), "etcdctl", "--endpoints", endpoints, "get", "--keys-only", epKey)
				return err == nil && !strings.Contains(out, epKey)
			},
			check: "endpoint records", kind: doctor.Missing, object: epKey, command: "etcdctl --endpoints " + endpoints + " get " + epKey},
	} {
		diagnose(t, a2, d)
	}

	// The text report of one damage: the finding, its command, the
	// summary and exit status 1.
	for try := 1; try <= doctorTries; try++ {
		if err := run("ip", "neigh", "del", peerIP, "dev", "vtep1024"); err != nil {
			t.Fatal(err)
		}
		_, text, code = runDoctor(t, a2, false)
		if gone(peerIP+" ", "ip", "neigh", "show", "dev", "vtep1024", "nud", "permanent")() {
			break
		}
	}
	if code != 1 || !strings.Contains(text, "FAIL overlayd: vtep neighbours") || !strings.Contains(text, "see:  ip neigh show dev vtep1024") ||
		!strings.Contains(text, "1 of ") {
		t.Errorf("text report of a deleted neighbour (exit %d):\n%s", code, text)
	}
	t.Logf("dcnetctl doctor after ip neigh del (exit %d):\n%s", code, text)
	waitDoctorOK(t, a2, doctorRepair, "after the text report")

	// A daemon that does not answer is reported, with what was skipped.
	if err := dnsProcs[1].Stop(); err != nil {
		t.Fatal(err)
	}
	rep, _, code := runDoctor(t, a2, true)
	var bad []string
	for _, c := range rep.Checks {
		if c.Status != doctor.OK {
			bad = append(bad, string(c.Status)+" "+c.Component+": "+c.Name)
		}
	}
	want := []string{"fail dcnet-dns: reachable", "skip dcnet-dns: l4lb.thisdcos.directory", "skip dcnet-dns: dcos.thisdcos.directory",
		"fail dcnet-dns: ready.spartan"}
	_, text, _ = runDoctor(t, a2, false)
	t.Logf("dcnetctl doctor with dcnet-dns stopped:\n%s", text)
	if code != 1 || strings.Join(bad, "\n") != strings.Join(want, "\n") {
		t.Errorf("stopped dcnet-dns: exit %d, checks not ok:\n  %s\nwant:\n  %s", code, strings.Join(bad, "\n  "), strings.Join(want, "\n  "))
	}
}

// etcdctl runs etcdctl with args against endpoints from node.
func etcdctl(node *netsim.Node, endpoints string, args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := node.Run(ctx, append([]string{"etcdctl", "--endpoints", endpoints, "--command-timeout", "2s"}, args...)...)
	if err != nil {
		return fmt.Errorf("etcdctl %v: %v: %s", args, err, out)
	}
	return nil
}
