package doctor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/dcnet/dcnet/cluster"
	"github.com/dcnet/dcnet/l4lb/l4lbapi"
	"github.com/dcnet/dcnet/overlayd/api"
	"github.com/dcnet/dcnet/overlayd/datapath"
)

// healthySources is a healthy node a2 behind fakes.
func healthySources(t *testing.T) (Sources, *FakeOverlayd, *FakeKernel, *FakeStore, *FakeL4LB, *FakeDNS) {
	o := &FakeOverlayd{St: healthyStatus(), Ps: healthyPeers(), Atts: healthyAttachments()}
	have, _ := WantPeers(o.St, o.Ps)
	k := &FakeKernel{Links: map[string]Link{"vtep1024": healthyVTEP(), "m-dcos": healthyBridge()},
		Peers: map[string]datapath.PeerState{"vtep1024": have}, Tables: map[string]NFTTable{"ip": readTable(t, "ip"), "ip6": readTable(t, "ip6")}}
	s := healthyStore()
	s.Put(cluster.VIPNamesPrefix+"web.marathon.l4lb.thisdcos.directory", string(jsonOf(cluster.VIPName{Name: "web.marathon.l4lb.thisdcos.directory",
		Addrs: []string{"11.0.0.1", "fd01:c::5"}})), 0)
	s.Put(cluster.TaskNamesPrefix+taskName, `["9.0.1.2"]`, 0)
	l := &FakeL4LB{V: healthyVIPs()}
	d := &FakeDNS{Recs: healthyRecords(), Answers: map[string][]string{"198.51.100.1:53": {"127.0.0.1"}, "198.51.100.2:53": {"127.0.0.1"}}}
	src := Sources{Overlayd: o, OverlaydAt: "/run/dcnet/overlayd.sock", Kernel: k,
		OpenStore: func(st *api.Status) (Store, Etcdctl, error) {
			if st == nil {
				return nil, "", errors.New("overlayd did not say where the store is: pass --etcd-endpoints")
			}
			return s, "etcdctl", nil
		},
		L4LB: l, L4LBAt: "127.0.0.1:62083", DNS: d, DNSAt: "127.0.0.1:62080", DNSServers: []string{"198.51.100.1:53", "198.51.100.2:53"}}
	return src, o, k, s, l, d
}

// statuses renders every check as "status component: name".
func statuses(r Report) []string {
	var out []string
	for _, c := range r.Checks {
		out = append(out, string(c.Status)+" "+c.Component+": "+c.Name)
	}
	return out
}

func TestRunHealthy(t *testing.T) {
	src, _, _, _, _, _ := healthySources(t)
	r := Run(context.Background(), src)
	passed, failed, skip := r.Counts()
	if !r.OK() || failed != 0 || skip != 0 || passed != 21 || r.Node != "a2" {
		for _, c := range r.Checks {
			if c.Status != OK {
				t.Errorf("%s %s: %s %+v", c.Component, c.Name, c.Reason, c.Findings)
			}
		}
		t.Fatalf("healthy node: %d passed %d failed %d skipped, node %q:\n%s", passed, failed, skip, r.Node, strings.Join(statuses(r), "\n"))
	}
	var out bytes.Buffer
	r.WriteText(&out, false)
	if out.String() != "all 21 checks passed\n" {
		t.Errorf("text report of a healthy node:\n%s", out.String())
	}
}

func TestRunDamage(t *testing.T) {
	src, _, k, _, _, _ := healthySources(t)
	st := k.Peers["vtep1024"]
	st.Neighs = st.Neighs[1:]
	k.Peers["vtep1024"] = st
	r := Run(context.Background(), src)
	if r.OK() {
		t.Fatal("a deleted neighbour passed")
	}
	var out bytes.Buffer
	r.WriteText(&out, false)
	want := "FAIL overlayd: vtep neighbours (2 compared)\n" +
		"  missing: 44.128.0.1 lladdr 70:b3:d5:80:00:01 PERMANENT\n" +
		"    why:  peer a1\n" +
		"    see:  ip neigh show dev vtep1024\n" +
		"1 of 21 checks failed\n"
	if out.String() != want {
		t.Errorf("text report:\n%s\nwant:\n%s", out.String(), want)
	}
	out.Reset()
	if err := r.WriteJSON(&out); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		OK     bool
		Failed int
		Checks []Check
	}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil || doc.OK || doc.Failed != 1 || len(doc.Checks) != 21 {
		t.Errorf("json report: %v %+v\n%s", err, doc, out.String())
	}
}

