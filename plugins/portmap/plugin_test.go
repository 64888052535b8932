package portmap

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"
	"github.com/containernetworking/cni/pkg/version"
	"github.com/google/go-cmp/cmp"

	"github.com/dcnet/dcnet/plugins/internal/plugintest"
)

// fakeExec is the delegate: it records what it was given and answers a
// fixed address, or fails.
type fakeExec struct {
	missing bool         // FindInPath fails
	fail    *types.Error // ExecPlugin prints this error
	calls   []string     // "ADD c1 eth0"
	stdin   [][]byte
	ip4     string
}

func (f *fakeExec) FindInPath(plugin string, paths []string) (string, error) {
	if f.missing {
		return "", fmt.Errorf("no %s", plugin)
	}
	return "/fake/" + plugin, nil
}

func (f *fakeExec) Decode(b []byte) (version.PluginInfo, error) { return version.All, nil }

func (f *fakeExec) ExecPlugin(ctx context.Context, path string, stdin []byte, environ []string) ([]byte, error) {
	env := map[string]string{}
	for _, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	f.calls = append(f.calls, env["CNI_COMMAND"]+" "+env["CNI_CONTAINERID"]+" "+env["CNI_IFNAME"])
	f.stdin = append(f.stdin, stdin)
	if f.fail != nil {
		return nil, f.fail
	}
	if env["CNI_COMMAND"] != "ADD" {
		return nil, nil
	}
	var head struct {
		CNIVersion string `json:"cniVersion"`
	}
	_ = json.Unmarshal(stdin, &head)
	if head.CNIVersion == "" || head.CNIVersion == "0.1.0" || head.CNIVersion == "0.2.0" {
		return fmt.Appendf(nil, `{"cniVersion":%q,"ip4":{"ip":%q,"gateway":"9.0.1.1"},"dns":{"nameservers":["198.51.100.1"]}}`, head.CNIVersion, f.ip4), nil
	}
	return fmt.Appendf(nil, `{"cniVersion":%q,"interfaces":[{"name":"vethx"},{"name":"eth0","sandbox":"/run/netns/c"}],`+
		`"ips":[{"address":%q,"gateway":"9.0.1.1","interface":1},{"address":"fd01:b::1:2/80","interface":1}]}`, head.CNIVersion, f.ip4), nil
}

// tester runs the plugin in process against the Fake kernel.
type tester struct {
	t      *testing.T
	p      *Plugin
	k      *Fake
	exec   *fakeExec
	out    *bytes.Buffer
	errOut *bytes.Buffer
	dir    string
}

func newTester(t *testing.T) *tester {
	k := NewFake()
	ex := &fakeExec{ip4: "9.0.1.2/24"}
	out, errOut := &bytes.Buffer{}, &bytes.Buffer{}
	now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	return &tester{t: t, k: k, exec: ex, out: out, errOut: errOut, dir: t.TempDir(),
		p: &Plugin{Kernel: k, Exec: ex, Stdout: out, Stderr: errOut, Now: func() time.Time { return now }}}
}

// chained is a chained-style config after dcnet with the given mappings.
func (tt *tester) chained(ip string, maps string) []byte {
	return fmt.Appendf(nil, `{"cniVersion":"1.0.0","name":"dcos","type":"dcnet-portmap","stateDir":%q,
	  "runtimeConfig":{"portMappings":[%s]},
	  "prevResult":{"cniVersion":"1.0.0","interfaces":[{"name":"veth1"},{"name":"eth0","sandbox":"/run/netns/x"}],
	    "ips":[{"address":%q,"interface":1}]}}`, tt.dir, maps, ip)
}

// mesos is a DC/OS-style config (no cniVersion) with Mesos' args.
func (tt *tester) mesos(maps string) []byte {
	return fmt.Appendf(nil, `{"name":"dcos","type":"dcnet-portmap","chain":"M-DCOS","excludeDevices":["m-dcos","docker0"],
	  "stateDir":%q,"delegate":{"type":"dcnet","socket":"/run/dcnet/overlayd.sock"},
	  "args":{"org.apache.mesos":{"network_info":{"name":"dcos","port_mappings":[%s]}}}}`, tt.dir, maps)
}

func (tt *tester) run(cmd func(*skel.CmdArgs) error, id string, conf []byte) error {
	tt.out.Reset()
	return cmd(&skel.CmdArgs{ContainerID: id, Netns: "/run/netns/" + id, IfName: "eth0", Path: "/opt/cni/bin:/usr/lib/cni", StdinData: conf})
}

