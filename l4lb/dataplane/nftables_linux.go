package dataplane

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"
	"sync"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/mdlayher/netlink"

	"github.com/dcnet/dcnet/l4lb/l4lbapi"
	"golang.org/x/sys/unix"
)

var _ Kernel = (*NFTables)(nil)

// NFTables is the Kernel on the node's nftables, over netlink. It keeps
// one netlink socket open across calls (see lastingSendBuffer); Close
// releases it. Its methods may be called from several goroutines; they
// are serialised.
type NFTables struct {
	opts []nftables.ConnOption

	mu      sync.Mutex
	lasting *nftables.Conn // nil until first use and after any error
	raw     *netlink.Conn  // lasting's socket, for the element dumps
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

// lastingSendBuffer is the send buffer of the socket kept open across
// calls: batches up to it (about 30,000 elements) use that socket, larger
// ones (full installs of very many VIPs) a socket of their own. Keeping the
// socket open matters for latency, not only for the dial: when a netfilter
// netlink socket is closed, the kernel first waits for the pending release
// of objects that earlier transactions deleted, an RCU grace period
// (measured at 4-20 ms, on every batch that deleted an element); an open
// socket leaves that release in the background.
const lastingSendBuffer = 4 << 20

// withConn runs fn on the lasting connection, opening it first if needed,
// and drops the connection when fn fails (a failed batch may leave unread
// acknowledgements or a sticky encoding error behind).
func (n *NFTables) withConn(fn func(c *nftables.Conn) error) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.lasting == nil {
		keep := func(nc *netlink.Conn) error { n.raw = nc; return nil }
		opts := append(slices.Clone(n.opts), nftables.AsLasting(), nftables.WithSockOptions(sendBuffer(lastingSendBuffer), keep))
		c, err := nftables.New(opts...)
		if err != nil {
			return fmt.Errorf("open nftables netlink: %w", err)
		}
		n.lasting = c
	}
	if err := fn(n.lasting); err != nil {
		n.lasting.CloseLasting()
		n.lasting, n.raw = nil, nil
		return err
	}
	return nil
}

// Close closes the lasting netlink socket; the NFTables stays usable and
// opens a new one on its next call.
func (n *NFTables) Close() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.lasting == nil {
		return nil
	}
	err := n.lasting.CloseLasting()
	n.lasting, n.raw = nil, nil
	return err
}

// sendBuffer sets a netlink socket's send buffer to size bytes.
// SO_SNDBUFFORCE (CAP_NET_ADMIN, which programming nftables needs anyway)
// passes net.core.wmem_max.
func sendBuffer(size int) nftables.SockOption {
	return func(nc *netlink.Conn) error {
		raw, err := nc.SyscallConn()
		if err != nil {
			return err
		}
		var serr error
		if err := raw.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, size)
		}); err != nil {
			return err
		}
		if serr != nil {
			return fmt.Errorf("set netlink send buffer to %d bytes: %w", size, serr)
		}
		return nil
	}
}

func (l layout) table() *nftables.Table {
	return &nftables.Table{Name: TableName, Family: l.family}
}

func (l layout) sets(t *nftables.Table) (vips, backends *nftables.Set) {
	vips = &nftables.Set{Table: t, Name: mapVIPs, IsMap: true, Concatenation: true, KeyType: l.vipKey, DataType: nftables.TypeVerdict}
	backends = &nftables.Set{Table: t, Name: mapBackends, IsMap: true, Concatenation: true, KeyType: l.backendKey, DataType: l.backendData}
	return vips, backends
}

// Send buffer sizing: google/nftables sends a whole batch in one sendmsg,
// which the kernel refuses (EMSGSIZE) when it exceeds the socket's send
// buffer (net.core.wmem_default, about 208 KiB); 10,000 VIPs of 3 backends
// take about 3 MiB. Apply therefore sizes the buffer to the batch, as nft
// does, from a generous bound per element.
const (
	maxElementBytes = 128      // one element of either map, attributes included
	batchSlackBytes = 64 << 10 // skeleton, chains, message headers
)

