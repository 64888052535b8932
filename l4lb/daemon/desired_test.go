package daemon

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/dcnet/dcnet/cluster"
	"github.com/dcnet/dcnet/l4lb/dataplane"
	"github.com/dcnet/dcnet/l4lb/vip"
	"github.com/google/go-cmp/cmp"
)

const webName = "web.marathon.l4lb.thisdcos.directory"

func ep(node, id string, labels map[string]string, ips ...string) cluster.Endpoint {
	e := cluster.Endpoint{Node: node, NodeIP: "198.18.0.1"}
	e.Network, e.ContainerID, e.IfName = "dcos", id, "eth0"
	e.Labels = labels
	for _, ip := range ips {
		e.IPs = append(e.IPs, cluster.EndpointIP{Address: ip})
	}
	return e
}

// render prints services one per line: addr proto port -> active backends.
func render(ss []Service) string {
	var b strings.Builder
	for _, s := range ss {
		fmt.Fprintf(&b, "%s %s %d %s ->", s.Addr, s.Key.Protocol, s.Key.Port, s.Key.Name)
		for _, be := range s.Backends {
			fmt.Fprintf(&b, " %s", be.AddrPort())
		}
		b.WriteString("\n")
	}
	return b.String()
}

func TestDesired(t *testing.T) {
	web := map[string]string{"VIP_0": "/web:80"}
	eps := []cluster.Endpoint{
		ep("a1", "c1", web, "9.0.1.2/24", "fd01:b::1:2/80"),
		ep("a2", "c2", web, "9.0.2.2/24"),
		ep("a2", "c3", map[string]string{"VIP_0": "1.2.3.4:5000"}, "9.0.2.3/24", "fd01:b::2:3/80"),
	}
	addrs := map[AllocKey]netip.Addr{
		{dataplane.IPv4, webName}: netip.MustParseAddr("11.0.0.1"),
		{dataplane.IPv6, webName}: netip.MustParseAddr("fd01:c::1"),
	}
	tests := []struct {
		name        string
		alive       []string
		addrs       map[AllocKey]netip.Addr
		want        string
		wantMissing int
	}{
		{"all alive", []string{"a1", "a2"}, addrs, `1.2.3.4 tcp 5000  -> 9.0.2.3:5000
11.0.0.1 tcp 80 ` + webName + ` -> 9.0.1.2:80 9.0.2.2:80
fd01:c::1 tcp 80 ` + webName + ` -> [fd01:b::1:2]:80
`, 0},
		{"a2 dead", []string{"a1"}, addrs, `1.2.3.4 tcp 5000  -> 9.0.2.3:5000
11.0.0.1 tcp 80 ` + webName + ` -> 9.0.1.2:80
fd01:c::1 tcp 80 ` + webName + ` -> [fd01:b::1:2]:80
`, 0},
		{"all dead: fail open", nil, addrs, `1.2.3.4 tcp 5000  -> 9.0.2.3:5000
11.0.0.1 tcp 80 ` + webName + ` -> 9.0.1.2:80 9.0.2.2:80
fd01:c::1 tcp 80 ` + webName + ` -> [fd01:b::1:2]:80
`, 0},
		{"no address yet", []string{"a1", "a2"}, nil, "1.2.3.4 tcp 5000  -> 9.0.2.3:5000\n", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			alive := map[string]bool{}
			for _, n := range tt.alive {
				alive[n] = true
			}
			ss, missing, errs := Desired(Input{Endpoints: eps, Alive: alive, Addrs: tt.addrs})
			if len(errs) > 0 {
				t.Fatal(errs)
			}
			if d := cmp.Diff(tt.want, render(ss)); d != "" {
				t.Errorf("services (-want +got):\n%s", d)
			}
			if len(missing) != tt.wantMissing {
				t.Errorf("missing %v, want %d", missing, tt.wantMissing)
			}
			if _, errs := dataplane.Build(Plan(ss, "")); len(errs) > 0 {
				t.Errorf("plan: %v", errs)
			}
		})
	}
}

func TestParseAllocs(t *testing.T) {
	byName, used := parseAllocs([]cluster.KV{
		{Key: cluster.VIPNamePrefix + "ip/" + webName, Value: []byte("11.0.0.1")},
		{Key: cluster.VIPAddrPrefix + "11.0.0.1", Value: []byte("ip/" + webName)},
		{Key: cluster.VIPAddrPrefix + "11.0.0.2", Value: []byte("ip/other")},
		{Key: cluster.VIPNamePrefix + "bogus", Value: []byte("x")},
	})
	want := map[AllocKey]netip.Addr{{dataplane.IPv4, webName}: netip.MustParseAddr("11.0.0.1")}
	if d := cmp.Diff(want, byName, cmp.Comparer(func(a, b netip.Addr) bool { return a == b }), cmp.Comparer(func(a, b netip.AddrPort) bool { return a == b })); d != "" {
		t.Error(d)
	}
	if len(used) != 2 || used[netip.MustParseAddr("11.0.0.1")] != webName || used[netip.MustParseAddr("11.0.0.2")] != "other" {
		t.Errorf("owners %v", used)
	}
}

