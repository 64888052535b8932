package dcnet

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"
	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/google/go-cmp/cmp"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/dcnet/dcnet/internal/netsim"
	"github.com/dcnet/dcnet/overlayd/api"
	"github.com/dcnet/dcnet/plugins/internal/fakeoverlayd"
	"github.com/dcnet/dcnet/plugins/internal/nstest"
	"github.com/dcnet/dcnet/plugins/internal/plugintest"
	"github.com/dcnet/dcnet/plugins/lease"
	"github.com/dcnet/dcnet/plugins/veth"
)

// node is a simulated node: a netns with bridge m-dcos, a fake overlayd,
// and the plugin with the real kernel.
type node struct {
	ns     ns.NetNS
	srv    *fakeoverlayd.Server
	plugin *Plugin
	out    *bytes.Buffer
}

func newNode(t *testing.T, n api.Network, gateways ...string) *node {
	netsim.Privileged(t)
	nd := &node{ns: nstest.NewNS(t), srv: fakeoverlayd.Start(t, n), out: &bytes.Buffer{}}
	nstest.Bridge(t, nd.ns, "m-dcos", gateways...)
	nd.plugin = &Plugin{Kernel: veth.Netlink{}, Stdout: nd.out}
	return nd
}

// run calls a plugin command inside the node's netns, as the runtime would.
func (nd *node) run(cmd func(*skel.CmdArgs) error, args *skel.CmdArgs) error {
	var cmdErr error
	if err := nd.ns.Do(func(ns.NetNS) error { cmdErr = cmd(args); return nil }); err != nil {
		return err
	}
	return cmdErr
}

func (nd *node) conf(version, extra string) []byte {
	if extra != "" {
		extra = "," + extra
	}
	return []byte(fmt.Sprintf(`{"cniVersion":%q,"name":"dcos","type":"dcnet","socket":%q%s}`, version, nd.srv.Socket, extra))
}

