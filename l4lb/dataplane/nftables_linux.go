package dataplane

import (
	"encoding/binary"
	"fmt"
	"net/netip"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

var _ Kernel = (*NFTables)(nil)

// NFTables is the Kernel on the node's nftables, over netlink.
type NFTables struct {
	opts []nftables.ConnOption
}

// NewNFTables returns the netlink Kernel; opts are passed to every
// nftables.New (nftables.WithNetNSFd targets another network namespace
// without entering it).
func NewNFTables(opts ...nftables.ConnOption) *NFTables { return &NFTables{opts: opts} }

// layout is the per-family shape of the table: types, header offsets and
// the registers nft itself uses for these rules.
type layout struct {
	family      nftables.TableFamily
	natFamily   uint32
	addrLen     uint32
	addrOffset  uint32 // of the destination address in the network header
	regProto    uint32
	regPort     uint32
	regSlot     uint32
	regNATPort  uint32
	rejectCode  uint8 // ICMP(v6) port unreachable
	addrType    nftables.SetDatatype
	vipKey      nftables.SetDatatype
	backendKey  nftables.SetDatatype
	backendData nftables.SetDatatype
}

// Registers: 1 is the 16-byte register NFT_REG_1; 8 and up are the 4-byte
// registers NFT_REG32_00.., which alias them (reg 2 = NFT_REG32_04).
var layouts = [2]layout{
	IPv4: {
		family: nftables.TableFamilyIPv4, natFamily: unix.NFPROTO_IPV4,
		addrLen: 4, addrOffset: 16, regProto: 9, regPort: 10, regSlot: 11, regNATPort: 9,
		rejectCode: 3, addrType: nftables.TypeIPAddr,
	},
	IPv6: {
		family: nftables.TableFamilyIPv6, natFamily: unix.NFPROTO_IPV6,
		addrLen: 16, addrOffset: 24, regProto: 2, regPort: 13, regSlot: 14, regNATPort: 2,
		rejectCode: 4, addrType: nftables.TypeIP6Addr,
	},
}

func init() {
	for i := range layouts {
		l := &layouts[i]
		l.vipKey = nftables.MustConcatSetType(l.addrType, nftables.TypeInetProto, nftables.TypeInetService)
		l.backendKey = nftables.MustConcatSetType(l.addrType, nftables.TypeInetProto, nftables.TypeInetService, nftables.TypeMark)
		l.backendData = nftables.MustConcatSetType(l.addrType, nftables.TypeInetService)
	}
}

func (n *NFTables) conn() (*nftables.Conn, error) {
	c, err := nftables.New(n.opts...)
	if err != nil {
		return nil, fmt.Errorf("open nftables netlink: %w", err)
	}
	return c, nil
}

func (l layout) table() *nftables.Table {
	return &nftables.Table{Name: TableName, Family: l.family}
}

func (l layout) sets(t *nftables.Table) (vips, backends *nftables.Set) {
	vips = &nftables.Set{Table: t, Name: mapVIPs, IsMap: true, Concatenation: true, KeyType: l.vipKey, DataType: nftables.TypeVerdict}
	backends = &nftables.Set{Table: t, Name: mapBackends, IsMap: true, Concatenation: true, KeyType: l.backendKey, DataType: l.backendData}
	return vips, backends
}

// Apply implements Kernel.
func (n *NFTables) Apply(b Batch) error {
	c, err := n.conn()
	if err != nil {
		return err
	}
	l := layouts[b.Family]
	t := l.table()
	vips, backends := l.sets(t)
	if b.Rebuild {
		if b.DeleteTable {
			c.DelTable(t)
		}
		if err := l.addSkeleton(c, t, vips, backends); err != nil {
			return err
		}
	}
	ch := b.Changes
	for _, k := range ch.AddChains {
		l.addLBChain(c, t, backends, k)
	}
	for _, part := range Chunks(ch.DelVIPs, MaxElementsPerMessage) {
		if err := c.SetDeleteElements(vips, l.vipElems(part, false)); err != nil {
			return fmt.Errorf("delete vips elements: %w", err)
		}
	}
	for _, part := range Chunks(ch.DelBackends, MaxElementsPerMessage) {
		if err := c.SetDeleteElements(backends, l.backendElems(part, false)); err != nil {
			return fmt.Errorf("delete backends elements: %w", err)
		}
	}
	for _, part := range Chunks(ch.AddBackends, MaxElementsPerMessage) {
		if err := c.SetAddElements(backends, l.backendElems(part, true)); err != nil {
			return fmt.Errorf("add backends elements: %w", err)
		}
	}
	for _, part := range Chunks(ch.AddVIPs, MaxElementsPerMessage) {
		if err := c.SetAddElements(vips, l.vipElems(part, true)); err != nil {
			return fmt.Errorf("add vips elements: %w", err)
		}
	}
	for _, k := range ch.DelChains {
		c.DelChain(&nftables.Chain{Table: t, Name: ChainName(k)})
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("commit batch: %w", err)
	}
	return nil
}

func (l layout) addSkeleton(c *nftables.Conn, t *nftables.Table, vips, backends *nftables.Set) error {
	c.AddTable(t)
	if err := c.AddSet(vips, nil); err != nil {
		return fmt.Errorf("add map %s: %w", mapVIPs, err)
	}
	if err := c.AddSet(backends, nil); err != nil {
		return fmt.Errorf("add map %s: %w", mapBackends, err)
	}
	accept := nftables.ChainPolicyAccept
	for _, h := range []struct {
		name string
		hook *nftables.ChainHook
	}{{chainPrerouting, nftables.ChainHookPrerouting}, {chainOutput, nftables.ChainHookOutput}} {
		ch := c.AddChain(&nftables.Chain{Table: t, Name: h.name, Type: nftables.ChainTypeNAT,
			Hooknum: h.hook, Priority: nftables.ChainPriorityNATDest, Policy: &accept})
		c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: l.dispatchExprs(vips)})
	}
	nv := c.AddChain(&nftables.Chain{Table: t, Name: chainNoVIP})
	for _, e := range l.noVIPRules() {
		c.AddRule(&nftables.Rule{Table: t, Chain: nv, Exprs: e})
	}
	return nil
}

