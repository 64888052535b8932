package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/types"
	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/dcnet/dcnet/internal/netsim"
	"github.com/dcnet/dcnet/overlayd/api"
)

// TestPrivilegedCnitool drives the dcnet plugin with cnitool: three
// containers get addresses in the node subnet, reach the gateway and each
// other, CHECK passes and then fails once an address is broken, DEL twice
// succeeds, and DEL without a netns succeeds.
func TestPrivilegedCnitool(t *testing.T) {
	f, nd := setup(t, "ecni", "")
	nets, _ := nd.client.Networks(context.Background())
	subnet := netip.MustParsePrefix(nets[0].NodeSubnet)
	var ips []string
	var ctrs []*netsim.Container
	for i := 0; i < 3; i++ {
		c, err := nd.AddContainer(fmt.Sprintf("c%d", i))
		if err != nil {
			t.Fatal(err)
		}
		out, err := nd.cnitool("add", "dcos", c.Path)
		if err != nil {
			t.Fatalf("cnitool add: %v\n%s", err, out)
		}
		var res struct {
			IPs []struct {
				Address string `json:"address"`
				Gateway string `json:"gateway"`
			} `json:"ips"`
		}
		if err := json.Unmarshal([]byte(out), &res); err != nil || len(res.IPs) != 1 {
			t.Fatalf("cnitool add result: %v\n%s", err, out)
		}
		p := netip.MustParsePrefix(res.IPs[0].Address)
		if !subnet.Contains(p.Addr()) || res.IPs[0].Gateway != nets[0].Gateway {
			t.Fatalf("address %s / gateway %s not in node subnet %s", p, res.IPs[0].Gateway, subnet)
		}
		mtu, _ := c.Run(context.Background(), "cat", "/sys/class/net/eth0/mtu")
		if strings.TrimSpace(mtu) != "1420" {
			t.Errorf("container MTU %q, want 1420", mtu)
		}
		ips = append(ips, p.Addr().String())
		ctrs = append(ctrs, c)
	}
	for i, c := range ctrs {
		if err := ping(c.Namespace, nets[0].Gateway); err != nil {
			t.Error(err)
		}
		if err := ping(c.Namespace, ips[(i+1)%len(ips)]); err != nil {
			t.Error(err)
		}
	}
	if out, err := nd.cnitool("check", "dcos", ctrs[0].Path); err != nil {
		t.Fatalf("check on a healthy container failed: %v\n%s", err, out)
	}
	if out, err := ctrs[0].Run(context.Background(), "ip", "addr", "flush", "dev", "eth0"); err != nil {
		t.Fatalf("break address: %v %s", err, out)
	}
	if out, err := nd.cnitool("check", "dcos", ctrs[0].Path); err == nil {
		t.Fatalf("check passed on a container without its address:\n%s", out)
	}
	for i := 0; i < 2; i++ {
		if out, err := nd.cnitool("del", "dcos", ctrs[1].Path); err != nil {
			t.Fatalf("del #%d: %v\n%s", i+1, err, out)
		}
	}
	if got := len(nd.leases()); got != 2 {
		t.Fatalf("after DEL of one of three: %d leases, want 2", got)
	}
	// DEL with an empty CNI_NETNS (after a reboot) releases the address.
	cid := leaseOf(t, nd, ips[2]).ContainerID
	conf := fmt.Sprintf(`{"cniVersion":"1.1.0","name":"dcos","type":"dcnet","socket":%q}`, nd.socket)
	if r := nd.execPlugin("dcnet", "DEL", cid, "", "eth0", conf); r.ExitCode != 0 {
		t.Fatalf("DEL without netns: exit %d\n%s%s", r.ExitCode, r.Stdout, r.Stderr)
	}
	// DEL of something never added succeeds too.
	if r := nd.execPlugin("dcnet", "DEL", "never-added", "", "eth0", conf); r.ExitCode != 0 {
		t.Fatalf("DEL without ADD: exit %d\n%s", r.ExitCode, r.Stdout)
	}
	if got := len(nd.leases()); got != 1 {
		t.Fatalf("%d leases left, want 1", got)
	}
	_ = f
}

