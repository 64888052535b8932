package portmap

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// layout is the per-family shape of a table: header offsets, types and
// the registers nft itself uses for these rules (`nft --debug=netlink`).
type layout struct {
	family     nftables.TableFamily
	natFamily  uint32
	addrLen    uint32
	daddrOff   uint32
	saddrOff   uint32
	regNATPort uint32
	addrType   nftables.SetDatatype
	targetData nftables.SetDatatype
}

// Registers: 1 is the 16-byte NFT_REG_1; 8 and up are the 4-byte
// NFT_REG32_00.. that alias it (9 = NFT_REG32_01, 2 = NFT_REG_2 = 12).
const (
	regKey  = 1
	regPort = 9
)

var layouts = [2]layout{
	IPv4: {family: nftables.TableFamilyIPv4, natFamily: unix.NFPROTO_IPV4, addrLen: 4, daddrOff: 16, saddrOff: 12,
		regNATPort: 9, addrType: nftables.TypeIPAddr},
	IPv6: {family: nftables.TableFamilyIPv6, natFamily: unix.NFPROTO_IPV6, addrLen: 16, daddrOff: 24, saddrOff: 8,
		regNATPort: 2, addrType: nftables.TypeIP6Addr},
}

// portKey is the key type of both maps: l4proto . inet_service.
var portKey = nftables.MustConcatSetType(nftables.TypeInetProto, nftables.TypeInetService)

func init() {
	for i := range layouts {
		layouts[i].targetData = nftables.MustConcatSetType(layouts[i].addrType, nftables.TypeInetService)
	}
}

// Priorities: the translation runs after dcnet-l4lb's (dstnat), so a
// connection l4lb translated, to any VIP it programs, never reaches it
// (the kernel runs later NAT chains of a hook only while no earlier one
// translated the connection); hairpin marking right after it.
var (
	natPriority     = nftables.ChainPriorityRef(*nftables.ChainPriorityNATDest + 10)
	hairpinPriority = nftables.ChainPriorityRef(*nftables.ChainPriorityNATDest + 11)
)

// rtnLocal is RTN_LOCAL, fib's address type of a local address.
const rtnLocal = 2

// ctStatusDNAT is IPS_DST_NAT (linux/netfilter/nf_conntrack_common.h).
const ctStatusDNAT = 1 << 5

var loopback4 = netip.MustParsePrefix("127.0.0.0/8")

func (l layout) table() *nftables.Table { return &nftables.Table{Name: TableName, Family: l.family} }

func (l layout) targets(t *nftables.Table) *nftables.Set {
	return &nftables.Set{Table: t, Name: mapTargets, IsMap: true, Concatenation: true, KeyType: portKey, DataType: l.targetData}
}

// portSet is the plain set of a config chain's host ports: no verdicts in
// any map, because a commit that adds an element jumping to a chain makes
// the kernel validate every element of the map (the cost of an ADD would
// grow with the mappings).
func portSet(t *nftables.Table, chain string) *nftables.Set {
	return &nftables.Set{Table: t, Name: chain, Concatenation: true, KeyType: portKey}
}

// baseChain is one of the hooked chains of the skeleton.
type baseChain struct {
	name     string
	typ      nftables.ChainType
	hook     *nftables.ChainHook
	priority *nftables.ChainPriority
}

var baseChains = []baseChain{
	{chainPrerouting, nftables.ChainTypeNAT, nftables.ChainHookPrerouting, natPriority},
	{chainOutput, nftables.ChainTypeNAT, nftables.ChainHookOutput, natPriority},
	{chainHairpin, nftables.ChainTypeFilter, nftables.ChainHookPrerouting, hairpinPriority},
	{chainPostrout, nftables.ChainTypeNAT, nftables.ChainHookPostrouting, nftables.ChainPriorityNATSource},
}

