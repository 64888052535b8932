package datapath

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"

	"github.com/coreos/go-iptables/iptables"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

var _ Kernel = (*Netlink)(nil)

// Netlink is the Kernel of the network namespace the process runs in.
type Netlink struct {
	// Log, when set, receives the rare events worth an operator's eye,
	// such as a VTEP recreated for a changed VNI, port or local address.
	Log *slog.Logger

	ipt [2]IPTables
}

// NewNetlink returns the real kernel. iptables binaries are looked up lazily.
func NewNetlink() *Netlink { return &Netlink{} }

// EnsureBridge implements Kernel.
func (n *Netlink) EnsureBridge(b Bridge) (bool, error) {
	changed := false
	link, err := netlink.LinkByName(b.Name)
	var nf netlink.LinkNotFoundError
	switch {
	case errors.As(err, &nf):
		la := netlink.NewLinkAttrs()
		la.Name = b.Name
		la.MTU = b.MTU
		if err := netlink.LinkAdd(&netlink.Bridge{LinkAttrs: la}); err != nil && !errors.Is(err, unix.EEXIST) {
			return false, fmt.Errorf("create bridge %s: %w", b.Name, err)
		}
		changed = true
		if link, err = netlink.LinkByName(b.Name); err != nil {
			return changed, fmt.Errorf("find bridge %s after creating it: %w", b.Name, err)
		}
	case err != nil:
		return false, fmt.Errorf("find bridge %s: %w", b.Name, err)
	}
	if link.Type() != "bridge" {
		return false, fmt.Errorf("link %s exists but is a %s, not a bridge: remove it or choose another bridge name", b.Name, link.Type())
	}
	// The kernel resets an empty bridge to MTU 1500 and makes it follow its
	// ports otherwise; an empty bridge's MTU carries no traffic, so only a
	// bridge with ports (or a new one) is corrected, and a reconcile after
	// the last container left reports no repair.
	if b.MTU > 0 && link.Attrs().MTU != b.MTU && (changed || hasPorts(link)) {
		if err := netlink.LinkSetMTU(link, b.MTU); err != nil {
			return changed, fmt.Errorf("set mtu %d on bridge %s: %w", b.MTU, b.Name, err)
		}
		changed = true
	}
	if b.MAC != nil && link.Attrs().HardwareAddr.String() != b.MAC.String() {
		if err := netlink.LinkSetHardwareAddr(link, b.MAC); err != nil {
			return changed, fmt.Errorf("set mac %s on bridge %s: %w", b.MAC, b.Name, err)
		}
		changed = true
	}
	if hasIPv6(b.Addrs) {
		// No DAD on the gateway: containers may use it at once.
		_ = writeSysctl("net/ipv6/conf/"+b.Name+"/accept_dad", "0")
	}
	if link.Attrs().Flags&net.FlagUp == 0 {
		if err := netlink.LinkSetUp(link); err != nil {
			return changed, fmt.Errorf("set bridge %s up: %w", b.Name, err)
		}
		changed = true
	}
	ch, err := ensureAddrs(link, b)
	return changed || ch, err
}

// hasPorts reports whether any link is enslaved to the bridge.
func hasPorts(br netlink.Link) bool {
	links, err := netlink.LinkList()
	if err != nil {
		return true // when in doubt, correct the MTU
	}
	for _, l := range links {
		if l.Attrs().MasterIndex == br.Attrs().Index {
			return true
		}
	}
	return false
}

func hasIPv6(ps []netip.Prefix) bool {
	for _, p := range ps {
		if p.Addr().Is6() {
			return true
		}
	}
	return false
}

