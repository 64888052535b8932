package vip

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseLabel(t *testing.T) {
	v4 := netip.MustParseAddr("1.2.3.4")
	v6 := netip.MustParseAddr("fd01:c::5")
	tests := []struct {
		name, key, value, proto string
		want                    VIP
		notVIP                  bool
	}{
		{name: "named", key: "VIP_0", value: "web:80", proto: "tcp",
			want: VIP{Name: "web", Framework: "marathon", Port: 80, Protocol: "tcp"}},
		{name: "slash", key: "VIP_0", value: "/web:80", proto: "tcp",
			want: VIP{Name: "/web", Framework: "marathon", Port: 80, Protocol: "tcp"}},
		{name: "group", key: "VIP_1", value: "/group/web:8080", proto: "tcp",
			want: VIP{Name: "/group/web", Framework: "marathon", Port: 8080, Protocol: "tcp"}},
		{name: "udp port", key: "VIP_0", value: "/dns:53", proto: "udp",
			want: VIP{Name: "/dns", Framework: "marathon", Port: 53, Protocol: "udp"}},
		{name: "protocol case", key: "VIP_0", value: "/dns:53", proto: "UDP",
			want: VIP{Name: "/dns", Framework: "marathon", Port: 53, Protocol: "udp"}},
		{name: "lower-case key", key: "vip_0", value: "/web:80", proto: "tcp",
			want: VIP{Name: "/web", Framework: "marathon", Port: 80, Protocol: "tcp"}},
		{name: "bare key", key: "VIP", value: "/web:80", proto: "tcp",
			want: VIP{Name: "/web", Framework: "marathon", Port: 80, Protocol: "tcp"}},
		{name: "ipv4", key: "VIP_0", value: "1.2.3.4:80", proto: "tcp",
			want: VIP{IP: v4, Port: 80, Protocol: "tcp"}},
		{name: "ipv6", key: "VIP_0", value: "fd01:c::5:8080", proto: "tcp",
			want: VIP{IP: v6, Port: 8080, Protocol: "tcp"}},
		{name: "ipv6 brackets", key: "VIP_0", value: "[fd01:c::5]:8080", proto: "udp",
			want: VIP{IP: v6, Port: 8080, Protocol: "udp"}},
		{name: "max port", key: "VIP_0", value: "/web:65535", proto: "tcp",
			want: VIP{Name: "/web", Framework: "marathon", Port: 65535, Protocol: "tcp"}},
		{name: "udp scheme, no port protocol", key: "VIP_0", value: "udp:///dns:53", proto: "",
			want: VIP{Name: "/dns", Framework: "marathon", Port: 53, Protocol: "udp"}},
		{name: "tcp scheme, no port protocol", key: "VIP_0", value: "TCP://web:80", proto: "",
			want: VIP{Name: "web", Framework: "marathon", Port: 80, Protocol: "tcp"}},
		{name: "no scheme, no port protocol: tcp", key: "VIP_0", value: "/web:80", proto: "",
			want: VIP{Name: "/web", Framework: "marathon", Port: 80, Protocol: "tcp"}},
		{name: "udp scheme on a udp port", key: "VIP_0", value: "udp://[fd01:c::5]:53", proto: "udp",
			want: VIP{IP: v6, Port: 53, Protocol: "udp"}},
		{name: "udp scheme on a tcp port: not this port's", key: "VIP_0", value: "udp:///dns:53", proto: "tcp", notVIP: true},
		{name: "other key", key: "HAPROXY_0_VHOST", value: "web:80", proto: "tcp", notVIP: true},
		{name: "mixed-case key is not a VIP key", key: "Vip_0", value: "web:80", proto: "tcp", notVIP: true},
		{name: "network-scope", key: "network-scope", value: "container", proto: "tcp", notVIP: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok, err := ParseLabel(tt.key, tt.value, tt.proto, "marathon")
			if err != nil {
				t.Fatalf("ParseLabel(%q, %q): %v", tt.key, tt.value, err)
			}
			if ok == tt.notVIP {
				t.Fatalf("ParseLabel(%q, %q) ok = %v, want %v", tt.key, tt.value, ok, !tt.notVIP)
			}
			if diff := cmp.Diff(tt.want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b }), cmp.Comparer(func(a, b netip.AddrPort) bool { return a == b })); diff != "" {
				t.Errorf("ParseLabel(%q, %q) (-want +got):\n%s", tt.key, tt.value, diff)
			}
		})
	}
}

func TestParseLabelErrors(t *testing.T) {
	tests := []struct {
		value, proto, wantReason string
	}{
		{"/web", "tcp", "missing :port"},
		{"/web:", "tcp", "empty port"},
		{"/web:http", "tcp", `bad port "http"`},
		{"/web:-1", "tcp", `bad port "-1"`},
		{"/web:+80", "tcp", `bad port "+80"`},
		{"/web:65536", "tcp", `bad port "65536"`},
		{"/web:0", "tcp", "port 0"},
		{":80", "tcp", "empty name"},
		{"a:b:80", "tcp", "too many colons"},
		{"udp://a:b:80", "", "too many colons"},
		{"sctp://web:80", "", "too many colons"},
		{"fd01:c::5:zz", "tcp", `bad port "zz"`},
		{"fe80::1%eth0:80", "tcp", "has a zone"},
		{"[1.2.3.4]:80", "tcp", "bad IPv6 address"},
		{"/:80", "tcp", "no DNS-safe characters"},
		{"/!!/--:80", "tcp", "no DNS-safe characters"},
		{"/web:80", "sctp", `protocol "sctp" is not tcp or udp`},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			_, ok, err := ParseLabel("VIP_3", tt.value, tt.proto, "marathon")
			if !ok || err == nil {
				t.Fatalf("ParseLabel(VIP_3, %q) = ok %v, err %v; want an error", tt.value, ok, err)
			}
			var le *LabelError
			if !errors.As(err, &le) || le.Key != "VIP_3" || le.Value != tt.value {
				t.Fatalf("error %v does not name the label: %#v", err, le)
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.wantReason) || !strings.Contains(msg, "VIP_3") || !strings.Contains(msg, tt.value) {
				t.Errorf("error %q: want it to name VIP_3, %q and %q", msg, tt.value, tt.wantReason)
			}
		})
	}
}