func TestRunMissingDaemons(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*Sources, *FakeOverlayd, *FakeKernel, *FakeStore, *FakeL4LB, *FakeDNS)
		ok     bool
		want   []string // checks that are not ok
	}{
		{"overlayd down", func(_ *Sources, o *FakeOverlayd, _ *FakeKernel, _ *FakeStore, _ *FakeL4LB, _ *FakeDNS) {
			o.Err = errors.New("overlayd unreachable at /run/dcnet/overlayd.sock: connection refused")
		}, false, []string{"fail overlayd: status", "skip overlayd: vtep device", "skip overlayd: vtep neighbours", "skip overlayd: vtep fdb",
			"skip overlayd: vtep routes", "skip overlayd: bridges", "fail etcd: reachable", "skip overlayd: node record",
			"skip overlayd: subnet and VTEP leases", "skip overlayd: liveness", "skip overlayd: endpoint records", "skip overlayd: peers vs node records",
			"skip dcnet-l4lb: vip names", "skip dcnet-dns: l4lb.thisdcos.directory", "skip dcnet-dns: dcos.thisdcos.directory"}},
		{"l4lb and dns not on this node", func(s *Sources, _ *FakeOverlayd, _ *FakeKernel, _ *FakeStore, _ *FakeL4LB, _ *FakeDNS) {
			s.L4LB, s.DNS = nil, nil
		}, true, []string{"skip dcnet-l4lb: reachable", "skip dcnet-l4lb: vip addresses", "skip dcnet-l4lb: nft table ip dcnet-l4lb", "skip dcnet-l4lb: nft table ip6 dcnet-l4lb",
			"skip dcnet-l4lb: vip names", "skip dcnet-dns: reachable", "skip dcnet-dns: l4lb.thisdcos.directory",
			"skip dcnet-dns: dcos.thisdcos.directory", "skip dcnet-dns: ready.spartan"}},
		{"l4lb down", func(_ *Sources, _ *FakeOverlayd, _ *FakeKernel, _ *FakeStore, l *FakeL4LB, _ *FakeDNS) {
			l.Err = errors.New("connection refused")
		}, false, []string{"fail dcnet-l4lb: reachable", "skip dcnet-l4lb: vip addresses", "skip dcnet-l4lb: nft table ip dcnet-l4lb", "skip dcnet-l4lb: nft table ip6 dcnet-l4lb",
			"skip dcnet-l4lb: vip names"}},
		{"dns down", func(_ *Sources, _ *FakeOverlayd, _ *FakeKernel, _ *FakeStore, _ *FakeL4LB, d *FakeDNS) {
			d.Err, d.Answers = errors.New("connection refused"), nil
		}, false, []string{"fail dcnet-dns: reachable", "skip dcnet-dns: l4lb.thisdcos.directory", "skip dcnet-dns: dcos.thisdcos.directory",
			"fail dcnet-dns: ready.spartan"}},
		{"store down", func(_ *Sources, _ *FakeOverlayd, _ *FakeKernel, s *FakeStore, _ *FakeL4LB, _ *FakeDNS) {
			s.Err = errors.New("context deadline exceeded")
		}, false, []string{"fail etcd: reachable", "skip overlayd: node record", "skip overlayd: subnet and VTEP leases", "skip overlayd: liveness",
			"skip overlayd: endpoint records", "skip overlayd: peers vs node records", "skip dcnet-l4lb: vip names",
			"skip dcnet-dns: l4lb.thisdcos.directory", "skip dcnet-dns: dcos.thisdcos.directory"}},
		{"no nft", func(_ *Sources, _ *FakeOverlayd, k *FakeKernel, _ *FakeStore, _ *FakeL4LB, _ *FakeDNS) {
			k.NFTErr = errors.New("nft not found: install nftables")
		}, false, []string{"fail dcnet-l4lb: nft table ip dcnet-l4lb", "fail dcnet-l4lb: nft table ip6 dcnet-l4lb"}},
		{"refused ip vip", func(_ *Sources, _ *FakeOverlayd, _ *FakeKernel, _ *FakeStore, l *FakeL4LB, _ *FakeDNS) {
			l.R = []l4lbapi.Refused{{VIP: "11.0.0.1:8080", Protocol: "tcp", Port: 8080, Address: "11.0.0.1",
				HeldBy: "web.marathon.l4lb.thisdcos.directory", Since: "2024-01-02T03:04:05Z"}}
		}, false, []string{"fail dcnet-l4lb: vip addresses"}},
		{"no vtep device", func(_ *Sources, _ *FakeOverlayd, k *FakeKernel, _ *FakeStore, _ *FakeL4LB, _ *FakeDNS) {
			delete(k.Links, "vtep1024")
		}, false, []string{"fail overlayd: vtep device", "skip overlayd: vtep neighbours", "skip overlayd: vtep fdb", "skip overlayd: vtep routes"}},
		{"peers unknown", func(_ *Sources, o *FakeOverlayd, _ *FakeKernel, _ *FakeStore, _ *FakeL4LB, _ *FakeDNS) {
			o.St.PeersUnknown = true
		}, false, []string{"fail overlayd: status", "skip overlayd: vtep neighbours", "skip overlayd: vtep fdb", "skip overlayd: vtep routes",
			"skip overlayd: peers vs node records"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src, o, k, s, l, d := healthySources(t)
			tc.change(&src, o, k, s, l, d)
			r := Run(context.Background(), src)
			var bad []string
			for _, c := range statuses(r) {
				if !strings.HasPrefix(c, "ok ") {
					bad = append(bad, c)
				}
			}
			if strings.Join(bad, "\n") != strings.Join(tc.want, "\n") || r.OK() != tc.ok {
				t.Errorf("ok %v, checks not ok:\n  %s\nwant ok %v:\n  %s", r.OK(), strings.Join(bad, "\n  "), tc.ok, strings.Join(tc.want, "\n  "))
			}
			for _, c := range r.Checks {
				if c.Status == Skipped && c.Reason == "" {
					t.Errorf("%s %s skipped without a reason", c.Component, c.Name)
				}
			}
		})
	}
}

func TestWriteTextBounded(t *testing.T) {
	var fs []Finding
	for range maxTextFindings + 5 {
		fs = append(fs, Finding{Kind: Missing, Object: "x", Command: "nft list map ip dcnet-l4lb backends"})
	}
	r := Report{Checks: []Check{newCheck(L4LB, "nft table ip dcnet-l4lb", 25, fs)}}
	var out bytes.Buffer
	r.WriteText(&out, false)
	if n := strings.Count(out.String(), "missing: x"); n != maxTextFindings || !strings.Contains(out.String(), "... and 5 more") {
		t.Errorf("%d findings printed:\n%s", n, out.String())
	}
	out.Reset()
	r.WriteText(&out, true)
	if n := strings.Count(out.String(), "missing: x"); n != maxTextFindings+5 {
		t.Errorf("verbose: %d findings printed", n)
	}
}
