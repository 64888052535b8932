package dcnet

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/dcnet/dcnet/plugins/internal/plugintest"
	"net/http"
	"strings"
	"testing"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"
	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/google/go-cmp/cmp"

	"github.com/dcnet/dcnet/overlayd/api"
	"github.com/dcnet/dcnet/plugins/internal/fakeoverlayd"
	"github.com/dcnet/dcnet/plugins/lease"
)

// testNetwork is the node's overlay as the fake overlayd reports it.
var testNetwork = api.Network{Name: "dcos", Bridge: "m-dcos", MTU: 1420, NodeSubnet: "9.0.3.0/24", Gateway: "9.0.3.1"}

// env is one plugin with a fake kernel and a fake overlayd.
type env struct {
	kernel *FakeKernel
	srv    *fakeoverlayd.Server
	out    *bytes.Buffer
	plugin *Plugin
}

func newEnv(t *testing.T, n api.Network) *env {
	e := &env{kernel: &FakeKernel{}, srv: fakeoverlayd.Start(t, n), out: &bytes.Buffer{}}
	e.plugin = &Plugin{Kernel: e.kernel, Stdout: e.out}
	return e
}

// conf renders a config for the fake's socket; extra is spliced in as more
// top-level fields.
func (e *env) conf(version, extra string) []byte {
	v := ""
	if version != "" {
		v = fmt.Sprintf(`"cniVersion":%q,`, version)
	}
	if extra != "" {
		extra = "," + extra
	}
	return []byte(fmt.Sprintf(`{%s"name":"dcos","type":"dcnet","socket":%q%s}`, v, e.srv.Socket, extra))
}

func cmdArgs(container, netns string, conf []byte) *skel.CmdArgs {
	return &skel.CmdArgs{ContainerID: container, Netns: netns, IfName: "eth0", StdinData: conf}
}

const mesosArgs = `"args":{"org.apache.mesos":{"network_info":{"name":"dcos",
  "labels":{"labels":[{"key":"VIP_0","value":"/web:80"}]},
  "port_mappings":[{"host_port":8080,"container_port":80,"protocol":"tcp"}]}}}`

func TestAddLegacyMesos(t *testing.T) {
	e := newEnv(t, testNetwork)
	if err := e.plugin.Add(cmdArgs("c1", "/run/netns/c1", e.conf("", mesosArgs))); err != nil {
		t.Fatalf("Add: %v", err)
	}
	var got map[string]any
	if err := json.Unmarshal(e.out.Bytes(), &got); err != nil {
		t.Fatalf("result %s: %v", e.out, err)
	}
	want := map[string]any{
		"cniVersion": "0.1.0",
		"ip4": map[string]any{"ip": "9.0.3.2/24", "gateway": "9.0.3.1",
			"routes": []any{map[string]any{"dst": "0.0.0.0/0", "gw": "9.0.3.1"}}},
		"dns": map[string]any{},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("0.1.0 result (-want +got):\n%s", diff)
	}
	host := HostVethName("c1", "eth0")
	wantKernel := host + " master m-dcos mtu 1420 hairpin on <-> /run/netns/c1 eth0 9.0.3.2/24 via 9.0.3.1"
	if diff := cmp.Diff(wantKernel, e.kernel.String()); diff != "" {
		t.Errorf("kernel (-want +got):\n%s", diff)
	}
	wantStore := "dcos/c1/eth0 9.0.3.2/24 gw 9.0.3.1 labels VIP_0=/web:80 port 8080:80/tcp"
	if diff := cmp.Diff(wantStore, e.srv.String()); diff != "" {
		t.Errorf("overlayd (-want +got):\n%s", diff)
	}
}