// Apply implements Kernel.
func (n *NFTables) Apply(b Batch) error {
	ch := b.Changes
	size := batchSlackBytes + maxElementBytes*(len(ch.DelVIPs)+len(ch.DelBackends)+len(ch.AddBackends)+len(ch.AddVIPs))
	if size > lastingSendBuffer {
		// A socket of its own, closed by Flush.
		c, err := nftables.New(append(slices.Clone(n.opts), nftables.WithSockOptions(sendBuffer(size)))...)
		if err != nil {
			return fmt.Errorf("open nftables netlink: %w", err)
		}
		n.mu.Lock()
		defer n.mu.Unlock()
		return n.apply(c, b)
	}
	return n.withConn(func(c *nftables.Conn) error { return n.apply(c, b) })
}

// apply queues b on c and commits it.
func (n *NFTables) apply(c *nftables.Conn, b Batch) error {
	ch := b.Changes
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
	hp := c.AddChain(&nftables.Chain{Table: t, Name: chainHairpin, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookPrerouting, Priority: hairpinPriority, Policy: &accept})
	c.AddRule(&nftables.Rule{Table: t, Chain: hp, Exprs: hairpinExprs()})
	c.AddRule(&nftables.Rule{Table: t, Chain: hp, Exprs: vipAccessMarkExprs()})
	va := c.AddChain(&nftables.Chain{Table: t, Name: chainVIPAccess, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityFilter, Policy: &accept})
	c.AddRule(&nftables.Rule{Table: t, Chain: va, Exprs: vipAccessRejectExprs()})
	pr := c.AddChain(&nftables.Chain{Table: t, Name: chainPostrout, Type: nftables.ChainTypeNAT,
		Hooknum: nftables.ChainHookPostrouting, Priority: nftables.ChainPriorityNATSource, Policy: &accept})
	c.AddRule(&nftables.Rule{Table: t, Chain: pr, Exprs: masqueradeExprs()})
	nv := c.AddChain(&nftables.Chain{Table: t, Name: chainNoVIP})
	for _, e := range l.noVIPRules() {
		c.AddRule(&nftables.Rule{Table: t, Chain: nv, Exprs: e})
	}
	return nil
}

func (l layout) addLBChain(c *nftables.Conn, t *nftables.Table, backends *nftables.Set, k int) {
	ch := c.AddChain(&nftables.Chain{Table: t, Name: ChainName(k)})
	c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: localMarkExprs()})
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

// lbExprs: dnat to <daddr> . meta l4proto . th dport . numgen inc mod k map @backends.
// The numgen counter belongs to the rule: round robin over the slots of
// every VIP with k slots (see "Slots and round robin" in doc.go).
func (l layout) lbExprs(backends *nftables.Set, k int) []expr.Any {
	return append(l.keyExprs(),
		&expr.Numgen{Register: l.regSlot, Modulus: uint32(k), Type: unix.NFT_NG_INCREMENTAL},
		&expr.Lookup{SourceRegister: 1, DestRegister: 1, IsDestRegSet: true, SetName: backends.Name, SetID: backends.ID},
		&expr.NAT{Type: expr.NATTypeDestNAT, Family: l.natFamily, RegAddrMin: 1, RegProtoMin: l.regNATPort, Specified: true},
	)
}

// hairpinPriority runs the hairpin chain right after the DNAT of the
// prerouting chain (dstnat + 1), so it sees the backend as destination.
var hairpinPriority = nftables.ChainPriorityRef(*nftables.ChainPriorityNATDest + 1)