func (tt *tester) must(cmd func(*skel.CmdArgs) error, id string, conf []byte) {
	tt.t.Helper()
	if err := tt.run(cmd, id, conf); err != nil {
		tt.t.Fatalf("container %s: %v", id, err)
	}
}

func (tt *tester) wantKernel(want string) {
	tt.t.Helper()
	if diff := cmp.Diff(strings.TrimLeft(want, "\n"), tt.k.String()); diff != "" {
		tt.t.Errorf("kernel (-want +got):\n%s", diff)
	}
}

func TestChainedAddDel(t *testing.T) {
	tt := newTester(t)
	c1 := tt.chained("9.0.1.2/24", `{"hostPort":8080,"containerPort":80},{"hostPort":5353,"containerPort":53,"protocol":"udp"}`)
	tt.must(tt.p.Add, "c1", c1)
	if got := plugintest.Decode(t, tt.out.String()).(map[string]any)["ips"]; got == nil {
		t.Errorf("ADD did not pass prevResult on: %s", tt.out)
	}
	tt.wantKernel(`
chain DCNET-HOSTPORTS
ip tcp . 8080 : jump DCNET-HOSTPORTS, dnat to 9.0.1.2:80 comment "container_id: c1 ifname: eth0"
ip udp . 5353 : jump DCNET-HOSTPORTS, dnat to 9.0.1.2:53 comment "container_id: c1 ifname: eth0"
`)
	// The same host port and protocol for another container: refused, naming the holder.
	err := tt.run(tt.p.Add, "c2", tt.chained("9.0.1.3/24", `{"hostPort":8080,"containerPort":8000}`))
	plugintest.WantCode(t, err, CodePortConflict, "host port tcp/8080 (mapping tcp 8080->8000) is already mapped by container c1 interface eth0 of network \"dcos\"")
	// Another protocol on the same number is free.
	tt.must(tt.p.Add, "c2", tt.chained("9.0.1.3/24", `{"hostPort":8080,"containerPort":8000,"protocol":"UDP"}`))
	// A repeated ADD is not a conflict with itself and changes nothing.
	tt.must(tt.p.Add, "c1", c1)
	tt.must(tt.p.Del, "c1", c1)
	tt.must(tt.p.Del, "c1", c1) // twice
	tt.wantKernel(`
chain DCNET-HOSTPORTS
ip udp . 8080 : jump DCNET-HOSTPORTS, dnat to 9.0.1.3:8000 comment "container_id: c2 ifname: eth0"
`)
	tt.must(tt.p.Add, "c3", tt.chained("9.0.1.4/24", `{"hostPort":8080,"containerPort":80}`)) // freed by DEL
	tt.must(tt.p.Del, "c3", nil2(tt.chained("9.0.1.4/24", ``)))
	tt.must(tt.p.Del, "c2", tt.chained("9.0.1.3/24", ``))
	tt.wantKernel("no tables\n") // the last DEL removes both tables
	tt.must(tt.p.Del, "never-added", tt.chained("9.0.1.9/24", ``))
}

// nil2 returns b: DEL's config is the same as ADD's, mappings included or not.
func nil2(b []byte) []byte { return b }

func TestMesosDelegate(t *testing.T) {
	tt := newTester(t)
	conf := tt.mesos(`{"host_port":8080,"container_port":80,"protocol":"tcp"},{"host_port":9000,"container_port":9000,"protocol":"sctp"}`)
	tt.must(tt.p.Add, "mesos-1", conf)
	// The delegate got name and args copied in; Mesos reads the 0.1.0 result.
	var dconf map[string]any
	if err := json.Unmarshal(tt.exec.stdin[0], &dconf); err != nil {
		t.Fatal(err)
	}
	if dconf["name"] != "dcos" || dconf["type"] != "dcnet" || dconf["args"] == nil || dconf["cniVersion"] != nil {
		t.Errorf("delegate config %s: want name dcos, type dcnet, args, no cniVersion", tt.exec.stdin[0])
	}
	want := map[string]any{"cniVersion": "0.1.0", "ip4": map[string]any{"ip": "9.0.1.2/24", "gateway": "9.0.1.1"},
		"dns": map[string]any{"nameservers": []any{"198.51.100.1"}}}
	if diff := cmp.Diff(want, plugintest.Decode(t, tt.out.String())); diff != "" {
		t.Errorf("ADD result (-want +got):\n%s", diff)
	}
	tt.wantKernel(`
chain M-DCOS excludes m-dcos,docker0
ip tcp . 8080 : jump M-DCOS, dnat to 9.0.1.2:80 comment "container_id: mesos-1 ifname: eth0"
ip sctp . 9000 : jump M-DCOS, dnat to 9.0.1.2:9000 comment "container_id: mesos-1 ifname: eth0"
`)
	tt.must(tt.p.Del, "mesos-1", conf)
	if diff := cmp.Diff([]string{"ADD mesos-1 eth0", "DEL mesos-1 eth0"}, tt.exec.calls); diff != "" {
		t.Errorf("delegate calls (-want +got):\n%s", diff)
	}
	tt.wantKernel("no tables\n")
}