func ensureAddrs(link netlink.Link, b Bridge) (bool, error) {
	have, err := netlink.AddrList(link, netlink.FAMILY_ALL)
	if err != nil {
		return false, fmt.Errorf("list addresses of %s: %w", b.Name, err)
	}
	want := map[netip.Prefix]bool{}
	for _, a := range b.Addrs {
		want[a] = true
	}
	changed := false
	for _, a := range have {
		p, ok := prefixOf(a.IPNet)
		if !ok || want[p] {
			delete(want, p)
			continue
		}
		for _, r := range b.Ranges {
			if r.Contains(p.Addr()) {
				if err := netlink.AddrDel(link, &a); err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) {
					return changed, fmt.Errorf("remove stale address %s from %s: %w", p, b.Name, err)
				}
				changed = true
				break
			}
		}
	}
	for _, a := range b.Addrs {
		if !want[a] {
			continue
		}
		addr := &netlink.Addr{IPNet: &net.IPNet{IP: a.Addr().AsSlice(), Mask: net.CIDRMask(a.Bits(), a.Addr().BitLen())}}
		if a.Addr().Is6() {
			addr.Flags = unix.IFA_F_NODAD
		}
		if err := netlink.AddrAdd(link, addr); err != nil && !errors.Is(err, unix.EEXIST) {
			return changed, fmt.Errorf("add address %s to %s: %w", a, b.Name, err)
		}
		changed = true
	}
	return changed, nil
}

func prefixOf(n *net.IPNet) (netip.Prefix, bool) {
	if n == nil {
		return netip.Prefix{}, false
	}
	a, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	ones, _ := n.Mask.Size()
	return netip.PrefixFrom(a.Unmap(), ones), true
}

// EnsureForwarding implements Kernel.
func (n *Netlink) EnsureForwarding(ipv6 bool) (bool, error) {
	key := "net/ipv4/ip_forward"
	if ipv6 {
		key = "net/ipv6/conf/all/forwarding"
	}
	cur, err := os.ReadFile("/proc/sys/" + key)
	if err != nil {
		return false, fmt.Errorf("read sysctl %s: %w", key, err)
	}
	if strings.TrimSpace(string(cur)) == "1" {
		return false, nil
	}
	if err := writeSysctl(key, "1"); err != nil {
		return false, err
	}
	return true, nil
}

func writeSysctl(key, value string) error {
	if err := os.WriteFile("/proc/sys/"+key, []byte(value), 0o644); err != nil {
		return fmt.Errorf("set sysctl %s=%s: %w", strings.ReplaceAll(key, "/", "."), value, err)
	}
	return nil
}

// iptables returns the IPTables of one family, made on first use.
func (n *Netlink) iptables(ipv6 bool) (IPTables, error) {
	i, proto := 0, iptables.ProtocolIPv4
	if ipv6 {
		i, proto = 1, iptables.ProtocolIPv6
	}
	if n.ipt[i] == nil {
		t, err := iptables.NewWithProtocol(proto)
		if err != nil {
			return nil, fmt.Errorf("iptables (install the iptables package): %w", err)
		}
		n.ipt[i] = goIPTables{t}
	}
	return n.ipt[i], nil
}

// goIPTables is IPTables on the iptables binaries: go-iptables, and
// iptables-save for Save.
type goIPTables struct{ *iptables.IPTables }

// Save implements IPTables.
func (g goIPTables) Save(table string) (string, error) { return saveTable(g.Proto(), table) }

// EnsureMasquerade implements Kernel.
func (n *Netlink) EnsureMasquerade(m Masquerade) (bool, error) {
	if len(m.Ranges) == 0 {
		return false, nil
	}
	ipt, err := n.iptables(m.IPv6)
	if err != nil {
		return false, err
	}
	return ensureMasquerade(ipt, m)
}

// saveTable is `iptables-save -t table` (ip6tables-save for IPv6).
func saveTable(proto iptables.Protocol, table string) (string, error) {
	bin := "iptables-save"
	if proto == iptables.ProtocolIPv6 {
		bin = "ip6tables-save"
	}
	out, err := exec.Command(bin, "-t", table).Output()
	if err != nil {
		return "", fmt.Errorf("%s -t %s: %w", bin, table, err)
	}
	return string(out), nil
}

// ensureNoTrack makes the raw-table NOTRACK chain of v's underlay family
// exist (jumped to from PREROUTING and OUTPUT) when v.NoTrack is set, and
// removes it otherwise.
func (n *Netlink) ensureNoTrack(v VTEP) (bool, error) {
	ipt, err := n.iptables(v.Local.Is6() && !v.Local.Is4In6())
	if err != nil {
		return false, err
	}
	return ensureNoTrack(ipt, v)
}
