package cnm

import (
	"strings"
	"testing"

	"github.com/dcnet/dcnet/overlayd/api"
	"github.com/google/go-cmp/cmp"
)

func TestParseNetworkOptions(t *testing.T) {
	g := func(kv ...string) map[string]any {
		m := map[string]any{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return map[string]any{optGeneric: m, "com.docker.network.enable_ipv6": true}
	}
	for _, c := range []struct {
		name string
		opts map[string]any
		want NetworkOptions
		err  string
	}{
		{"none", nil, NetworkOptions{Overlay: "dcos"}, ""},
		{"overlay", g("dcnet.overlay", "dcos6"), NetworkOptions{Overlay: "dcos6"}, ""},
		{"labels", g("VIP_0", "/web:80", "vip_1", "1.2.3.4:80", "dcnet.label.team", "x", "dcnet.task", "web", "dcnet.framework", "marathon"),
			NetworkOptions{Overlay: "dcos", Labels: map[string]string{"VIP_0": "/web:80", "vip_1": "1.2.3.4:80", "team": "x", LabelTask: "web", LabelFramework: "marathon"}}, ""},
		{"ipv6 vip", g("VIP_0", "fd01:c::5:8080"), NetworkOptions{Overlay: "dcos", Labels: map[string]string{"VIP_0": "fd01:c::5:8080"}}, ""},
		{"unknown", g("bogus", "1"), NetworkOptions{}, `unknown option "bogus"`},
		{"unknown dcnet", g("dcnet.ovrlay", "x"), NetworkOptions{}, `unknown option "dcnet.ovrlay"`},
		{"bad overlay", g("dcnet.overlay", "a/b"), NetworkOptions{}, "dcnet.overlay"},
		{"empty overlay", g("dcnet.overlay", ""), NetworkOptions{}, "dcnet.overlay"},
		{"vip without port", g("VIP_0", "web"), NetworkOptions{}, "VIP_0"},
		{"vip bad port", g("VIP_0", "web:99999"), NetworkOptions{}, "VIP_0"},
		{"vip no name", g("VIP_0", ":80"), NetworkOptions{}, "VIP_0"},
		{"bad label key", g("dcnet.label.", "x"), NetworkOptions{}, "dcnet.label."},
		{"bad task", g("dcnet.task", "a b"), NetworkOptions{}, "dcnet.task"},
		{"generic not a map", map[string]any{optGeneric: "x"}, NetworkOptions{}, optGeneric},
		{"value not a string", map[string]any{optGeneric: map[string]any{"dcnet.overlay": 5}}, NetworkOptions{}, "dcnet.overlay"},
	} {
		got, err := ParseNetworkOptions(c.opts)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: error %v, want one naming %q", c.name, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
		} else if d := cmp.Diff(c.want, got); d != "" {
			t.Errorf("%s (-want +got):\n%s", c.name, d)
		}
	}
}

func TestParseEndpointOptions(t *testing.T) {
	opts := map[string]any{
		"com.docker.network.endpoint.exposedports": []any{map[string]any{"Proto": 6, "Port": 80}},
		"com.docker.network.portmap": []any{
			map[string]any{"Proto": 6, "IP": "", "Port": 80, "HostIP": "", "HostPort": 8080, "HostPortEnd": 8080},
			map[string]any{"Proto": 17, "Port": 53, "HostPort": 5353, "HostPortEnd": 5354},
			map[string]any{"Proto": 6, "Port": 81}, // exposed, not published
		},
		"vip_0":      "/web:80",
		"other.key":  "ignored",
		optGeneric:   map[string]any{"dcnet.task": "web"},
		"some.other": 5,
	}
	got, err := ParseEndpointOptions(opts)
	if err != nil {
		t.Fatal(err)
	}
	want := EndpointOptions{
		Labels: map[string]string{"vip_0": "/web:80", LabelTask: "web"},
		PortMappings: []api.PortMapping{{HostPort: 8080, ContainerPort: 80, Protocol: "tcp"},
			{HostPort: 5353, ContainerPort: 53, Protocol: "udp"}, {HostPort: 5354, ContainerPort: 53, Protocol: "udp"}},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	for _, bad := range []map[string]any{
		{"dcnet.bogus": "1"},
		{"VIP_0": "nope"},
		{"dcnet.task": 5},
		{"com.docker.network.portmap": "garbage"},
	} {
		if _, err := ParseEndpointOptions(bad); err == nil {
			t.Errorf("%v: accepted", bad)
		}
	}
}