// TestDesiredMergesSources: a backend given by an endpoint record and by a
// Mesos task is one backend; it drains when the task is terminating.
func TestDesiredMergesSources(t *testing.T) {
	e := ep("a1", "c1", map[string]string{"VIP_0": "1.2.3.4:80"}, "9.0.1.2/24")
	v := vip.VIP{IP: netip.MustParseAddr("1.2.3.4"), Port: 80, Protocol: "tcp"}
	mesosB := vip.Binding{VIP: v, Backend: vip.Backend{IP: netip.MustParseAddr("9.0.1.2"), Port: 80, Node: "a1", Task: "t1", Healthy: true, Draining: true}}
	other := vip.Binding{VIP: v, Backend: vip.Backend{IP: netip.MustParseAddr("9.0.2.2"), Port: 80, Node: "a2", Task: "t2", Healthy: false}}
	ss, _, _ := Desired(Input{Endpoints: []cluster.Endpoint{e}, Alive: map[string]bool{"a1": true, "a2": true}, Bindings: []vip.Binding{mesosB, other}})
	if len(ss) != 1 || len(ss[0].Backends) != 2 {
		t.Fatalf("services: %+v", ss)
	}
	b0, b1 := ss[0].Backends[0], ss[0].Backends[1]
	if b0.AddrPort().String() != "9.0.1.2:80" || !b0.Draining || !b0.Healthy {
		t.Errorf("merged backend %s: want 9.0.1.2:80 draining and healthy", b0)
	}
	if b1.Healthy || b1.Draining {
		t.Errorf("mesos-only backend %s: want unhealthy, not draining", b1)
	}
}

// TestDesiredTieIsDeterministic: an IP VIP on a named VIP's address (a
// label written by hand inside 11.0.0.0/8) sorts first every time, so the
// data plane (which keeps the first) programs the same one on every sync.
func TestDesiredTieIsDeterministic(t *testing.T) {
	eps := []cluster.Endpoint{
		ep("a1", "c1", map[string]string{"VIP_0": "/web:80"}, "9.0.1.2/24"),
		ep("a1", "c2", map[string]string{"VIP_0": "11.0.0.1:80"}, "9.0.1.3/24"),
	}
	in := Input{Endpoints: eps, Alive: map[string]bool{"a1": true},
		Addrs: map[AllocKey]netip.Addr{{dataplane.IPv4, webName}: netip.MustParseAddr("11.0.0.1")}}
	first := ""
	for i := range 50 {
		ss, _, _ := Desired(in)
		got := render(ss)
		if i == 0 {
			first = got
			if !strings.HasPrefix(got, "11.0.0.1 tcp 80  -> 9.0.1.3:80\n") {
				t.Fatalf("the IP VIP does not sort first:\n%s", got)
			}
		} else if got != first {
			t.Fatalf("Desired %d gave another order:\n%s\nfirst:\n%s", i, got, first)
		}
	}
}

// TestInPlan: services the plan refuses (port 0) or shadows (a second
// service on the same address, protocol and port) are dropped, so they are
// neither listed nor given a name record.
func TestInPlan(t *testing.T) {
	b := vip.Backend{IP: netip.MustParseAddr("9.0.1.2"), Port: 80, Healthy: true}
	ipVIP := Service{Key: vip.Key{Protocol: vip.ProtoTCP, IP: netip.MustParseAddr("11.0.0.1"), Port: 80}, Addr: netip.MustParseAddr("11.0.0.1"), Backends: []vip.Backend{b}}
	named := Service{Key: vip.Key{Protocol: vip.ProtoTCP, Name: webName, Port: 80}, Addr: netip.MustParseAddr("11.0.0.1"), Backends: []vip.Backend{b}}
	udp := Service{Key: vip.Key{Protocol: vip.ProtoUDP, Name: webName, Port: 80}, Addr: netip.MustParseAddr("11.0.0.1"), Backends: []vip.Backend{b}}
	bad := Service{Key: vip.Key{Protocol: vip.ProtoTCP, Name: "db.marathon.l4lb.thisdcos.directory", Port: 0}, Addr: netip.MustParseAddr("11.0.0.2"), Backends: []vip.Backend{b}}
	services := []Service{ipVIP, named, udp, bad}
	plan, errs := dataplane.Build(Plan(services, ""))
	if len(errs) != 2 {
		t.Fatalf("Build: %d errors, want 2 (the shadowed and the port-0 service): %v", len(errs), errs)
	}
	got := inPlan(services, plan)
	if len(got) != 2 || got[0].Key != ipVIP.Key || got[1].Key != udp.Key {
		t.Errorf("inPlan kept %s, want the IP VIP and the UDP one", render(got))
	}
}

// TestPlanLocal: a host-port backend with a Local address is programmed at
// that address on its own node only.
func TestPlanLocal(t *testing.T) {
	hostPort := vip.Backend{IP: netip.MustParseAddr("198.18.0.2"), Port: 31000, Node: "a1", Healthy: true,
		Local: netip.MustParseAddrPort("172.31.254.5:80")}
	other := vip.Backend{IP: netip.MustParseAddr("9.0.2.3"), Port: 80, Node: "a2", Healthy: true}
	svc := []Service{{Key: vip.Key{Protocol: "tcp", IP: netip.MustParseAddr("5.6.7.8"), Port: 80}, Addr: netip.MustParseAddr("5.6.7.8"),
		Backends: []vip.Backend{hostPort, other}}}
	for node, want := range map[string]string{"a1": "172.31.254.5:80", "a2": "198.18.0.2:31000"} {
		got := Plan(svc, node)[0].Backends[0].AddrPort().String()
		if got != want {
			t.Errorf("on %s the host-port backend is %s, want %s", node, got, want)
		}
	}
	if svc[0].Backends[0].AddrPort().String() != "198.18.0.2:31000" {
		t.Error("Plan changed its input")
	}
}