func TestAddCurrent(t *testing.T) {
	e := newEnv(t, api.Network{Name: "dcos", Bridge: "m-dcos", MTU: 1450,
		NodeSubnet: "9.0.3.0/24", Gateway: "9.0.3.1", NodeSubnet6: "fd01:b:0:0:3::/80", Gateway6: "fd01:b::3:0:0:1"})
	conf := e.conf("1.1.0", `"mtu":1400,"hairpinMode":false`)
	if err := e.plugin.Add(cmdArgs("c1", "/run/netns/c1", conf)); err != nil {
		t.Fatalf("Add: %v", err)
	}
	host := HostVethName("c1", "eth0")
	mac := func(first string) string { return fakeMAC(map[string]byte{"h": 0x0a, "c": 0x0e}[first], host) }
	want := fmt.Sprintf(`{"cniVersion":"1.1.0",
	  "interfaces":[{"name":%q,"mac":%q},{"name":"eth0","mac":%q,"sandbox":"/run/netns/c1"}],
	  "ips":[{"interface":1,"address":"9.0.3.2/24","gateway":"9.0.3.1"},
	         {"interface":1,"address":"fd01:b::3:0:0:2/80","gateway":"fd01:b::3:0:0:1"}],
	  "routes":[{"dst":"0.0.0.0/0","gw":"9.0.3.1"},{"dst":"::/0","gw":"fd01:b::3:0:0:1"}]}`, host, mac("h"), mac("c"))
	if diff := cmp.Diff(plugintest.Decode(t, want), plugintest.Decode(t, e.out.String())); diff != "" {
		t.Errorf("1.1.0 result (-want +got):\n%s", diff)
	}
	wantKernel := host + " master m-dcos mtu 1400 hairpin off <-> /run/netns/c1 eth0 9.0.3.2/24,fd01:b::3:0:0:2/80 via 9.0.3.1,fd01:b::3:0:0:1"
	if diff := cmp.Diff(wantKernel, e.kernel.String()); diff != "" {
		t.Errorf("kernel (-want +got):\n%s", diff)
	}
}

func TestAddFailures(t *testing.T) {
	tests := []struct {
		name    string
		netns   string
		extra   string
		setup   func(*env)
		code    uint
		msg     string
		kernel  string // state after the failed ADD
		overlay string
	}{{
		name:  "subnet exhausted",
		netns: "/run/netns/c2",
		setup: func(e *env) {
			e.srv.Fail(api.PathAllocate, http.StatusServiceUnavailable, api.ErrorBody{Code: api.CodeExhausted, Error: "no free address in 9.0.3.0/24 of network dcos"})
		},
		code:    lease.CodeSubnetExhausted,
		msg:     "no free address in 9.0.3.0/24",
		kernel:  "",
		overlay: "",
	}, {
		name:  "overlayd down",
		netns: "/run/netns/c2",
		setup: func(e *env) { e.srv.Stop() },
		code:  types.ErrTryAgainLater,
		msg:   "overlayd is not reachable at ",
	}, {
		name:  "overlayd not ready",
		netns: "/run/netns/c2",
		setup: func(e *env) {
			e.srv.Fail(api.PathAllocate, http.StatusServiceUnavailable, api.ErrorBody{Code: api.CodeUnavailable, Error: "no subnet lease"})
		},
		code: types.ErrTryAgainLater,
		msg:  "no subnet lease",
	}, {
		name:  "unknown network",
		netns: "/run/netns/c2",
		extra: `"network":"other"`,
		code:  types.ErrInvalidNetworkConfig,
		msg:   `unknown network "other"`,
	}, {
		name:  "kernel fails after allocation",
		netns: "/run/netns/c2",
		setup: func(e *env) { e.kernel.SetupErr = errors.New("bridge m-dcos not found") },
		code:  types.ErrInternal,
		msg:   "add dcos/c2/eth0: bridge m-dcos not found",
	}, {
		name:  "netns gone",
		netns: "/run/netns/c2",
		setup: func(e *env) { e.kernel.ProbeErr = ns.NSPathNotExistErr{} },
		code:  types.ErrInvalidNetNS,
	}, {
		name:  "interface exists",
		netns: "/run/netns/c1",
		code:  types.ErrInternal,
		msg:   "eth0 in netns /run/netns/c1: interface already exists",
	}, {
		name:  "no netns",
		netns: "",
		code:  types.ErrInvalidEnvironmentVariables,
		msg:   "CNI_NETNS is empty",
	}, {
		name:  "bad config",
		netns: "/run/netns/c2",
		extra: `"mtu":"big"`,
		code:  types.ErrInvalidNetworkConfig,
		msg:   "mtu: got a JSON string",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, testNetwork)
			// c1 is a running container; c2's ADD fails.
			if err := e.plugin.Add(cmdArgs("c1", "/run/netns/c1", e.conf("1.0.0", ""))); err != nil {
				t.Fatalf("Add c1: %v", err)
			}
			kernelBefore, overlayBefore := e.kernel.String(), e.srv.String()
			if tt.setup != nil {
				tt.setup(e)
			}
			container := "c2"
			if tt.netns == "/run/netns/c1" {
				container = "c1b"
			}
			err := e.plugin.Add(cmdArgs(container, tt.netns, e.conf("1.0.0", tt.extra)))
			plugintest.WantCode(t, err, tt.code, tt.msg)
			if diff := cmp.Diff(kernelBefore, e.kernel.String()); diff != "" {
				t.Errorf("kernel changed (-before +after):\n%s", diff)
			}
			if tt.name != "overlayd down" {
				if diff := cmp.Diff(overlayBefore, e.srv.String()); diff != "" {
					t.Errorf("overlayd changed (-before +after):\n%s", diff)
				}
			}
		})
	}
}

