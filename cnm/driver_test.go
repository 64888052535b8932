package cnm

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/dcnet/dcnet/overlayd/api"
)

// dualDcos is a dual-stack overlay as overlayd describes it.
var dualDcos = api.Network{Name: "dcos", Bridge: "m-dcos", MTU: 1420, NodeSubnet: "9.0.1.0/24", Gateway: "9.0.1.1",
	NodeSubnet6: "fd01:b::1:0:0:0/80", Gateway6: "fd01:b::1:0:0:1"}

// env is a driver over a fake overlayd and kernel, called over HTTP.
type env struct {
	t       testing.TB
	dir     string
	overlay *FakeOverlay
	kernel  *FakeKernel
	state   *State
	drv     *Driver
	srv     http.Handler
	clock   time.Time
}

func newEnv(t testing.TB) *env {
	e := &env{t: t, dir: t.TempDir(), overlay: NewFakeOverlay(dualDcos), kernel: &FakeKernel{}, clock: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	e.restart()
	return e
}

// restart reopens the state in a new driver, as a restarted plugin does.
func (e *env) restart() {
	if e.state != nil {
		e.state.Close()
	}
	st, err := OpenState(e.dir)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { st.Close() })
	e.state = st
	e.drv = New(st, e.overlay, e.kernel, nil)
	e.drv.now = func() time.Time { return e.clock }
	e.srv = e.drv.Handler()
}

// call posts body to the plugin method and decodes the answer into out;
// it returns the Err of a failed call.
func (e *env) call(method string, body any, out any) string {
	e.t.Helper()
	var b []byte
	switch v := body.(type) {
	case string:
		b = []byte(v)
	default:
		b, _ = json.Marshal(v)
	}
	rec := httptest.NewRecorder()
	e.srv.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/"+method, bytes.NewReader(b)))
	data, _ := io.ReadAll(rec.Body)
	if rec.Code != http.StatusOK {
		var er errorResponse
		if err := json.Unmarshal(data, &er); err != nil || er.Err == "" || rec.Code != http.StatusInternalServerError && rec.Code != http.StatusNotFound {
			e.t.Fatalf("%s: status %d, body %s: want 500 with Err", method, rec.Code, data)
		}
		return er.Err
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			e.t.Fatalf("%s: decode %s: %v", method, data, err)
		}
	}
	return ""
}

func (e *env) mustCall(method string, body any, out any) {
	e.t.Helper()
	if msg := e.call(method, body, out); msg != "" {
		e.t.Fatalf("%s: %s", method, msg)
	}
}

// createNetwork runs dockerd's sequence for docker network create.
func (e *env) createNetwork(id string, opts map[string]any) (pool4, pool6 string) {
	e.t.Helper()
	var p4, p6 requestPoolResponse
	e.mustCall("IpamDriver.RequestPool", requestPoolRequest{Pool: "9.0.1.0/24"}, &p4)
	e.mustCall("IpamDriver.RequestPool", requestPoolRequest{Pool: "fd01:b::1:0:0:0/80", V6: true}, &p6)
	e.mustCall("NetworkDriver.CreateNetwork", createNetworkRequest{NetworkID: id, Options: opts,
		IPv4Data: []ipamData{{Pool: p4.Pool, Gateway: p4.Data[dataGateway]}}, IPv6Data: []ipamData{{Pool: p6.Pool}}}, nil)
	return p4.PoolID, p6.PoolID
}