func TestDelegateResultVersions(t *testing.T) {
	tt := newTester(t)
	// An outer cniVersion reaches a delegate that names none; the result
	// keeps both families.
	conf := fmt.Appendf(nil, `{"cniVersion":"1.1.0","name":"dcos","type":"dcnet-portmap","chain":"M-DCOS6","stateDir":%q,
	  "delegate":{"type":"dcnet"},"args":{"org.apache.mesos":{"network_info":{"port_mappings":[{"host_port":80,"container_port":8080}]}}}}`, tt.dir)
	tt.must(tt.p.Add, "c6", conf)
	if !strings.Contains(string(tt.exec.stdin[0]), `"cniVersion":"1.1.0"`) {
		t.Errorf("delegate config %s lacks the outer cniVersion", tt.exec.stdin[0])
	}
	tt.wantKernel(`
chain M-DCOS6
ip tcp . 80 : jump M-DCOS6, dnat to 9.0.1.2:8080 comment "container_id: c6 ifname: eth0"
ip6 tcp . 80 : jump M-DCOS6, dnat to [fd01:b::1:2]:8080 comment "container_id: c6 ifname: eth0"
`)
}

func TestDelegateFailures(t *testing.T) {
	tt := newTester(t)
	conf := tt.mesos(`{"host_port":8080,"container_port":80}`)
	tt.exec.fail = types.NewError(11, "overlayd unreachable", "")
	err := tt.run(tt.p.Add, "c1", conf)
	plugintest.WantCode(t, err, 11, "delegate dcnet ADD: overlayd unreachable")
	tt.wantKernel("no tables\n")
	tt.exec.fail = nil
	tt.exec.missing = true
	err = tt.run(tt.p.Add, "c1", conf)
	plugintest.WantCode(t, err, types.ErrInvalidEnvironmentVariables, `delegate plugin "dcnet" not found in CNI_PATH "/opt/cni/bin:/usr/lib/cni"`)
	// The port is still free: a later container gets it.
	tt.exec.missing = false
	tt.must(tt.p.Add, "c2", conf)

	// The kernel refuses: the delegate's ADD is undone, the state rolled back.
	tt2 := newTester(t)
	tt2.k.FailApply = errors.New("netlink: operation not permitted")
	tt2.k.Present = false
	err = tt2.run(tt2.p.Add, "c1", tt2.mesos(`{"host_port":8080,"container_port":80}`))
	plugintest.WantCode(t, err, types.ErrInternal, "nftables: netlink: operation not permitted")
	if diff := cmp.Diff([]string{"ADD c1 eth0", "DEL c1 eth0"}, tt2.exec.calls); diff != "" {
		t.Errorf("delegate calls (-want +got):\n%s", diff)
	}
	tt2.must(tt2.p.Add, "c2", tt2.mesos(`{"host_port":8080,"container_port":80}`))
}

