package doctor

import (
	"net/netip"
	"testing"

	"github.com/dcnet/dcnet/overlayd/api"
)

func TestCheckStatus(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*api.Status)
		want   []string
	}{
		{"healthy", func(*api.Status) {}, nil},
		{"store down", func(s *api.Status) { s.StoreOK, s.StoreError = false, "context deadline exceeded" },
			[]string{"wrong overlayd's store http://198.18.0.1:2379"}},
		{"pending", func(s *api.Status) { s.PendingPublish = 3 }, []string{"wrong endpoint records"}},
		{"never published", func(s *api.Status) { s.PendingPublish = -1 }, []string{"wrong endpoint records"}},
		{"peers unknown", func(s *api.Status) { s.PeersUnknown = true }, []string{"wrong peer list"}},
		{"warning", func(s *api.Status) { s.Warnings = []string{"overlay dcos: mtu 1500 does not fit"} }, []string{"wrong configuration"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := healthyStatus()
			tc.change(&st)
			wantLines(t, CheckStatus(st), tc.want...)
		})
	}
}

func TestCheckVTEP(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*Link) *Link
		want   []string
	}{
		{"healthy", func(l *Link) *Link { return l }, nil},
		{"missing", func(*Link) *Link { return nil }, []string{"missing vtep1024"}},
		{"not vxlan", func(l *Link) *Link { l.Kind = "dummy"; l.VNI, l.Port, l.Local = 0, 0, netip.Addr{}; return l },
			[]string{"wrong vtep1024 type"}},
		{"vni port local", func(l *Link) *Link { l.VNI, l.Port, l.Local = 1025, 4789, netip.MustParseAddr("198.18.0.9"); return l },
			[]string{"wrong vtep1024 vxlan id", "wrong vtep1024 dstport", "wrong vtep1024 local"}},
		{"mac mtu down", func(l *Link) *Link { l.MAC, l.MTU, l.Up = "70:b3:d5:80:00:09", 1500, false; return l },
			[]string{"wrong vtep1024 address", "wrong vtep1024 mtu", "wrong vtep1024 state"}},
		{"addresses gone", func(l *Link) *Link { l.Addrs = nil; return l },
			[]string{"missing address 44.128.0.2 on vtep1024", "missing address fd01:a::2 on vtep1024"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := healthyVTEP()
			wantLines(t, CheckVTEP(healthyStatus(), tc.change(&l)), tc.want...)
		})
	}
}

func TestCheckBridges(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*Link) *Link
		nets   func([]api.Network)
		want   []string
	}{
		{"healthy", func(l *Link) *Link { return l }, nil, nil},
		{"missing", func(*Link) *Link { return nil }, nil, []string{"missing bridge m-dcos"}},
		{"down, wrong mac and mtu", func(l *Link) *Link { l.Up, l.MAC, l.MTU = false, "0a:58:00:00:00:01", 1500; return l }, nil,
			[]string{"wrong m-dcos state", "wrong m-dcos address", "wrong m-dcos mtu"}},
		{"an empty bridge's mtu is the kernel's", func(l *Link) *Link { l.MTU, l.Ports = 1500, 0; return l }, nil, nil},
		{"gateway gone, stale lease", func(l *Link) *Link {
			l.Addrs = []netip.Prefix{netip.MustParsePrefix("9.0.7.1/24"), netip.MustParsePrefix("fd01:b::1:0:0:1/80")}
			return l
		}, nil, []string{"missing address 9.0.2.1/24 on m-dcos", "extra address 9.0.7.1/24 on m-dcos"}},
		{"not a bridge", func(l *Link) *Link { l.Kind = "veth"; return l }, nil, []string{"wrong m-dcos type"}},
		{"subnet not ready: no mac check", func(l *Link) *Link { l.MAC = "0a:58:00:00:00:01"; return l },
			func(ns []api.Network) { ns[0].NodeSubnet6, ns[0].Gateway6 = "", "" },
			[]string{"extra address fd01:b::1:0:0:1/80 on m-dcos"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := healthyStatus()
			if tc.nets != nil {
				tc.nets(st.Networks)
			}
			l := healthyBridge()
			wantLines(t, CheckBridges(st.Networks, map[string]*Link{"m-dcos": tc.change(&l)}), tc.want...)
		})
	}
}