// start runs dockerd's sequence for a container start; it returns the
// endpoint's addresses.
func (e *env) start(nid, eid, mac string, opts map[string]any) (string, string, joinResponse) {
	e.t.Helper()
	var a4, a6 requestAddressResponse
	ipamOpts := map[string]string{optMAC: mac, optEndpointName: "web-1"}
	e.mustCall("IpamDriver.RequestAddress", requestAddressRequest{PoolID: poolID("dcos", false), Options: ipamOpts}, &a4)
	e.mustCall("IpamDriver.RequestAddress", requestAddressRequest{PoolID: poolID("dcos", true), Options: ipamOpts}, &a6)
	var ce createEndpointResponse
	e.mustCall("NetworkDriver.CreateEndpoint", createEndpointRequest{NetworkID: nid, EndpointID: eid,
		Interface: &endpointInterface{Address: a4.Address, AddressIPv6: a6.Address, MacAddress: mac}, Options: opts}, &ce)
	if ce.Interface != nil {
		e.t.Errorf("CreateEndpoint answered an interface: %+v", ce.Interface)
	}
	var jr joinResponse
	e.mustCall("NetworkDriver.Join", joinRequest{NetworkID: nid, EndpointID: eid, SandboxKey: "/var/run/docker/netns/x"}, &jr)
	return a4.Address, a6.Address, jr
}

// stop runs dockerd's sequence for a container stop.
func (e *env) stop(nid, eid string, addrs ...string) {
	e.t.Helper()
	e.mustCall("NetworkDriver.Leave", endpointRequest{NetworkID: nid, EndpointID: eid}, nil)
	e.mustCall("NetworkDriver.DeleteEndpoint", endpointRequest{NetworkID: nid, EndpointID: eid}, nil)
	for _, a := range addrs {
		v6 := strings.Contains(a, ":")
		e.mustCall("IpamDriver.ReleaseAddress", releaseAddressRequest{PoolID: poolID("dcos", v6), Address: a}, nil)
	}
}

func TestContainerLifecycle(t *testing.T) {
	e := newEnv(t)
	var act activateResponse
	e.mustCall("Plugin.Activate", "", &act)
	if strings.Join(act.Implements, ",") != "NetworkDriver,IpamDriver" {
		t.Fatalf("activate: %+v", act)
	}
	var caps capabilitiesResponse
	e.mustCall("NetworkDriver.GetCapabilities", "", &caps)
	var icaps ipamCapabilities
	e.mustCall("IpamDriver.GetCapabilities", "", &icaps)
	if caps.Scope != "local" || !icaps.RequiresMACAddress {
		t.Fatalf("capabilities: %+v %+v", caps, icaps)
	}
	var gw requestAddressResponse
	e.mustCall("IpamDriver.RequestAddress", requestAddressRequest{PoolID: poolID("dcos", false), Options: map[string]string{optAddressType: addressGateway}}, &gw)
	if gw.Address != "9.0.1.1/24" || e.overlay.String() != "" {
		t.Fatalf("gateway: %+v, allocated %q", gw, e.overlay.String())
	}

	e.createNetwork("net1", map[string]any{optGeneric: map[string]any{"dcnet.label.team": "a", "VIP_0": "/web:80"}})
	a4, a6, jr := e.start("net1", "ep0123456789abcdef", "02:42:0a:00:01:02", map[string]any{"dcnet.task": "web"})
	if a4 != "9.0.1.2/24" || a6 != "fd01:b::1:0:0:2/80" {
		t.Fatalf("addresses %s %s: want both from one attachment", a4, a6)
	}
	want := "dcos/ep0123456789abcdef/docker 9.0.1.2/24,fd01:b::1:0:0:2/80 DCNET_TASK=web,VIP_0=/web:80,team=a\n"
	if got := e.overlay.String(); got != want {
		t.Errorf("overlayd:\n%s\nwant:\n%s", got, want)
	}
	if got, want := e.kernel.String(), "veth dcvep0123456789 peer dctep0123456789 master m-dcos mtu 1420 mac 02:42:0a:00:01:02\n"; got != want {
		t.Errorf("kernel:\n%s\nwant:\n%s", got, want)
	}
	if jr.InterfaceName != (interfaceName{SrcName: "dctep0123456789", DstPrefix: "eth"}) || jr.Gateway != "9.0.1.1" ||
		jr.GatewayIPv6 != "fd01:b::1:0:0:1" || !jr.DisableGatewayService {
		t.Errorf("join: %+v", jr)
	}

	// Leave withdraws the record before the veth goes; a Join on the
	// same endpoint publishes it again.
	var atDel []string
	e.kernel.BeforeDel = func() { atDel = append(atDel, e.overlay.String()) }
	e.mustCall("NetworkDriver.Leave", endpointRequest{NetworkID: "net1", EndpointID: "ep0123456789abcdef"}, nil)
	if len(atDel) != 1 || !strings.HasSuffix(atDel[0], " withdrawn\n") {
		t.Errorf("overlayd when Leave deleted the veth: %q, want the attachment withdrawn", atDel)
	}
	e.mustCall("NetworkDriver.Join", joinRequest{NetworkID: "net1", EndpointID: "ep0123456789abcdef", SandboxKey: "/var/run/docker/netns/x"}, nil)
	if got := e.overlay.String(); got != want {
		t.Errorf("overlayd after Leave and Join:\n%s\nwant:\n%s", got, want)
	}
	e.kernel.BeforeDel = nil

	// A restarted plugin knows the endpoint and releases it.
	e.restart()
	e.stop("net1", "ep0123456789abcdef", a4, a6)
	if got := e.overlay.String() + e.kernel.String(); got != "" {
		t.Errorf("left after stop:\n%s", got)
	}
	eps, _ := e.state.Endpoints()
	addrs, _ := e.state.Addresses()
	if len(eps)+len(addrs) != 0 {
		t.Errorf("state left: %+v %+v", eps, addrs)
	}
}