func TestRepair(t *testing.T) {
	tt := newTester(t)
	c1 := tt.chained("9.0.1.2/24", `{"hostPort":8080,"containerPort":80}`)
	c2 := tt.chained("9.0.1.3/24", `{"hostPort":8081,"containerPort":80}`)
	tt.must(tt.p.Add, "c1", c1)
	tt.must(tt.p.Add, "c2", c2)
	want := `
chain DCNET-HOSTPORTS
ip tcp . 8080 : jump DCNET-HOSTPORTS, dnat to 9.0.1.2:80 comment "container_id: c1 ifname: eth0"
ip tcp . 8081 : jump DCNET-HOSTPORTS, dnat to 9.0.1.3:80 comment "container_id: c2 ifname: eth0"
`
	// A hand-deleted element comes back on the container's next ADD, and on CHECK.
	tt.k.DeleteElement(fmt.Sprintf("ip %d 8080", protocols["tcp"]))
	tt.must(tt.p.Add, "c1", c1)
	tt.wantKernel(want)
	tt.k.DeleteElement(fmt.Sprintf("ip %d 8081", protocols["tcp"]))
	tt.must(tt.p.Check, "c1", c1)
	tt.wantKernel(want)
	// Deleted tables come back whole on any ADD.
	_ = tt.k.Remove()
	tt.must(tt.p.Add, "c3", tt.chained("9.0.1.4/24", `{"hostPort":8082,"containerPort":80}`))
	if !strings.Contains(tt.k.String(), "8080") || !strings.Contains(tt.k.String(), "8081") || !strings.Contains(tt.errOut.String(), "rebuilding") {
		t.Errorf("after a rebuild:\n%s\nstderr: %s", tt.k, tt.errOut)
	}
	// GC drops the containers the runtime no longer has.
	gc := fmt.Appendf(nil, `{"cniVersion":"1.1.0","name":"dcos","type":"dcnet-portmap","stateDir":%q,
	  "cni.dev/valid-attachments":[{"containerID":"c2","ifname":"eth0"}]}`, tt.dir)
	tt.must(tt.p.GC, "", gc)
	tt.wantKernel(`
chain DCNET-HOSTPORTS
ip tcp . 8081 : jump DCNET-HOSTPORTS, dnat to 9.0.1.3:80 comment "container_id: c2 ifname: eth0"
`)
	err := tt.run(tt.p.Check, "c1", c1)
	plugintest.WantCode(t, err, types.ErrUnknownContainer, "no host ports recorded")
}

// TestAddCostIsFlat: with 1,000 mappings on the node an ADD makes the
// same kernel calls as with none: one skeleton check and one batch.
func TestAddCostIsFlat(t *testing.T) {
	tt := newTester(t)
	for i := range 500 {
		tt.must(tt.p.Add, fmt.Sprintf("bulk%d", i), tt.chained(fmt.Sprintf("9.0.%d.%d/16", i/200+2, i%200+2),
			fmt.Sprintf(`{"hostPort":%d,"containerPort":80},{"hostPort":%d,"containerPort":81}`, 10000+2*i, 10001+2*i)))
	}
	tt.k.Calls = map[string]int{}
	tt.must(tt.p.Add, "new", tt.chained("9.0.1.2/24", `{"hostPort":8080,"containerPort":80},{"hostPort":8081,"containerPort":81}`))
	if diff := cmp.Diff(map[string]int{"Intact": 1, "Apply": 1}, tt.k.Calls); diff != "" {
		t.Errorf("kernel calls of an ADD with 1,000 mappings present (-want +got):\n%s", diff)
	}
	tt.k.Calls = map[string]int{}
	tt.must(tt.p.Del, "new", tt.chained("9.0.1.2/24", ``))
	if diff := cmp.Diff(map[string]int{"Apply": 1}, tt.k.Calls); diff != "" {
		t.Errorf("kernel calls of a DEL (-want +got):\n%s", diff)
	}
}

func TestChainLifecycle(t *testing.T) {
	tt := newTester(t)
	a := tt.mesos(`{"host_port":8080,"container_port":80}`)
	b := fmt.Appendf(nil, `{"name":"mesos-bridge","type":"dcnet-portmap","chain":"UCR-DEFAULT-BRIDGE","excludeDevices":["ucr-br0"],
	  "localhost":true,"stateDir":%q,"delegate":{"type":"bridge"},
	  "args":{"org.apache.mesos":{"network_info":{"port_mappings":[{"host_port":8090,"container_port":80}]}}}}`, tt.dir)
	tt.must(tt.p.Add, "c1", a)
	tt.must(tt.p.Add, "c2", b)
	tt.wantKernel(`
chain M-DCOS excludes m-dcos,docker0
chain UCR-DEFAULT-BRIDGE excludes ucr-br0 localhost
ip tcp . 8080 : jump M-DCOS, dnat to 9.0.1.2:80 comment "container_id: c1 ifname: eth0"
ip tcp . 8090 : jump UCR-DEFAULT-BRIDGE, dnat to 9.0.1.2:80 comment "container_id: c2 ifname: eth0"
route_localnet toward 9.0.1.2
`)
	tt.must(tt.p.Del, "c2", b) // the chain goes with its last container
	tt.wantKernel(`
chain M-DCOS excludes m-dcos,docker0
ip tcp . 8080 : jump M-DCOS, dnat to 9.0.1.2:80 comment "container_id: c1 ifname: eth0"
route_localnet toward 9.0.1.2
`)
}

func TestMain(m *testing.M) {
	os.Exit(m.Run())
}