func TestDel(t *testing.T) {
	e := newEnv(t, testNetwork)
	conf := e.conf("1.0.0", "")
	if err := e.plugin.Add(cmdArgs("c1", "/run/netns/c1", conf)); err != nil {
		t.Fatalf("Add: %v", err)
	}
	// The endpoint record is withdrawn before the interface goes.
	var atTeardown []string
	e.kernel.BeforeTeardown = func() { atTeardown = append(atTeardown, e.srv.String()) }
	for i := range 2 {
		if err := e.plugin.Del(cmdArgs("c1", "/run/netns/c1", conf)); err != nil {
			t.Fatalf("Del #%d: %v", i+1, err)
		}
	}
	if e.kernel.String() != "" || e.srv.String() != "" {
		t.Errorf("after DEL: kernel %q, overlayd %q; want both empty", e.kernel, e.srv)
	}
	if len(atTeardown) == 0 || !strings.HasSuffix(atTeardown[0], " withdrawn") {
		t.Errorf("overlayd at the first teardown: %q, want the attachment withdrawn", atTeardown)
	}
	if err := e.plugin.Del(cmdArgs("never-added", "", conf)); err != nil {
		t.Errorf("Del without ADD and netns: %v", err)
	}
}

func TestDelEmptyNetNS(t *testing.T) {
	e := newEnv(t, testNetwork)
	conf := e.conf("", "")
	if err := e.plugin.Add(cmdArgs("c1", "/run/netns/c1", conf)); err != nil {
		t.Fatalf("Add: %v", err)
	}
	if err := e.plugin.Del(cmdArgs("c1", "", conf)); err != nil {
		t.Fatalf("Del with empty CNI_NETNS: %v", err)
	}
	if e.kernel.String() != "" || e.srv.String() != "" {
		t.Errorf("after DEL: kernel %q, overlayd %q; want both empty (host end found by name)", e.kernel, e.srv)
	}
}

func TestDelOverlaydDown(t *testing.T) {
	e := newEnv(t, testNetwork)
	conf := e.conf("1.0.0", "")
	if err := e.plugin.Add(cmdArgs("c1", "/run/netns/c1", conf)); err != nil {
		t.Fatalf("Add: %v", err)
	}
	e.srv.Stop()
	err := e.plugin.Del(cmdArgs("c1", "/run/netns/c1", conf))
	plugintest.WantCode(t, err, types.ErrTryAgainLater, "release dcos/c1/eth0: overlayd is not reachable")
	if e.kernel.String() != "" {
		t.Errorf("kernel after DEL: %q, want the interfaces gone anyway", e.kernel)
	}
}