// TestUnknownNetworkAdopted: dockerd replays nothing, so a container of a
// network the plugin never saw (a lost state) still starts.
func TestUnknownNetworkAdopted(t *testing.T) {
	e := newEnv(t)
	a4, _, jr := e.start("never-seen", "ep1", "02:42:0a:00:01:03", nil)
	if jr.Gateway != "9.0.1.1" {
		t.Fatalf("join: %+v", jr)
	}
	n, found, _ := e.state.Network("never-seen")
	if !found || n.Overlay != "dcos" || !n.Adopted {
		t.Fatalf("network: %v %+v", found, n)
	}
	// The state is lost entirely; the address is found in overlayd.
	e.state.Close()
	e.state = nil
	if err := removeState(e.dir); err != nil {
		t.Fatal(err)
	}
	e.restart()
	e.mustCall("NetworkDriver.CreateEndpoint", createEndpointRequest{NetworkID: "never-seen", EndpointID: "ep2",
		Interface: &endpointInterface{Address: a4}}, nil)
	if got := e.overlay.String(); !strings.HasPrefix(got, "dcos/ep2/docker 9.0.1.2/24") {
		t.Errorf("overlayd: %s", got)
	}
}

func TestFailedJoinRollback(t *testing.T) {
	e := newEnv(t)
	e.createNetwork("net1", nil)
	var a4 requestAddressResponse
	e.mustCall("IpamDriver.RequestAddress", requestAddressRequest{PoolID: poolID("dcos", false), Options: map[string]string{optMAC: "02:42:0a:00:01:04"}}, &a4)
	e.mustCall("NetworkDriver.CreateEndpoint", createEndpointRequest{NetworkID: "net1", EndpointID: "ep1", Interface: &endpointInterface{Address: a4.Address}}, nil)
	e.kernel.FailAdd = errors.New("no bridge")
	if msg := e.call("NetworkDriver.Join", joinRequest{NetworkID: "net1", EndpointID: "ep1"}, nil); !strings.Contains(msg, "no bridge") {
		t.Fatalf("join: %q", msg)
	}
	e.stop("net1", "ep1", a4.Address)
	if got := e.overlay.String() + e.kernel.String(); got != "" {
		t.Errorf("left after rollback:\n%s", got)
	}
	// Everything again: idempotent.
	e.stop("net1", "ep1", a4.Address)
}