func TestParseTaskLabel(t *testing.T) {
	tests := []struct {
		key, value string
		wantIdx    int
		want       VIP
		notTask    bool
		wantErr    string
	}{
		{key: "VIP_PORT0", value: "tcp://def:80", want: VIP{Name: "def", Framework: "marathon", Port: 80, Protocol: "tcp"}},
		{key: "vip_port1", value: "tcp://jkl:80", wantIdx: 1, want: VIP{Name: "jkl", Framework: "marathon", Port: 80, Protocol: "tcp"}},
		{key: "VIP_PORT2", value: "udp:///dns:53", wantIdx: 2, want: VIP{Name: "/dns", Framework: "marathon", Port: 53, Protocol: "udp"}},
		{key: "VIP_PORT3", value: "TCP://1.2.3.4:80", wantIdx: 3, want: VIP{IP: netip.MustParseAddr("1.2.3.4"), Port: 80, Protocol: "tcp"}},
		{key: "VIP_0", value: "/web:80", notTask: true},
		{key: "VIP_PORT", value: "tcp://web:80", wantErr: `port index ""`},
		{key: "VIP_PORTx", value: "tcp://web:80", wantErr: `port index "x"`},
		{key: "VIP_PORT-1", value: "tcp://web:80", wantErr: `port index "-1"`},
		{key: "VIP_PORT99999", value: "tcp://web:80", wantErr: `port index "99999"`},
		{key: "VIP_PORT0", value: "web:80", wantErr: "want tcp://name:port"},
		{key: "VIP_PORT0", value: "sctp://web:80", wantErr: "want tcp://name:port"},
		{key: "VIP_PORT0", value: "tcp://web:0", wantErr: "port 0"},
		{key: "VIP_PORT0", value: "tcp://:80", wantErr: "empty name"},
	}
	for _, tt := range tests {
		t.Run(tt.key+"="+tt.value, func(t *testing.T) {
			idx, got, ok, err := ParseTaskLabel(tt.key, tt.value, "marathon")
			if ok == tt.notTask {
				t.Fatalf("ok = %v, want %v", ok, !tt.notTask)
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), tt.key) {
					t.Fatalf("err = %v, want one naming %s and %q", err, tt.key, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if idx != tt.wantIdx || got != tt.want {
				t.Errorf("got (%d, %v), want (%d, %v)", idx, got, tt.wantIdx, tt.want)
			}
		})
	}
}

// TestSeveralVIPsPerPortAndProtocols checks that each VIP label of a port
// counts and that TCP and UDP on the same port are distinct services.
func TestSeveralVIPsPerPortAndProtocols(t *testing.T) {
	labels := [][2]string{{"VIP_0", "/abc:80"}, {"VIP_1", "/cbd:80"}, {"network-scope", "host"}, {"vip_2", "10.1.1.1:80"}}
	keys := map[Key]bool{}
	for _, proto := range []string{"tcp", "udp"} {
		for _, l := range labels {
			v, ok, err := ParseLabel(l[0], l[1], proto, "marathon")
			if err != nil {
				t.Fatal(err)
			}
			if ok {
				keys[v.Key()] = true
			}
		}
	}
	if len(keys) != 6 {
		t.Errorf("got %d distinct keys, want 6 (3 VIPs x tcp, udp): %v", len(keys), keys)
	}
	tcp, _ := ParseValue("/web:80", "tcp", "marathon")
	udp, _ := ParseValue("/web:80", "udp", "marathon")
	if tcp.Key() == udp.Key() {
		t.Errorf("tcp and udp share key %v", tcp.Key())
	}
	slash, _ := ParseValue("/web:80", "tcp", "marathon")
	bare, _ := ParseValue("web:80", "tcp", "marathon")
	if slash.Key() != bare.Key() {
		t.Errorf("/web and web differ: %v vs %v", slash.Key(), bare.Key())
	}
}

func TestStrings(t *testing.T) {
	v, _ := ParseValue("/web:80", "tcp", "marathon")
	ip, _ := ParseValue("fd01:c::5:8080", "udp", "")
	for _, c := range []struct{ got, want string }{
		{v.String(), "tcp:///web@marathon:80"},
		{v.Key().String(), "tcp://web.marathon.l4lb.thisdcos.directory:80"},
		{ip.String(), "udp://[fd01:c::5]:8080"},
		{ip.Key().String(), "udp://[fd01:c::5]:8080"},
		{ip.DNSName(), ""},
		{Backend{IP: netip.MustParseAddr("9.0.1.6"), Port: 80, Node: "a1"}.String(), "9.0.1.6:80 node a1 unhealthy"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}