// hairpinExprs: ct state new ct status dnat fib daddr . iif oif exists
// meta mark set meta mark | HairpinMark. The fib lookup of the translated
// destination, restricted to the input interface, exists exactly when the
// backend is reached through the interface the client's packet came in on:
// the backend's answer would then go straight back to the client (the
// client itself, or a neighbour on the same bridge) without being
// un-NATed here, so the connection is marked for masquerade.
func hairpinExprs() []expr.Any {
	ne := binaryutil.NativeEndian.PutUint32
	return []expr.Any{
		&expr.Ct{Key: expr.CtKeySTATE, Register: 1},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: ne(expr.CtStateBitNEW), Xor: ne(0)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: ne(0)},
		&expr.Ct{Key: expr.CtKeySTATUS, Register: 1},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: ne(ctStatusDNAT), Xor: ne(0)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: ne(0)},
		&expr.Fib{Register: 1, FlagDADDR: true, FlagIIF: true, ResultOIF: true, FlagPRESENT: true},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: ne(1)},
		&expr.Meta{Key: expr.MetaKeyMARK, Register: 1},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: ne(^HairpinMark), Xor: ne(HairpinMark)},
		&expr.Meta{Key: expr.MetaKeyMARK, SourceRegister: true, Register: 1},
	}
}

// localMarkExprs: fib saddr type local meta mark set meta mark |
// HairpinMark. A connection whose source is an address of the node (a
// host-network client: the output chain) is masqueraded like a hairpin
// one, so the backend answers to the node's address on its path, wherever
// it is (see "Host clients" in doc.go).
func localMarkExprs() []expr.Any {
	ne := binaryutil.NativeEndian.PutUint32
	return []expr.Any{
		&expr.Fib{Register: 1, FlagSADDR: true, ResultADDRTYPE: true},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: ne(unix.RTN_LOCAL)},
		&expr.Meta{Key: expr.MetaKeyMARK, Register: 1},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: ne(^HairpinMark), Xor: ne(HairpinMark)},
		&expr.Meta{Key: expr.MetaKeyMARK, SourceRegister: true, Register: 1},
	}
}

// vipAccessIf matches an interface of the dcnet-vipaccess CNI plugin:
// iifname "vipa*" (nft compares the prefix only).
func vipAccessIf() []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyIIFNAME, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte(l4lbapi.VIPAccessPrefix)},
	}
}

// vipAccessMarkExprs: iifname "vipa*" ct state new ct status dnat meta
// mark set meta mark | HairpinMark. A VIP connection from a container on a
// dcnet-vipaccess link (whose address only this node can route back to) is
// masqueraded.
func vipAccessMarkExprs() []expr.Any {
	ne := binaryutil.NativeEndian.PutUint32
	return append(vipAccessIf(),
		&expr.Ct{Key: expr.CtKeySTATE, Register: 1},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: ne(expr.CtStateBitNEW), Xor: ne(0)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: ne(0)},
		&expr.Ct{Key: expr.CtKeySTATUS, Register: 1},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: ne(ctStatusDNAT), Xor: ne(0)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: ne(0)},
		&expr.Meta{Key: expr.MetaKeyMARK, Register: 1},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: ne(^HairpinMark), Xor: ne(HairpinMark)},
		&expr.Meta{Key: expr.MetaKeyMARK, SourceRegister: true, Register: 1},
	)
}

// vipAccessRejectExprs: iifname "vipa*" ct status & dnat == 0 reject with
// icmp(v6) net unreachable (no route). A dcnet-vipaccess link routes a
// container's traffic to this node only for VIPs and DNS; anything else is
// refused as the container's missing route would have refused it.
func vipAccessRejectExprs() []expr.Any {
	ne := binaryutil.NativeEndian.PutUint32
	return append(vipAccessIf(),
		&expr.Ct{Key: expr.CtKeySTATUS, Register: 1},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: ne(ctStatusDNAT), Xor: ne(0)},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: ne(0)},
		&expr.Reject{Type: unix.NFT_REJECT_ICMP_UNREACH, Code: 0},
	)
}

// ctStatusDNAT is IPS_DST_NAT (linux/netfilter/nf_conntrack_common.h).
const ctStatusDNAT = 1 << 5

// masqueradeExprs: meta mark & HairpinMark == HairpinMark masquerade.
func masqueradeExprs() []expr.Any {
	ne := binaryutil.NativeEndian.PutUint32
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyMARK, Register: 1},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: ne(HairpinMark), Xor: ne(0)},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: ne(HairpinMark)},
		&expr.Masq{},
	}
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