func (l layout) addLBChain(c *nftables.Conn, t *nftables.Table, backends *nftables.Set, k int) {
	ch := c.AddChain(&nftables.Chain{Table: t, Name: ChainName(k)})
	c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: l.lbExprs(backends, k)})
}

// keyExprs loads daddr . l4proto . th dport into registers 1.., as nft does.
func (l layout) keyExprs() []expr.Any {
	return []expr.Any{
		&expr.Payload{OperationType: expr.PayloadLoad, DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: l.addrOffset, Len: l.addrLen},
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: l.regProto},
		&expr.Payload{OperationType: expr.PayloadLoad, DestRegister: l.regPort, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
	}
}

// dispatchExprs: <daddr> . meta l4proto . th dport vmap @vips.
func (l layout) dispatchExprs(vips *nftables.Set) []expr.Any {
	return append(l.keyExprs(), &expr.Lookup{SourceRegister: 1, DestRegister: 0, IsDestRegSet: true, SetName: vips.Name, SetID: vips.ID})
}

// lbExprs: dnat to <daddr> . meta l4proto . th dport . numgen random mod k map @backends.
func (l layout) lbExprs(backends *nftables.Set, k int) []expr.Any {
	return append(l.keyExprs(),
		&expr.Numgen{Register: l.regSlot, Modulus: uint32(k), Type: unix.NFT_NG_RANDOM},
		&expr.Lookup{SourceRegister: 1, DestRegister: 1, IsDestRegSet: true, SetName: backends.Name, SetID: backends.ID},
		&expr.NAT{Type: expr.NATTypeDestNAT, Family: l.natFamily, RegAddrMin: 1, RegProtoMin: l.regNATPort, Specified: true},
	)
}

// noVIPRules: reject with tcp reset (TCP); reject (ICMP port unreachable).
func (l layout) noVIPRules() [][]expr.Any {
	return [][]expr.Any{
		{
			&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.IPPROTO_TCP}},
			&expr.Reject{Type: unix.NFT_REJECT_TCP_RST, Code: 0},
		},
		{&expr.Reject{Type: unix.NFT_REJECT_ICMP_UNREACH, Code: l.rejectCode}},
	}
}

// encodeKey lays out a VIP key as the registers hold it: the address, then
// the protocol and the port (network order) each padded to 4 bytes.
func encodeKey(k ServiceKey) []byte {
	b := append([]byte(nil), k.Addr.AsSlice()...)
	b = append(b, k.Proto, 0, 0, 0)
	b = binary.BigEndian.AppendUint16(b, k.Port)
	return append(b, 0, 0)
}

func encodeSlotKey(k SlotKey) []byte {
	// numgen writes the slot in host byte order.
	return append(encodeKey(k.ServiceKey), binaryutil.NativeEndian.PutUint32(k.Slot)...)
}

func encodeBackend(ap netip.AddrPort) []byte {
	b := append([]byte(nil), ap.Addr().AsSlice()...)
	b = binary.BigEndian.AppendUint16(b, ap.Port())
	return append(b, 0, 0)
}

func (l layout) vipElems(es []VIPElem, withData bool) []nftables.SetElement {
	out := make([]nftables.SetElement, len(es))
	for i, e := range es {
		out[i].Key = encodeKey(e.Key)
		if withData {
			out[i].VerdictData = &expr.Verdict{Kind: expr.VerdictJump, Chain: ChainName(e.Slots)}
		}
	}
	return out
}

func (l layout) backendElems(es []BackendElem, withData bool) []nftables.SetElement {
	out := make([]nftables.SetElement, len(es))
	for i, e := range es {
		out[i].Key = encodeSlotKey(e.Key)
		if withData {
			out[i].Val = encodeBackend(e.Backend)
		}
	}
	return out
}