// bridgePorts lists the links enslaved to m-dcos in the node.
func (nd *node) bridgePorts(t *testing.T) []string {
	t.Helper()
	var ports []string
	err := nd.ns.Do(func(ns.NetNS) error {
		br, err := netlink.LinkByName("m-dcos")
		if err != nil {
			return err
		}
		links, err := netlink.LinkList()
		if err != nil {
			return err
		}
		for _, l := range links {
			if l.Attrs().MasterIndex == br.Attrs().Index {
				ports = append(ports, l.Attrs().Name)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("bridge ports: %v", err)
	}
	return ports
}

func TestPrivilegedAddCheckDel(t *testing.T) {
	nd := newNode(t, testNetwork, "9.0.3.1/24")
	cont := nstest.NewNS(t)
	args := &skel.CmdArgs{ContainerID: "c1", Netns: cont.Path(), IfName: "eth0", StdinData: nd.conf("1.0.0", "")}

	if err := nd.run(nd.plugin.Add, args); err != nil {
		t.Fatalf("ADD: %v", err)
	}
	prev := strings.TrimSpace(nd.out.String())

	// The container: eth0 up, mtu 1420, one address in 9.0.3.0/24, default route via the gateway.
	var addr net.IP
	err := cont.Do(func(ns.NetNS) error {
		link, err := netlink.LinkByName("eth0")
		if err != nil {
			return err
		}
		if link.Attrs().MTU != 1420 || link.Attrs().Flags&net.FlagUp == 0 {
			return fmt.Errorf("eth0 mtu %d flags %v, want mtu 1420 and up", link.Attrs().MTU, link.Attrs().Flags)
		}
		addrs, err := netlink.AddrList(link, netlink.FAMILY_V4)
		if err != nil || len(addrs) != 1 {
			return fmt.Errorf("eth0 addresses %v (%v), want one", addrs, err)
		}
		_, subnet, _ := net.ParseCIDR("9.0.3.0/24")
		if !subnet.Contains(addrs[0].IP) || addrs[0].IPNet.Mask.String() != subnet.Mask.String() {
			return fmt.Errorf("eth0 address %s, want one in %s", addrs[0].IPNet, subnet)
		}
		addr = addrs[0].IP
		routes, err := netlink.RouteList(link, netlink.FAMILY_V4)
		if err != nil {
			return err
		}
		for _, r := range routes {
			if (r.Dst == nil || r.Dst.String() == "0.0.0.0/0") && r.Gw.Equal(net.ParseIP("9.0.3.1")) {
				return nil
			}
		}
		return fmt.Errorf("no default route via 9.0.3.1 in %v", routes)
	})
	if err != nil {
		t.Fatalf("container after ADD: %v", err)
	}

	// The node: the host end on the bridge, up, mtu 1420, hairpin on.
	host := HostVethName("c1", "eth0")
	if diff := cmp.Diff([]string{host}, nd.bridgePorts(t)); diff != "" {
		t.Errorf("bridge ports (-want +got):\n%s", diff)
	}
	err = nd.ns.Do(func(ns.NetNS) error {
		link, err := netlink.LinkByName(host)
		if err != nil {
			return err
		}
		if link.Attrs().MTU != 1420 || link.Attrs().Flags&net.FlagUp == 0 {
			return fmt.Errorf("%s mtu %d flags %v", host, link.Attrs().MTU, link.Attrs().Flags)
		}
		pi, err := netlink.LinkGetProtinfo(link)
		if err != nil {
			return err
		}
		if !pi.Hairpin {
			return fmt.Errorf("%s: hairpin off", host)
		}
		return nil
	})
	if err != nil {
		t.Errorf("host end: %v", err)
	}

	// The result agrees with the kernel.
	var res struct {
		IPs []struct {
			Address   string `json:"address"`
			Gateway   string `json:"gateway"`
			Interface int    `json:"interface"`
		} `json:"ips"`
		Interfaces []struct {
			Name    string `json:"name"`
			Sandbox string `json:"sandbox"`
		} `json:"interfaces"`
	}
	if err := json.Unmarshal([]byte(prev), &res); err != nil {
		t.Fatalf("result %s: %v", prev, err)
	}
	if len(res.IPs) != 1 || res.IPs[0].Address != addr.String()+"/24" || res.IPs[0].Gateway != "9.0.3.1" ||
		res.Interfaces[res.IPs[0].Interface].Name != "eth0" || res.Interfaces[res.IPs[0].Interface].Sandbox != cont.Path() {
		t.Errorf("result %s does not describe eth0 with %s", prev, addr)
	}

	if err := nstest.Ping(cont, "9.0.3.1"); err != nil {
		t.Errorf("container -> gateway: %v", err)
	}

	check := &skel.CmdArgs{ContainerID: "c1", Netns: cont.Path(), IfName: "eth0", StdinData: nd.conf("1.0.0", `"prevResult":`+prev)}
	if err := nd.run(nd.plugin.Check, check); err != nil {
		t.Errorf("CHECK after ADD: %v", err)
	}
	err = cont.Do(func(ns.NetNS) error {
		link, err := netlink.LinkByName("eth0")
		if err != nil {
			return err
		}
		return netlink.AddrDel(link, &netlink.Addr{IPNet: &net.IPNet{IP: addr, Mask: net.CIDRMask(24, 32)}})
	})
	if err != nil {
		t.Fatalf("delete the container's address: %v", err)
	}
	err = nd.run(nd.plugin.Check, check)
	if err == nil || !strings.Contains(err.Error(), "lacks address "+addr.String()+"/24") {
		t.Errorf("CHECK after deleting the address: %v, want it to name the missing address", err)
	}

	for i := range 2 {
		if err := nd.run(nd.plugin.Del, args); err != nil {
			t.Fatalf("DEL #%d: %v", i+1, err)
		}
	}
	if ports := nd.bridgePorts(t); len(ports) != 0 {
		t.Errorf("bridge ports after DEL: %v", ports)
	}
	if nd.srv.String() != "" {
		t.Errorf("overlayd after DEL: %q", nd.srv)
	}
	err = cont.Do(func(ns.NetNS) error {
		if _, err := netlink.LinkByName("eth0"); err == nil {
			return fmt.Errorf("eth0 still there")
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
}

func TestPrivilegedDelWithoutNetNS(t *testing.T) {
	nd := newNode(t, testNetwork, "9.0.3.1/24")
	tests := []struct {
		name  string
		netns func(cont ns.NetNS) string // CNI_NETNS of the DEL
	}{
		{"empty CNI_NETNS", func(ns.NetNS) string { return "" }},
		{"netns gone", func(cont ns.NetNS) string {
			path := cont.Path()
			nstest.Remove(t, cont)
			return path
		}},
		{"not a netns", func(ns.NetNS) string {
			path := filepath.Join(t.TempDir(), "plain-file")
			if err := os.WriteFile(path, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			return path
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cont := nstest.NewNS(t)
			conf := nd.conf("0.4.0", "")
			if err := nd.run(nd.plugin.Add, &skel.CmdArgs{ContainerID: "c1", Netns: cont.Path(), IfName: "eth0", StdinData: conf}); err != nil {
				t.Fatalf("ADD: %v", err)
			}
			del := &skel.CmdArgs{ContainerID: "c1", Netns: tt.netns(cont), IfName: "eth0", StdinData: conf}
			for i := range 2 {
				if err := nd.run(nd.plugin.Del, del); err != nil {
					t.Fatalf("DEL #%d: %v", i+1, err)
				}
			}
			if ports := nd.bridgePorts(t); len(ports) != 0 {
				t.Errorf("bridge ports after DEL: %v", ports)
			}
			if nd.srv.String() != "" {
				t.Errorf("overlayd after DEL: %q", nd.srv)
			}
		})
	}
}

func TestPrivilegedAddFailuresLeaveNothing(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, nd *node) []byte // returns the config
		code  uint
		msg   string
	}{{
		name: "subnet exhausted",
		setup: func(t *testing.T, nd *node) []byte {
			nd.srv.Fail(api.PathAllocate, http.StatusServiceUnavailable,
				api.ErrorBody{Code: api.CodeExhausted, Error: "no free address in 9.0.3.0/24 of network dcos"})
			return nd.conf("1.0.0", "")
		},
		code: lease.CodeSubnetExhausted,
		msg:  "no free address in 9.0.3.0/24",
	}, {
		name: "socket missing",
		setup: func(t *testing.T, nd *node) []byte {
			return []byte(`{"cniVersion":"1.0.0","name":"dcos","type":"dcnet","socket":"/nonexistent/overlayd.sock"}`)
		},
		code: types.ErrTryAgainLater,
		msg:  "overlayd is not reachable at /nonexistent/overlayd.sock",
	}, {
		name: "bridge missing",
		setup: func(t *testing.T, nd *node) []byte {
			nd.srv.Stop()
			nd.srv = fakeoverlayd.Start(t, api.Network{Name: "dcos", Bridge: "m-none", MTU: 1420, NodeSubnet: "9.0.3.0/24", Gateway: "9.0.3.1"})
			return nd.conf("1.0.0", "")
		},
		code: types.ErrInternal,
		msg:  "bridge m-none not found",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nd := newNode(t, testNetwork, "9.0.3.1/24")
			cont := nstest.NewNS(t)
			conf := tt.setup(t, nd)
			err := nd.run(nd.plugin.Add, &skel.CmdArgs{ContainerID: "c1", Netns: cont.Path(), IfName: "eth0", StdinData: conf})
			plugintest.WantCode(t, err, tt.code, tt.msg)
			if ports := nd.bridgePorts(t); len(ports) != 0 {
				t.Errorf("bridge ports after a failed ADD: %v", ports)
			}
			if nd.srv.String() != "" {
				t.Errorf("overlayd after a failed ADD: %q", nd.srv)
			}
			if n := linkCount(t, nd.ns); n != 2 { // lo, m-dcos
				t.Errorf("node has %d links after a failed ADD, want 2", n)
			}
			if n := linkCount(t, cont); n != 1 { // lo
				t.Errorf("container has %d links after a failed ADD, want 1", n)
			}
		})
	}
}

func TestPrivilegedDualStack(t *testing.T) {
	nd := newNode(t, api.Network{Name: "dcos", Bridge: "m-dcos", MTU: 1420,
		NodeSubnet: "9.0.3.0/24", Gateway: "9.0.3.1", NodeSubnet6: "fd01:b:0:0:3::/80", Gateway6: "fd01:b::3:0:0:1"},
		"9.0.3.1/24", "fd01:b::3:0:0:1/80")
	cont := nstest.NewNS(t)
	args := &skel.CmdArgs{ContainerID: "c1", Netns: cont.Path(), IfName: "eth0", StdinData: nd.conf("1.1.0", "")}
	if err := nd.run(nd.plugin.Add, args); err != nil {
		t.Fatalf("ADD: %v", err)
	}
	err := cont.Do(func(ns.NetNS) error {
		link, err := netlink.LinkByName("eth0")
		if err != nil {
			return err
		}
		addrs, err := netlink.AddrList(link, netlink.FAMILY_V6)
		if err != nil {
			return err
		}
		for _, a := range addrs {
			if a.IPNet.String() == "fd01:b::3:0:0:2/80" {
				if a.Flags&unix.IFA_F_TENTATIVE != 0 {
					return fmt.Errorf("%s is tentative (DAD)", a.IPNet)
				}
				return nil
			}
		}
		return fmt.Errorf("no fd01:b::3:0:0:2/80 in %v", addrs)
	})
	if err != nil {
		t.Fatalf("container: %v", err)
	}
	for _, gw := range []string{"9.0.3.1", "fd01:b::3:0:0:1"} {
		if err := nstest.Ping(cont, gw); err != nil {
			t.Errorf("container -> %s: %v", gw, err)
		}
	}
	check := &skel.CmdArgs{ContainerID: "c1", Netns: cont.Path(), IfName: "eth0", StdinData: nd.conf("1.1.0", `"prevResult":`+nd.out.String())}
	if err := nd.run(nd.plugin.Check, check); err != nil {
		t.Errorf("CHECK: %v", err)
	}
	if err := nd.run(nd.plugin.Del, args); err != nil {
		t.Errorf("DEL: %v", err)
	}
}

func linkCount(t *testing.T, n ns.NetNS) int {
	t.Helper()
	var count int
	err := n.Do(func(ns.NetNS) error {
		links, err := netlink.LinkList()
		count = len(links)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return count
}
