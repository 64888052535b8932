package records

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/dcnet/dcnet/dns/mesos"
	"github.com/google/go-cmp/cmp"
)

// TestMasterRecords encodes mesos-dns records/generator_test.go
// TestMasterRecord (cases with an IP leader; domain foo.com).
func TestMasterRecords(t *testing.T) {
	leaderSRV := map[string][]string{
		"_leader._tcp.foo.com.": {"leader.foo.com.:7"},
		"_leader._udp.foo.com.": {"leader.foo.com.:7"},
	}
	tests := []struct {
		name     string
		masters  []string
		leader   string
		wantA    map[string][]string
		wantAAAA map[string][]string
	}{
		{
			name: "leader only", leader: "0.0.0.6:7",
			wantA: map[string][]string{"leader.foo.com.": {"0.0.0.6"}, "master.foo.com.": {"0.0.0.6"}, "master0.foo.com.": {"0.0.0.6"}},
		},
		{
			name: "ipv6 leader only", leader: "[2001:db8::1]:7",
			wantAAAA: map[string][]string{"leader.foo.com.": {"2001:db8::1"}, "master.foo.com.": {"2001:db8::1"}, "master0.foo.com.": {"2001:db8::1"}},
		},
		{
			name: "single master is the leader", masters: []string{"0.0.0.6:7"}, leader: "0.0.0.6:7",
			wantA: map[string][]string{"leader.foo.com.": {"0.0.0.6"}, "master.foo.com.": {"0.0.0.6"}, "master0.foo.com.": {"0.0.0.6"}},
		},
		{
			name: "leader not in list", masters: []string{"0.0.0.8:9"}, leader: "0.0.0.6:7",
			wantA: map[string][]string{"leader.foo.com.": {"0.0.0.6"}, "master.foo.com.": {"0.0.0.6", "0.0.0.8"}, "master0.foo.com.": {"0.0.0.8"}, "master1.foo.com.": {"0.0.0.6"}},
		},
		{
			name: "duplicate masters, leader not in list", masters: []string{"0.0.0.8:9", "0.0.0.8:9"}, leader: "0.0.0.6:7",
			wantA: map[string][]string{"leader.foo.com.": {"0.0.0.6"}, "master.foo.com.": {"0.0.0.6", "0.0.0.8"}, "master0.foo.com.": {"0.0.0.8"}, "master1.foo.com.": {"0.0.0.6"}},
		},
		{
			name: "leader last in list", masters: []string{"0.0.0.8:9", "0.0.0.6:7"}, leader: "0.0.0.6:7",
			wantA: map[string][]string{"leader.foo.com.": {"0.0.0.6"}, "master.foo.com.": {"0.0.0.6", "0.0.0.8"}, "master0.foo.com.": {"0.0.0.8"}, "master1.foo.com.": {"0.0.0.6"}},
		},
		{
			name: "leader listed twice", masters: []string{"0.0.0.8:9", "0.0.0.6:7", "0.0.0.6:7"}, leader: "0.0.0.6:7",
			wantA: map[string][]string{"leader.foo.com.": {"0.0.0.6"}, "master.foo.com.": {"0.0.0.6", "0.0.0.8"}, "master0.foo.com.": {"0.0.0.8"}, "master1.foo.com.": {"0.0.0.6"}},
		},
		{
			name: "leader in the middle", masters: []string{"0.0.0.8:9", "0.0.0.6:7", "0.0.0.7:0"}, leader: "0.0.0.6:7",
			wantA: map[string][]string{"leader.foo.com.": {"0.0.0.6"}, "master.foo.com.": {"0.0.0.6", "0.0.0.7", "0.0.0.8"}, "master0.foo.com.": {"0.0.0.8"}, "master1.foo.com.": {"0.0.0.6"}, "master2.foo.com.": {"0.0.0.7"}},
		},
		{
			name: "ipv6 master in list", masters: []string{"0.0.0.8:9", "0.0.0.6:7", "[2001:db8::1]:0"}, leader: "0.0.0.6:7",
			wantA:    map[string][]string{"leader.foo.com.": {"0.0.0.6"}, "master.foo.com.": {"0.0.0.6", "0.0.0.8"}, "master0.foo.com.": {"0.0.0.8"}, "master1.foo.com.": {"0.0.0.6"}},
			wantAAAA: map[string][]string{"master.foo.com.": {"2001:db8::1"}, "master2.foo.com.": {"2001:db8::1"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs, err := Generate(mesos.State{Leader: "master@" + tt.leader}, Config{Domain: "foo.com", Masters: tt.masters})
			if err != nil {
				t.Fatalf("Generate() error = %v", err)
			}
			want := map[Type]map[string][]string{TypeA: tt.wantA, TypeAAAA: tt.wantAAAA, TypeSRV: leaderSRV}
			for typ, w := range want {
				if w == nil {
					w = map[string][]string{}
				}
				if diff := cmp.Diff(w, rs.Strings(typ)); diff != "" {
					t.Errorf("%v records mismatch (-want +got):\n%s", typ, diff)
				}
			}
		})
	}
}

func TestGenerateLeaderErrors(t *testing.T) {
	tests := []struct {
		leader  string
		lookup  func(string) []netip.Addr
		wantErr string
	}{
		{leader: "", wantErr: "state has no leader"},
		{leader: "@", wantErr: "leader: parse pid"},
		{leader: "5@6", wantErr: "leader: parse pid"},
		{leader: "master@leader.example:5050", wantErr: "is not an IP address and cannot be resolved"},
		{leader: "master@leader.example:5050", lookup: func(string) []netip.Addr { return nil }, wantErr: "cannot be resolved"},
	}
	for _, tt := range tests {
		_, err := Generate(mesos.State{Leader: tt.leader}, Config{LookupHost: tt.lookup})
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("Generate(leader %q) error = %v, want containing %q", tt.leader, err, tt.wantErr)
		}
	}
	// A resolvable leader host name works.
	lookup := func(host string) []netip.Addr {
		return []netip.Addr{netip.MustParseAddr("2001:db8::9"), netip.MustParseAddr("10.0.0.9"), netip.MustParseAddr("10.0.0.10")}
	}
	rs, err := Generate(mesos.State{Leader: "master@leader.example:5050"}, Config{LookupHost: lookup})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := rs.Lookup("leader.mesos", TypeA); len(got) != 1 || got[0].Addr != netip.MustParseAddr("10.0.0.9") {
		t.Errorf("leader.mesos A = %v, want 10.0.0.9", got)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{name: "defaults", cfg: Config{}},
		{name: "default config", cfg: DefaultConfig()},
		{name: "multi-label domain", cfg: Config{Domain: "mesos.example"}},
		{name: "bad domain", cfg: Config{Domain: "mesos."}, wantErr: `domain "mesos."`},
		{name: "bad label", cfg: Config{Domain: "me_sos"}, wantErr: `label "me_sos"`},
		{name: "unknown source", cfg: Config{IPSources: []string{"netinfo", "autoip"}}, wantErr: `ip source "autoip": want one of`},
		{name: "duplicate source", cfg: Config{IPSources: []string{"host", "host"}}, wantErr: "listed twice"},
		{name: "bad master", cfg: Config{Masters: []string{"10.0.0.1"}}, wantErr: `master "10.0.0.1": want ip:port`},
		{name: "hostname master", cfg: Config{Masters: []string{"m1:5050"}}, wantErr: "is not an IP address"},
		{name: "listeners without mname", cfg: Config{Listeners: []netip.Addr{netip.MustParseAddr("10.0.0.1")}}, wantErr: "soa mname"},
	}
	for _, tt := range tests {
		err := tt.cfg.Validate()
		if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("%s: Validate() = %v, want %q", tt.name, err, tt.wantErr)
		}
	}
}