func TestPoolRefCounting(t *testing.T) {
	e := newEnv(t)
	req := requestPoolRequest{Pool: "9.0.1.0/24"}
	for i := 0; i < 3; i++ {
		e.mustCall("IpamDriver.RequestPool", req, nil)
	}
	e.restart()
	p, _, _ := e.state.Pool(poolID("dcos", false))
	if p.Refs != 3 || p.Subnet != "9.0.1.0/24" {
		t.Fatalf("pool after restart: %+v", p)
	}
	for i := 0; i < 3; i++ {
		e.mustCall("IpamDriver.ReleasePool", releasePoolRequest{PoolID: p.ID}, nil)
	}
	e.mustCall("IpamDriver.ReleasePool", releasePoolRequest{PoolID: p.ID}, nil) // one too many: fine
	if _, found, _ := e.state.Pool(p.ID); found {
		t.Fatal("pool kept after its last release")
	}
}

func TestErrors(t *testing.T) {
	e := newEnv(t)
	e.createNetwork("net1", nil)
	for _, c := range []struct {
		method string
		body   any
		want   string
	}{
		{"NetworkDriver.CreateNetwork", "{garbage", "malformed JSON"},
		{"IpamDriver.RequestPool", `{"Pool": 5}`, "malformed JSON"},
		{"NetworkDriver.Join", `{} {}`, "trailing data"},
		{"NetworkDriver.Nope", `{}`, "unknown plugin method"},
		{"IpamDriver.RequestPool", requestPoolRequest{}, "pass --subnet 9.0.1.0/24"},
		{"IpamDriver.RequestPool", requestPoolRequest{Pool: "9.0.0.0/8"}, "overlaps node subnet 9.0.1.0/24"},
		{"IpamDriver.RequestPool", requestPoolRequest{Pool: "10.0.0.0/24"}, "is no node subnet"},
		{"IpamDriver.RequestPool", requestPoolRequest{Pool: "9.0.1.0/24", SubPool: "9.0.1.0/25"}, "--ip-range"},
		{"IpamDriver.RequestPool", requestPoolRequest{Pool: "9.0.1.0/24", Options: map[string]string{"foo": "1"}}, `unknown ipam option "foo"`},
		{"IpamDriver.RequestAddress", requestAddressRequest{PoolID: "other"}, "not made by dcnet"},
		{"IpamDriver.RequestAddress", requestAddressRequest{PoolID: poolID("dcos", false), Address: "9.0.1.77"}, "cannot reserve a fixed one"},
		{"IpamDriver.RequestAddress", requestAddressRequest{PoolID: poolID("dcos", false), Address: "9.0.1.9", Options: map[string]string{optAddressType: addressGateway}}, "--gateway 9.0.1.9"},
		{"NetworkDriver.CreateNetwork", createNetworkRequest{NetworkID: "net2", IPv4Data: []ipamData{{Pool: "9.0.1.0/24"}}}, "already used by Docker network net1"},
		{"NetworkDriver.CreateNetwork", createNetworkRequest{NetworkID: "net3", IPv4Data: []ipamData{{Pool: "172.17.0.0/16"}}}, "not the node subnet"},
		{"NetworkDriver.CreateNetwork", createNetworkRequest{NetworkID: "net4", Options: map[string]any{optGeneric: map[string]any{"bogus": "1"}}}, `unknown option "bogus"`},
		{"NetworkDriver.CreateNetwork", createNetworkRequest{NetworkID: "net5"}, "no address pool"},
		{"NetworkDriver.Join", joinRequest{NetworkID: "net1", EndpointID: "nope"}, "CreateEndpoint never reached"},
		{"NetworkDriver.CreateEndpoint", createEndpointRequest{NetworkID: "net1", EndpointID: "ep", Interface: &endpointInterface{Address: "9.0.1.200/24"}}, "not handed out by dcnet"},
		{"NetworkDriver.CreateEndpoint", createEndpointRequest{NetworkID: "net1", EndpointID: "ep"}, "has no address"},
	} {
		if msg := e.call(c.method, c.body, nil); !strings.Contains(msg, c.want) || !strings.HasPrefix(msg, "dcnet: ") {
			t.Errorf("%s %v: Err %q, want it to contain %q", c.method, c.body, msg, c.want)
		}
	}
}