// fixedRules are the rules of the skeleton's chains, by chain; hostports
// dispatches to each config chain whose set holds the packet's port.
func (l layout) fixedRules(chains []ChainSpec) map[string][][]expr.Any {
	local := []expr.Any{
		&expr.Fib{Register: 1, FlagDADDR: true, ResultADDRTYPE: true},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: ne32(rtnLocal)},
		&expr.Verdict{Kind: expr.VerdictJump, Chain: chainHostports},
	}
	vip := VIPRanges[IPv4]
	if l.family == nftables.TableFamilyIPv6 {
		vip = VIPRanges[IPv6]
	}
	post := [][]expr.Any{masqueradeMarked()}
	if l.family == nftables.TableFamilyIPv4 {
		post = append(post, l.masqueradeLoopback())
	}
	hostports := [][]expr.Any{append(l.prefixMatch(l.daddrOff, vip), &expr.Verdict{Kind: expr.VerdictReturn})}
	for _, c := range chains {
		hostports = append(hostports, []expr.Any{
			&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: regKey},
			&expr.Payload{OperationType: expr.PayloadLoad, DestRegister: regPort, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
			&expr.Lookup{SourceRegister: regKey, SetName: c.Name},
			&expr.Verdict{Kind: expr.VerdictJump, Chain: c.Name},
		})
	}
	return map[string][][]expr.Any{
		chainPrerouting: {local},
		chainOutput:     {local},
		chainHostports:  hostports,
		chainHairpin:    {hairpinMark()},
		chainPostrout:   post,
	}
}

// chainRules are the rules of a config chain: skip the excluded devices
// (each of them), skip loopback destinations unless localhost is on
// (always for IPv6, which cannot route ::1 off the node), then translate.
func (l layout) chainRules(c ChainSpec) [][]expr.Any {
	var rules [][]expr.Any
	for _, dev := range c.Excludes {
		rules = append(rules, []expr.Any{
			&expr.Meta{Key: expr.MetaKeyIIFNAME, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: ifname(dev)},
			&expr.Verdict{Kind: expr.VerdictReturn},
		})
	}
	switch {
	case l.family == nftables.TableFamilyIPv6:
		rules = append(rules, append(l.prefixMatch(l.daddrOff, netip.MustParsePrefix("::1/128")), &expr.Verdict{Kind: expr.VerdictReturn}))
	case !c.Localhost:
		rules = append(rules, append(l.prefixMatch(l.daddrOff, loopback4), &expr.Verdict{Kind: expr.VerdictReturn}))
	}
	return append(rules, []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: regKey},
		&expr.Payload{OperationType: expr.PayloadLoad, DestRegister: regPort, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Lookup{SourceRegister: regKey, DestRegister: 1, IsDestRegSet: true, SetName: mapTargets},
		&expr.NAT{Type: expr.NATTypeDestNAT, Family: l.natFamily, RegAddrMin: 1, RegProtoMin: l.regNATPort, Specified: true},
	})
}

// prefixMatch: <addr at off> & mask == prefix (a /128 or /32 compares
// without the mask).
func (l layout) prefixMatch(off uint32, p netip.Prefix) []expr.Any {
	load := &expr.Payload{OperationType: expr.PayloadLoad, DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: l.addrLen}
	want := p.Masked().Addr().AsSlice()
	if p.Bits() == int(l.addrLen)*8 {
		return []expr.Any{load, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: want}}
	}
	mask := netipMask(p.Bits(), int(l.addrLen))
	return []expr.Any{load,
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: l.addrLen, Mask: mask, Xor: make([]byte, l.addrLen)},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: want},
	}
}

// hairpinMark: ct state new ct status dnat fib daddr . iif oif exists meta
// mark set meta mark | HairpinMark. The fib lookup of the translated
// destination restricted to the input interface exists exactly when the
// container is reached through the interface the client came in on (a
// container reaching its own or a neighbour's host port): its answer would
// bypass the node's un-NAT, so the connection is masqueraded.
func hairpinMark() []expr.Any {
	return []expr.Any{
		&expr.Ct{Key: expr.CtKeySTATE, Register: 1},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: ne32(expr.CtStateBitNEW), Xor: ne32(0)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: ne32(0)},
		&expr.Ct{Key: expr.CtKeySTATUS, Register: 1},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: ne32(ctStatusDNAT), Xor: ne32(0)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: ne32(0)},
		&expr.Fib{Register: 1, FlagDADDR: true, FlagIIF: true, ResultOIF: true, FlagPRESENT: true},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: ne32(1)},
		&expr.Meta{Key: expr.MetaKeyMARK, Register: 1},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: ne32(^HairpinMark), Xor: ne32(HairpinMark)},
		&expr.Meta{Key: expr.MetaKeyMARK, SourceRegister: true, Register: 1},
	}
}