func TestCheck(t *testing.T) {
	e := newEnv(t, testNetwork)
	add := e.conf("1.0.0", "")
	if err := e.plugin.Add(cmdArgs("c1", "/run/netns/c1", add)); err != nil {
		t.Fatalf("Add: %v", err)
	}
	prev := strings.TrimSpace(e.out.String())
	wrongPrev := `{"cniVersion":"1.0.0","ips":[{"address":"9.0.3.9/24","gateway":"9.0.3.1"}]}`

	tests := []struct {
		name      string
		container string
		extra     string
		mutate    func()
		code      uint
		msg       string // "" for success
	}{
		{name: "good", container: "c1", extra: `"prevResult":` + prev},
		{name: "good without prevResult", container: "c1"},
		{name: "good with mtu", container: "c1", extra: `"mtu":1420`},
		{name: "other mtu", container: "c1", extra: `"mtu":1400`, code: types.ErrInternal, msg: "mtu 1420, want 1400"},
		{name: "prevResult disagrees", container: "c1", extra: `"prevResult":` + wrongPrev,
			code: types.ErrInternal, msg: "lacks 9.0.3.2/24"},
		{name: "unknown attachment", container: "c9", code: types.ErrUnknownContainer, msg: "look up attachment dcos/c9/eth0"},
		{name: "address removed", container: "c1", mutate: func() { e.kernel.RemoveAddrs("/run/netns/c1", "eth0") },
			code: types.ErrInternal, msg: "has addresses [], want [9.0.3.2/24]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.mutate != nil {
				tt.mutate()
			}
			err := e.plugin.Check(cmdArgs(tt.container, "/run/netns/c1", e.conf("1.0.0", tt.extra)))
			if tt.msg == "" {
				if err != nil {
					t.Fatalf("Check: %v", err)
				}
				return
			}
			plugintest.WantCode(t, err, tt.code, tt.msg)
		})
	}
}

func TestGC(t *testing.T) {
	e := newEnv(t, testNetwork)
	for _, c := range []string{"c1", "c2"} {
		if err := e.plugin.Add(cmdArgs(c, "/run/netns/"+c, e.conf("1.1.0", ""))); err != nil {
			t.Fatalf("Add %s: %v", c, err)
		}
	}
	gc := e.conf("1.1.0", `"cni.dev/valid-attachments":[{"containerID":"c1","ifname":"eth0"}]`)
	if err := e.plugin.GC(&skel.CmdArgs{StdinData: gc}); err != nil {
		t.Fatalf("GC: %v", err)
	}
	if diff := cmp.Diff("dcos/c1/eth0 9.0.3.2/24 gw 9.0.3.1", e.srv.String()); diff != "" {
		t.Errorf("overlayd after GC (-want +got):\n%s", diff)
	}
	if strings.Contains(e.kernel.String(), HostVethName("c2", "eth0")) || !strings.Contains(e.kernel.String(), HostVethName("c1", "eth0")) {
		t.Errorf("kernel after GC: %q; want only c1's veth", e.kernel)
	}
}

func TestStatus(t *testing.T) {
	e := newEnv(t, testNetwork)
	if err := e.plugin.Status(&skel.CmdArgs{StdinData: e.conf("1.1.0", "")}); err != nil {
		t.Fatalf("Status: %v", err)
	}
	e.srv.Stop()
	err := e.plugin.Status(&skel.CmdArgs{StdinData: e.conf("1.1.0", "")})
	plugintest.WantCode(t, err, types.ErrPluginNotAvailable, "overlayd is not reachable")
}

func TestHostVethName(t *testing.T) {
	a, b := HostVethName("c1", "eth0"), HostVethName("c1", "eth1")
	if a != HostVethName("c1", "eth0") || a == b || len(a) != len("veth")+8 || !strings.HasPrefix(a, "veth") {
		t.Errorf("HostVethName: %q, %q: want stable, distinct, veth + 8 hex digits", a, b)
	}
}