func leaseOf(t *testing.T, nd *node, ip string) api.Attachment {
	t.Helper()
	for _, a := range nd.leases() {
		for _, c := range a.IPs {
			if strings.HasPrefix(c.Address, ip+"/") {
				return a
			}
		}
	}
	t.Fatalf("no lease holds %s", ip)
	return api.Attachment{}
}

// TestPrivilegedLibcni drives the plugins through libcni as a runtime does:
// ADD and CHECK; the reference bridge plugin with dcnet-ipam on the same node
// bridge; GC with a valid list frees exactly the attachments of that
// configuration that are not listed (also ones libcni's cache never saw),
// and leaves another configuration's attachments alone; DEL.
func TestPrivilegedLibcni(t *testing.T) {
	_, nd := setup(t, "elib", "")
	cni := libcni.NewCNIConfigWithCacheDir([]string{binDir}, t.TempDir(), nil)
	conf := fmt.Sprintf(`{"cniVersion":"1.1.0","name":"dcos","plugins":[{"type":"dcnet","socket":%q}]}`, nd.socket)
	list, err := libcni.ConfListFromBytes([]byte(conf))
	if err != nil {
		t.Fatal(err)
	}
	ipamList, err := libcni.ConfListFromBytes([]byte(fmt.Sprintf(
		`{"cniVersion":"1.1.0","name":"dcos-bridge","plugins":[{"type":"bridge","bridge":"m-dcos","isGateway":true,"mtu":1420,
		  "ipam":{"type":"dcnet-ipam","network":"dcos","socket":%q,"routes":[{"dst":"0.0.0.0/0"}]}}]}`, nd.socket)))
	if err != nil {
		t.Fatal(err)
	}
	ctr := map[string]*netsim.Container{}
	addr := map[string]string{}
	add := func(id string, l *libcni.NetworkConfigList) *libcni.RuntimeConf {
		t.Helper()
		c, err := nd.AddContainer(id)
		if err != nil {
			t.Fatal(err)
		}
		ctr[id] = c
		rt := &libcni.RuntimeConf{ContainerID: id, NetNS: c.Path, IfName: "eth0"}
		err = nd.Do(func(ns.NetNS) error {
			res, err := cni.AddNetworkList(context.Background(), l, rt)
			if err != nil {
				return err
			}
			b, _ := json.Marshal(res)
			var r struct {
				IPs []struct{ Address string } `json:"ips"`
			}
			json.Unmarshal(b, &r)
			addr[id] = strings.Split(r.IPs[0].Address, "/")[0]
			return cni.CheckNetworkList(context.Background(), l, rt)
		})
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		return rt
	}
	rt0 := add("ctr-0", list)
	rtb := add("ctr-b", ipamList)
	// Two attachments made behind libcni's back (its cache does not know them).
	for _, id := range []string{"ctr-1", "ctr-2"} {
		c, err := nd.AddContainer(id)
		if err != nil {
			t.Fatal(err)
		}
		single := fmt.Sprintf(`{"cniVersion":"1.1.0","name":"dcos","type":"dcnet","socket":%q}`, nd.socket)
		if r := nd.execPlugin("dcnet", "ADD", id, c.Path, "eth0", single); r.ExitCode != 0 {
			t.Fatalf("ADD %s: %s %s", id, r.Stdout, r.Stderr)
		}
	}
	// The bridge+dcnet-ipam container reaches a dcnet container on the same bridge.
	if err := ping(ctr["ctr-b"].Namespace, addr["ctr-0"]); err != nil {
		t.Error(err)
	}
	err = nd.Do(func(ns.NetNS) error {
		return cni.GCNetworkList(context.Background(), list, &libcni.GCArgs{ValidAttachments: []types.GCAttachment{{ContainerID: "ctr-0", IfName: "eth0"}}})
	})
	if err != nil {
		t.Fatalf("gc: %v", err)
	}
	left := map[string]bool{}
	for _, a := range nd.leases() {
		left[a.ContainerID] = true
	}
	if want := map[string]bool{"ctr-0": true, "ctr-b": true}; !reflect.DeepEqual(left, want) {
		t.Fatalf("after GC of dcos with valid [ctr-0]: leases %v, want %v", left, want)
	}
	for _, c := range []struct {
		l  *libcni.NetworkConfigList
		rt *libcni.RuntimeConf
	}{{list, rt0}, {ipamList, rtb}} {
		if err := nd.Do(func(ns.NetNS) error { return cni.DelNetworkList(context.Background(), c.l, c.rt) }); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(nd.leases()); n != 0 {
		t.Fatalf("%d leases after DEL of everything", n)
	}
}

// TestPrivilegedNoCNIVersion: a DC/OS-style config without cniVersion gets
// the 0.1.0 result (ip4) that Mesos reads; Mesos' labels and port mappings
// reach the endpoint record.
func TestPrivilegedNoCNIVersion(t *testing.T) {
	_, nd := setup(t, "e010", "")
	c, err := nd.AddContainer("m")
	if err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf(`{"name":"dcos","type":"dcnet","socket":%q,
	  "args":{"org.apache.mesos":{"network_info":{"name":"dcos",
	    "labels":{"labels":[{"key":"VIP_0","value":"/web:80"}]},
	    "port_mappings":[{"host_port":8080,"container_port":80,"protocol":"tcp"}]}}}}`, nd.socket)
	r := nd.execPlugin("dcnet", "ADD", "mesos-1", c.Path, "eth0", conf)
	if r.ExitCode != 0 {
		t.Fatalf("ADD: exit %d\n%s\n%s", r.ExitCode, r.Stdout, r.Stderr)
	}
	var res map[string]json.RawMessage
	if err := json.Unmarshal([]byte(r.Stdout), &res); err != nil {
		t.Fatalf("result: %v\n%s", err, r.Stdout)
	}
	var ip4 struct {
		IP      string `json:"ip"`
		Gateway string `json:"gateway"`
	}
	if err := json.Unmarshal(res["ip4"], &ip4); err != nil || ip4.IP == "" || ip4.Gateway == "" {
		t.Fatalf("want a 0.1.0 result with ip4.ip and ip4.gateway, got:\n%s", r.Stdout)
	}
	if _, ok := res["ips"]; ok {
		t.Fatalf("0.1.0 result must not carry ips:\n%s", r.Stdout)
	}
	if err := netsim.WaitFor(context.Background(), 5*time.Second, 20*time.Millisecond, func() error {
		eps, err := nd.client.Endpoints(context.Background())
		if err != nil || len(eps) != 1 {
			return fmt.Errorf("endpoints %v %v", eps, err)
		}
		if eps[0].Labels["VIP_0"] != "/web:80" || len(eps[0].PortMappings) != 1 || eps[0].PortMappings[0].HostPort != 8080 {
			return fmt.Errorf("endpoint record %+v", eps[0])
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if r := nd.execPlugin("dcnet", "DEL", "mesos-1", c.Path, "eth0", conf); r.ExitCode != 0 {
		t.Fatalf("DEL: %s", r.Stdout)
	}
}

// TestPrivilegedMasquerade: a container reaches a host outside the overlay
// and the host sees the node's underlay address, not the container's.
func TestPrivilegedMasquerade(t *testing.T) {
	f, nd := setup(t, "emsq", "")
	out, err := f.AddOutside()
	if err != nil {
		t.Fatal(err)
	}
	c, err := nd.AddContainer("m")
	if err != nil {
		t.Fatal(err)
	}
	if o, err := nd.cnitool("add", "dcos", c.Path); err != nil {
		t.Fatalf("add: %v %s", err, o)
	}
	var ln net.Listener
	if err := out.Do(func(ns.NetNS) error {
		var err error
		ln, err = net.Listen("tcp", net.JoinHostPort(netsim.OutsideIP.String(), "8080"))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	seen := make(chan string, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			seen <- err.Error()
			return
		}
		seen <- conn.RemoteAddr().(*net.TCPAddr).IP.String()
		conn.Close()
	}()
	err = c.Do(func(ns.NetNS) error {
		conn, err := net.DialTimeout("tcp", net.JoinHostPort(netsim.OutsideIP.String(), "8080"), 3*time.Second)
		if err != nil {
			return err
		}
		return conn.Close()
	})
	if err != nil {
		t.Fatalf("container to outside: %v", err)
	}
	select {
	case src := <-seen:
		if src != nd.UnderlayIP.String() {
			t.Fatalf("outside host saw source %s, want the node's underlay %s (masquerade)", src, nd.UnderlayIP)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no connection reached the outside host")
	}
}