// masqueradeMarked: meta mark & HairpinMark == HairpinMark masquerade.
func masqueradeMarked() []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyMARK, Register: 1},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: ne32(HairpinMark), Xor: ne32(0)},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: ne32(HairpinMark)},
		&expr.Masq{},
	}
}

// masqueradeLoopback: ip saddr 127.0.0.0/8 ct status dnat masquerade, for
// the node's own connections to 127.0.0.1:<host port> translated to a
// container (the container cannot answer 127.0.0.1).
func (l layout) masqueradeLoopback() []expr.Any {
	return append(l.prefixMatch(l.saddrOff, loopback4),
		&expr.Ct{Key: expr.CtKeySTATUS, Register: 1},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: ne32(ctStatusDNAT), Xor: ne32(0)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: ne32(0)},
		&expr.Masq{},
	)
}

func ne32(v uint32) []byte { return binaryutil.NativeEndian.PutUint32(v) }

// ifname is a device name as meta iifname loads it (IFNAMSIZ bytes).
func ifname(dev string) []byte {
	b := make([]byte, unix.IFNAMSIZ)
	copy(b, dev)
	return b
}

func netipMask(bits, n int) []byte {
	m := make([]byte, n)
	for i := range m {
		switch {
		case bits >= 8:
			m[i] = 0xff
			bits -= 8
		case bits > 0:
			m[i] = byte(0xff << (8 - bits))
			bits = 0
		}
	}
	return m
}

// encodePortKey lays out l4proto . port as the registers hold them.
func encodePortKey(proto uint8, port uint16) []byte {
	b := []byte{proto, 0, 0, 0}
	b = binary.BigEndian.AppendUint16(b, port)
	return append(b, 0, 0)
}

func decodePortKey(b []byte) (uint8, uint16, bool) {
	if len(b) < 6 {
		return 0, 0, false
	}
	return b[0], binary.BigEndian.Uint16(b[4:6]), true
}

func encodeTarget(ap netip.AddrPort) []byte {
	b := append([]byte(nil), ap.Addr().AsSlice()...)
	b = binary.BigEndian.AppendUint16(b, ap.Port())
	return append(b, 0, 0)
}

func (l layout) decodeTarget(b []byte) (netip.AddrPort, bool) {
	n := int(l.addrLen)
	if len(b) < n+2 {
		return netip.AddrPort{}, false
	}
	a, ok := netip.AddrFromSlice(b[:n])
	return netip.AddrPortFrom(a, binary.BigEndian.Uint16(b[n:n+2])), ok
}

// signature renders rules for comparison with what the kernel reads back:
// each expression's type and the values that make the rule what it is.
func signature(rules [][]expr.Any) string {
	var b strings.Builder
	for _, r := range rules {
		for _, e := range r {
			switch x := e.(type) {
			case *expr.Cmp:
				fmt.Fprintf(&b, "cmp%d:%x ", x.Op, x.Data)
			case *expr.Verdict:
				fmt.Fprintf(&b, "verdict%d:%s ", x.Kind, x.Chain)
			case *expr.Lookup:
				fmt.Fprintf(&b, "lookup:%s ", x.SetName)
			case *expr.Bitwise:
				fmt.Fprintf(&b, "bitwise:%x/%x ", x.Mask, x.Xor)
			case *expr.Payload:
				fmt.Fprintf(&b, "payload:%d+%d/%d ", x.Base, x.Offset, x.Len)
			default:
				fmt.Fprintf(&b, "%T ", e)
			}
		}
		b.WriteString("; ")
	}
	return b.String()
}