// TestSweep: an attachment the state does not know (a crash between
// overlayd's answer and the state write) and an address no endpoint claimed
// for too long are released; claimed ones stay.
func TestSweep(t *testing.T) {
	e := newEnv(t)
	e.createNetwork("net1", nil)
	a4, _, _ := e.start("net1", "ep1", "02:42:0a:00:01:05", nil)
	e.overlay.Allocate(t.Context(), api.AllocateRequest{AttachmentID: provisionalID("dcos", "02:42:0a:00:01:06"), Config: ConfigName("dcos"), Runtime: api.RuntimeDocker})
	e.overlay.Allocate(t.Context(), api.AllocateRequest{AttachmentID: api.AttachmentID{Network: "dcos", ContainerID: "cni-c", IfName: "eth0"}, Runtime: api.RuntimeCNI})
	var pending requestAddressResponse
	e.mustCall("IpamDriver.RequestAddress", requestAddressRequest{PoolID: poolID("dcos", false), Options: map[string]string{optMAC: "02:42:0a:00:01:07"}}, &pending)

	n, err := e.drv.Sweep(t.Context())
	if err != nil || n != 1 {
		t.Fatalf("first sweep: %d %v", n, err)
	}
	e.clock = e.clock.Add(pendingMaxAge + time.Second)
	if n, err = e.drv.Sweep(t.Context()); err != nil || n != 1 {
		t.Fatalf("second sweep: %d %v", n, err)
	}
	got := e.overlay.String()
	if !strings.Contains(got, "dcos/ep1/docker "+a4) || !strings.Contains(got, "cni-c") || strings.Count(got, "\n") != 2 {
		t.Errorf("after sweeps:\n%s", got)
	}
}

// TestSweepEveryZeroIsDefault: a zero sweep interval (dcnet-cnm
// --sweep-interval 0, the flag's default) means every minute.
func TestSweepEveryZeroIsDefault(t *testing.T) {
	for in, want := range map[time.Duration]time.Duration{0: time.Minute, -time.Second: time.Minute, 5 * time.Second: 5 * time.Second} {
		if got := sweepEvery(in); got != want {
			t.Errorf("sweepEvery(%s) = %s, want %s", in, got, want)
		}
	}
}

