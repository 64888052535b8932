package datapath

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"

	"github.com/coreos/go-iptables/iptables"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Chains dcnet owns in the nat and filter tables.
const (
	ChainMasq    = "DCNET-POSTROUTING"
	ChainForward = "DCNET-FORWARD"
	// ChainNoTrack, in the raw table, exempts VxLAN packets from conntrack.
	ChainNoTrack = "DCNET-VXLAN-NOTRACK"
	jumpComment  = "dcnet: overlay masquerade and forwarding"
)

var _ Kernel = (*Netlink)(nil)

// Netlink is the Kernel of the network namespace the process runs in.
type Netlink struct {
	// Log, when set, receives the rare events worth an operator's eye,
	// such as a VTEP recreated for a changed VNI, port or local address.
	Log *slog.Logger

	ipt [2]*iptables.IPTables
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

func (n *Netlink) iptables(ipv6 bool) (*iptables.IPTables, error) {
	i, proto := 0, iptables.ProtocolIPv4
	if ipv6 {
		i, proto = 1, iptables.ProtocolIPv6
	}
	if n.ipt[i] == nil {
		t, err := iptables.NewWithProtocol(proto)
		if err != nil {
			return nil, fmt.Errorf("iptables (install the iptables package): %w", err)
		}
		n.ipt[i] = t
	}
	return n.ipt[i], nil
}

// MasqueradeRules returns the rules of the nat and filter chains for m, in
// iptables -S form without the "-A CHAIN" head.
func MasqueradeRules(m Masquerade) (nat, filter [][]string) {
	for _, r := range m.Ranges {
		s := r.String()
		nat = append(nat,
			[]string{"-s", s, "-d", s, "-j", "RETURN"},
			[]string{"-s", s, "-j", "MASQUERADE"})
		filter = append(filter,
			[]string{"-s", s, "-j", "ACCEPT"},
			[]string{"-d", s, "-j", "ACCEPT"})
	}
	return nat, filter
}

// EnsureMasquerade implements Kernel.
func (n *Netlink) EnsureMasquerade(m Masquerade) (bool, error) {
	if len(m.Ranges) == 0 {
		return false, nil
	}
	ipt, err := n.iptables(m.IPv6)
	if err != nil {
		return false, err
	}
	nat, filter := MasqueradeRules(m)
	c1, err := ensureChain(ipt, "nat", ChainMasq, nat, "POSTROUTING")
	if err != nil {
		return c1, err
	}
	c2, err := ensureChain(ipt, "filter", ChainForward, filter, "FORWARD")
	return c1 || c2, err
}

// ensureChain makes chain hold exactly rules and be jumped to from every
// parent. It first reads the table with one iptables-save: when all is
// as wanted (every reconcile but the first and those after hand damage)
// that is its only exec.
func ensureChain(ipt *iptables.IPTables, table, chain string, rules [][]string, parents ...string) (bool, error) {
	if saved, err := saveTable(ipt.Proto(), table); err == nil && chainInSync(saved, chain, rules, parents) {
		return false, nil
	}
	changed := false
	exists, err := ipt.ChainExists(table, chain)
	if err != nil {
		return false, fmt.Errorf("check chain %s/%s: %w", table, chain, err)
	}
	if !exists {
		if err := ipt.NewChain(table, chain); err != nil {
			return false, fmt.Errorf("create chain %s/%s: %w", table, chain, err)
		}
		changed = true
	}
	have, err := ipt.List(table, chain)
	if err != nil {
		return changed, fmt.Errorf("list chain %s/%s: %w", table, chain, err)
	}
	want := []string{"-N " + chain}
	for _, r := range rules {
		want = append(want, "-A "+chain+" "+strings.Join(r, " "))
	}
	if strings.Join(have, "\n") != strings.Join(want, "\n") {
		if err := ipt.ClearChain(table, chain); err != nil {
			return changed, fmt.Errorf("clear chain %s/%s: %w", table, chain, err)
		}
		for _, r := range rules {
			if err := ipt.Append(table, chain, r...); err != nil {
				return true, fmt.Errorf("add rule %q to %s/%s: %w", strings.Join(r, " "), table, chain, err)
			}
		}
		changed = true
	}
	jump := []string{"-m", "comment", "--comment", jumpComment, "-j", chain}
	for _, parent := range parents {
		ok, err := ipt.Exists(table, parent, jump...)
		if err != nil {
			return changed, fmt.Errorf("check jump %s/%s -> %s: %w", table, parent, chain, err)
		}
		if !ok {
			if err := ipt.Insert(table, parent, 1, jump...); err != nil {
				return changed, fmt.Errorf("add jump %s/%s -> %s: %w", table, parent, chain, err)
			}
			changed = true
		}
	}
	return changed, nil
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

// chainInSync reports whether an iptables-save dump shows chain holding
// exactly rules, in order, and jumped to from every parent with dcnet's
// comment. The lines are compared in the form `iptables -S` prints, which
// iptables-save shares.
func chainInSync(saved, chain string, rules [][]string, parents []string) bool {
	var have []string
	exists := false
	jumps := map[string]bool{}
	for _, line := range strings.Split(saved, "\n") {
		switch {
		case strings.HasPrefix(line, ":"+chain+" "):
			exists = true
		case strings.HasPrefix(line, "-A "+chain+" "):
			have = append(have, line)
		case strings.HasPrefix(line, "-A ") && strings.HasSuffix(line, " -j "+chain) && strings.Contains(line, jumpComment):
			jumps[strings.Fields(line)[1]] = true
		}
	}
	if !exists || len(have) != len(rules) {
		return false
	}
	for i, r := range rules {
		if have[i] != "-A "+chain+" "+strings.Join(r, " ") {
			return false
		}
	}
	for _, p := range parents {
		if !jumps[p] {
			return false
		}
	}
	return true
}

// NoTrackRules returns the rules of the raw-table chain that exempts the
// VxLAN packets of v from connection tracking, in iptables -S form without
// the "-A CHAIN" head. Both directions of a tunnel go to v.Port.
func NoTrackRules(v VTEP) [][]string {
	return [][]string{{"-p", "udp", "-m", "udp", "--dport", strconv.Itoa(v.Port), "-j", "CT", "--notrack"}}
}

// ensureNoTrack makes the raw-table NOTRACK chain of v's underlay family
// exist (jumped to from PREROUTING and OUTPUT) when v.NoTrack is set, and
// removes it otherwise.
func (n *Netlink) ensureNoTrack(v VTEP) (bool, error) {
	ipt, err := n.iptables(v.Local.Is6() && !v.Local.Is4In6())
	if err != nil {
		return false, err
	}
	if !v.NoTrack {
		return removeChain(ipt, "raw", ChainNoTrack, "PREROUTING", "OUTPUT")
	}
	return ensureChain(ipt, "raw", ChainNoTrack, NoTrackRules(v), "PREROUTING", "OUTPUT")
}

// removeChain deletes chain from table and its jumps from parents, if it
// exists.
func removeChain(ipt *iptables.IPTables, table, chain string, parents ...string) (bool, error) {
	exists, err := ipt.ChainExists(table, chain)
	if err != nil || !exists {
		if err != nil {
			err = fmt.Errorf("check chain %s/%s: %w", table, chain, err)
		}
		return false, err
	}
	jump := []string{"-m", "comment", "--comment", jumpComment, "-j", chain}
	for _, p := range parents {
		if err := ipt.DeleteIfExists(table, p, jump...); err != nil {
			return true, fmt.Errorf("delete jump %s/%s -> %s: %w", table, p, chain, err)
		}
	}
	if err := ipt.ClearAndDeleteChain(table, chain); err != nil {
		return true, fmt.Errorf("delete chain %s/%s: %w", table, chain, err)
	}
	return true, nil
}
