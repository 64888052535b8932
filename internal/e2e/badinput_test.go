package e2e

import (
	"fmt"
	"strings"
	"testing"
)

// tinyConfig has one overlay whose node subnet holds five addresses.
const tinyConfig = `{"overlays":[{"name":"tiny","subnet":"10.99.0.0/16","prefix":29}]}`

// TestPrivilegedBadInput: each bad input is a clear CNI error on stdout
// with a non-zero exit, and leaves nothing allocated or wired.
func TestPrivilegedBadInput(t *testing.T) {
	_, nd := setup(t, "ebad", tinyConfig)
	good := func(extra string) string {
		return fmt.Sprintf(`{"cniVersion":"1.0.0","name":"tiny","type":"dcnet","socket":%q%s}`, nd.socket, extra)
	}
	c, err := nd.AddContainer("x")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, conf string
		code       int
		msg        string
	}{
		{"malformed JSON", `{"cniVersion":"1.0.0","name":`, 6, ""},
		{"not an object", `[1,2]`, 6, ""},
		{"mtu of the wrong type", good(`,"mtu":"big"`), 7, "mtu"},
		{"mtu out of range", good(`,"mtu":70000`), 7, "mtu"},
		{"labels of the wrong type", good(`,"args":{"labels":"VIP_0=/web:80"}`), 7, "labels"},
		{"bad Mesos port mapping", good(`,"args":{"org.apache.mesos":{"network_info":{"port_mappings":[{"host_port":"x"}]}}}`), 7, "host_port"},
		{"unknown network", fmt.Sprintf(`{"cniVersion":"1.0.0","name":"nope","type":"dcnet","socket":%q}`, nd.socket), 7, "unknown network"},
		{"socket missing", `{"cniVersion":"1.0.0","name":"tiny","type":"dcnet","socket":"/run/dcnet-missing/overlayd.sock"}`, 11, "overlayd"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := nd.execPlugin("dcnet", "ADD", "bad-1", c.Path, "eth0", tc.conf)
			code, msg, ok := r.cniError()
			if r.ExitCode == 0 || !ok {
				t.Fatalf("want a CNI error and a non-zero exit, got exit %d stdout %q", r.ExitCode, r.Stdout)
			}
			if code != tc.code || !strings.Contains(msg, tc.msg) {
				t.Fatalf("got code %d %q, want code %d mentioning %q", code, msg, tc.code, tc.msg)
			}
			if n := len(nd.leases()); n != 0 {
				t.Fatalf("%d leases after a failed ADD", n)
			}
			if p := nd.bridgePorts("m-tiny"); len(p) != 0 {
				t.Fatalf("veth left on the bridge: %v", p)
			}
		})
	}

	// Exhaustion: a /29 has five container addresses; the sixth ADD fails
	// with code 100 naming the subnet and leaves nothing behind.
	var ctrs []string
	for i := 0; i < 5; i++ {
		ci, err := nd.AddContainer(fmt.Sprintf("t%d", i))
		if err != nil {
			t.Fatal(err)
		}
		if r := nd.execPlugin("dcnet", "ADD", ci.Name, ci.Path, "eth0", good("")); r.ExitCode != 0 {
			t.Fatalf("ADD %d: %s %s", i, r.Stdout, r.Stderr)
		}
		ctrs = append(ctrs, ci.Name)
	}
	nets, _ := nd.client.Networks(t.Context())
	r := nd.execPlugin("dcnet", "ADD", "sixth", c.Path, "eth0", good(""))
	code, msg, ok := r.cniError()
	if r.ExitCode == 0 || !ok || code != 100 || !strings.Contains(msg, nets[0].NodeSubnet) {
		t.Fatalf("sixth ADD: exit %d code %d %q, want code 100 naming %s", r.ExitCode, code, msg, nets[0].NodeSubnet)
	}
	if n := len(nd.leases()); n != 5 {
		t.Fatalf("%d leases after the failed sixth ADD, want 5", n)
	}
	if p := nd.bridgePorts("m-tiny"); len(p) != 5 {
		t.Fatalf("%d ports on the bridge, want 5: %v", len(p), p)
	}
	if out, _ := c.Run(t.Context(), "ip", "-o", "link"); strings.Contains(out, "eth0") {
		t.Fatalf("the failed container kept an eth0:\n%s", out)
	}
}

// TestPrivilegedGarbageOnSocket: garbage on overlayd's socket gets a clear
// error and overlayd keeps serving.
func TestPrivilegedGarbageOnSocket(t *testing.T) {
	_, nd := setup(t, "egarb", "")
	for _, body := range []string{"garbage", `{"network":5}`, `{"network":"dcos","containerID":"a/b","ifName":"eth0"}`, `{"network":"dcos","extra":1}`} {
		out, err := nd.Run(t.Context(), "curl", "-s", "--unix-socket", nd.socket, "-XPOST", "http://overlayd/v1/allocate", "-d", body)
		if err != nil || !strings.Contains(out, `"code": "invalid"`) {
			t.Fatalf("body %q: %v %s", body, err, out)
		}
	}
	out, err := nd.Run(t.Context(), "curl", "-s", "--unix-socket", nd.socket, "http://overlayd/v1/nope")
	if err != nil || !strings.Contains(out, "404") {
		t.Fatalf("unknown path: %v %s", err, out)
	}
	if _, err := nd.client.Status(t.Context()); err != nil {
		t.Fatalf("overlayd stopped serving: %v", err)
	}
}