// TestIPv6OnlyNetwork: dockerd 20.10's sequence for `docker network
// create -d dcnet --ipam-driver dcnet --ipam-opt dcnet.overlay=dcos6 -o
// dcnet.overlay=dcos6 --ipv6 --subnet <dcos6 node subnet> dcos6`: the IPv4
// pool it asks for anyway is a placeholder; endpoints get a placeholder
// IPv4 address that is in no record and no gateway; the IPv6 address is
// the endpoint's.
func TestIPv6OnlyNetwork(t *testing.T) {
	e := newEnv(t)
	dcos6 := api.Network{Name: "dcos6", Bridge: "m-dcos6", MTU: 1420, NodeSubnet6: "fd01:b::3:0:0:0/80", Gateway6: "fd01:b::3:0:0:1"}
	e.overlay = NewFakeOverlay(dualDcos, dcos6)
	e.restart()
	opt := map[string]string{OptOverlay: "dcos6"}
	var p4, p6 requestPoolResponse
	e.mustCall("IpamDriver.RequestPool", requestPoolRequest{Options: opt}, &p4)
	if p4.Pool != "0.0.0.0/0" || p4.Data[dataGateway] == "" {
		t.Fatalf("IPv4 pool of an IPv6-only overlay: %+v", p4)
	}
	e.mustCall("IpamDriver.RequestPool", requestPoolRequest{Pool: dcos6.NodeSubnet6, V6: true, Options: opt}, &p6)
	gen := map[string]any{optGeneric: map[string]any{OptOverlay: "dcos6"}}
	// Without the IPv6 pool the network is refused.
	if msg := e.call("NetworkDriver.CreateNetwork", createNetworkRequest{NetworkID: "n0", Options: gen,
		IPv4Data: []ipamData{{Pool: p4.Pool, Gateway: p4.Data[dataGateway]}}}, nil); !strings.Contains(msg, "IPv6-only") {
		t.Errorf("placeholder pool alone: %q", msg)
	}
	e.mustCall("NetworkDriver.CreateNetwork", createNetworkRequest{NetworkID: "net6", Options: gen,
		IPv4Data: []ipamData{{Pool: p4.Pool, Gateway: p4.Data[dataGateway]}}, IPv6Data: []ipamData{{Pool: p6.Pool}}}, nil)
	var a4, a6 requestAddressResponse
	ipamOpts := map[string]string{optMAC: "02:42:0a:00:03:02"}
	e.mustCall("IpamDriver.RequestAddress", requestAddressRequest{PoolID: p4.PoolID, Options: ipamOpts}, &a4)
	e.mustCall("IpamDriver.RequestAddress", requestAddressRequest{PoolID: p6.PoolID, Options: ipamOpts}, &a6)
	if a6.Address != "fd01:b::3:0:0:2/80" || !isNoIPv4Addr(a4.Address) {
		t.Fatalf("addresses %q %q", a4.Address, a6.Address)
	}
	e.mustCall("NetworkDriver.CreateEndpoint", createEndpointRequest{NetworkID: "net6", EndpointID: "ep6",
		Interface: &endpointInterface{Address: a4.Address, AddressIPv6: a6.Address, MacAddress: "02:42:0a:00:03:02"},
		Options:   map[string]any{"VIP_0": "/web6:80"}}, nil)
	var jr joinResponse
	e.mustCall("NetworkDriver.Join", joinRequest{NetworkID: "net6", EndpointID: "ep6", SandboxKey: "/var/run/docker/netns/y"}, &jr)
	if jr.Gateway != "" || jr.GatewayIPv6 != "" || len(jr.StaticRoutes) != 1 ||
		jr.StaticRoutes[0] != (staticRoute{Destination: "::/0", RouteType: routeNextHop, NextHop: dcos6.Gateway6}) {
		t.Errorf("join: %+v, want no gateway and the IPv6 default route as a static route", jr)
	}
	if got, want := e.overlay.String(), "dcos6/ep6/docker fd01:b::3:0:0:2/80 VIP_0=/web6:80\n"; got != want {
		t.Errorf("overlayd:\n%s\nwant:\n%s", got, want)
	}
	e.mustCall("NetworkDriver.Leave", endpointRequest{NetworkID: "net6", EndpointID: "ep6"}, nil)
	e.mustCall("NetworkDriver.DeleteEndpoint", endpointRequest{NetworkID: "net6", EndpointID: "ep6"}, nil)
	e.mustCall("IpamDriver.ReleaseAddress", releaseAddressRequest{PoolID: p4.PoolID, Address: a4.Address}, nil)
	e.mustCall("IpamDriver.ReleaseAddress", releaseAddressRequest{PoolID: p6.PoolID, Address: a6.Address}, nil)
	e.mustCall("IpamDriver.ReleasePool", releasePoolRequest{PoolID: p4.PoolID}, nil)
	if got := e.overlay.String(); got != "" {
		t.Errorf("left after stop:\n%s", got)
	}
}
