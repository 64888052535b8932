package doctor

import (
	"net"
	"net/netip"
	"slices"
	"testing"

	"github.com/dcnet/dcnet/overlayd/api"
	"github.com/dcnet/dcnet/overlayd/datapath"
)

func TestWantPeers(t *testing.T) {
	// a2 itself in the list (by name) is never planned; a1 is, both
	// families.
	peers := append(healthyPeers(), api.Peer{Name: "a2", UnderlayIP: "198.18.0.3", VTEPIP: "44.128.0.2", VTEPMAC: "70:b3:d5:80:00:02", Subnets: []string{"9.0.2.0/24"}})
	want, owner := WantPeers(healthyStatus(), peers)
	got := want.Lines("vtep1024")
	exp := []string{
		"fdb 70:b3:d5:80:00:01 dst 198.18.0.2 dev vtep1024",
		"neigh 44.128.0.1 lladdr 70:b3:d5:80:00:01 dev vtep1024 permanent",
		"neigh fd01:a::1 lladdr 70:b3:d5:80:00:01 dev vtep1024 permanent",
		"route 9.0.1.0/24 via 44.128.0.1 dev vtep1024 onlink",
		"route fd01:b::/80 via fd01:a::1 dev vtep1024 onlink",
	}
	slices.Sort(exp)
	if !slices.Equal(got, exp) {
		t.Errorf("planned:\n%q\nwant:\n%q", got, exp)
	}
	if owner["route 9.0.1.0/24"] != "a1" || owner["fdb 70:b3:d5:80:00:01"] != "a1" {
		t.Errorf("owners: %v", owner)
	}
}

func TestCheckPeers(t *testing.T) {
	mac := func(s string) net.HardwareAddr { m, _ := net.ParseMAC(s); return m }
	ip := netip.MustParseAddr
	for _, tc := range []struct {
		name   string
		change func(*datapath.PeerState)
		want   []string
	}{
		{"healthy", func(*datapath.PeerState) {}, nil},
		{"ip neigh del", func(s *datapath.PeerState) { s.Neighs = s.Neighs[1:] },
			[]string{"missing 44.128.0.1 lladdr 70:b3:d5:80:00:01 PERMANENT"}},
		{"neighbour with another mac", func(s *datapath.PeerState) { s.Neighs[1].MAC = mac("70:b3:d5:80:00:09") },
			[]string{"wrong fd01:a::1"}},
		{"left-over neighbour", func(s *datapath.PeerState) {
			s.Neighs = append(s.Neighs, datapath.Neigh{IP: ip("44.128.0.9"), MAC: mac("70:b3:d5:80:00:09")})
		}, []string{"extra 44.128.0.9 lladdr 70:b3:d5:80:00:09 PERMANENT"}},
		{"bridge fdb del", func(s *datapath.PeerState) { s.FDB = nil },
			[]string{"missing 70:b3:d5:80:00:01 dst 198.18.0.2 self permanent"}},
		{"fdb to another underlay", func(s *datapath.PeerState) { s.FDB[0].Dst = ip("198.18.0.9") },
			[]string{"wrong 70:b3:d5:80:00:01"}},
		{"fdb with a second destination", func(s *datapath.PeerState) {
			s.FDB = append(s.FDB, datapath.FDBEntry{MAC: s.FDB[0].MAC, Dst: ip("198.18.0.9")})
		}, []string{"extra 70:b3:d5:80:00:01 dst 198.18.0.9 self permanent"}},
		{"fdb of a departed node", func(s *datapath.PeerState) {
			s.FDB = append(s.FDB, datapath.FDBEntry{MAC: mac("70:b3:d5:80:00:07"), Dst: ip("198.18.0.7")})
		}, []string{"extra 70:b3:d5:80:00:07 dst 198.18.0.7 self permanent"}},
		{"ip route del", func(s *datapath.PeerState) { s.Routes = s.Routes[1:] },
			[]string{"missing 9.0.1.0/24 via 44.128.0.1 onlink"}},
		{"route not onlink", func(s *datapath.PeerState) { s.Routes[1].OnLink = false }, []string{"wrong fd01:b::/80"}},
		{"route at a second metric", func(s *datapath.PeerState) {
			r := s.Routes[0]
			r.Metric = 100
			s.Routes = append(s.Routes, r)
		}, []string{"extra 9.0.1.0/24 via 44.128.0.1 onlink metric 100"}},
		{"route of a departed node", func(s *datapath.PeerState) {
			s.Routes = append(s.Routes, datapath.Route{Dst: netip.MustParsePrefix("9.0.7.0/24"), Via: ip("44.128.0.7"), OnLink: true})
		}, []string{"extra 9.0.7.0/24 via 44.128.0.7 onlink"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := healthyStatus()
			have, _ := WantPeers(st, healthyPeers())
			have.Neighs, have.FDB, have.Routes = slices.Clone(have.Neighs), slices.Clone(have.FDB), slices.Clone(have.Routes)
			tc.change(&have)
			cs := CheckPeers(st, healthyPeers(), have)
			var got Check
			got.Component, got.Name, got.Status = Overlayd, "vtep", OK
			for _, c := range cs {
				got.Findings = append(got.Findings, c.Findings...)
				if c.Status == Failed {
					got.Status = Failed
				}
			}
			wantLines(t, got, tc.want...)
		})
	}
}

func TestCheckPeersCommands(t *testing.T) {
	st := healthyStatus()
	cs := CheckPeers(st, healthyPeers(), datapath.PeerState{})
	want := map[string]string{
		"vtep neighbours": "ip neigh show dev vtep1024",
		"vtep fdb":        "bridge fdb show dev vtep1024",
	}
	for _, c := range cs {
		for _, f := range c.Findings {
			if w, ok := want[c.Name]; ok && f.Command != w {
				t.Errorf("%s: %q command %q, want %q", c.Name, f.Object, f.Command, w)
			}
			if c.Name == "vtep routes" {
				w := "ip route show dev vtep1024"
				if f.Object == "fd01:b::/80 via fd01:a::1 onlink" {
					w = "ip -6 route show dev vtep1024"
				}
				if f.Command != w {
					t.Errorf("route %q command %q, want %q", f.Object, f.Command, w)
				}
			}
			if f.Detail != "peer a1" {
				t.Errorf("%q: detail %q, want peer a1", f.Object, f.Detail)
			}
		}
	}
}
