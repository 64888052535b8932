package dataplane

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"

	mdnl "github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// Conntrack netlink numbers (linux/netfilter/nfnetlink_conntrack.h; the
// CTA_FILTER flags are the kernel's, nf_conntrack_netlink.c, since 5.8).
const (
	nfnlSubsysCTNetlink = 1
	ipctnlMsgCTGet      = 1
	ipctnlMsgCTDelete   = 2

	ctaTupleOrig  = 1
	ctaTupleReply = 2
	ctaFilter     = 25

	ctaTupleIP    = 1
	ctaTupleProto = 2

	ctaIPv4Src = 1
	ctaIPv4Dst = 2
	ctaIPv6Src = 3
	ctaIPv6Dst = 4

	ctaProtoNum     = 1
	ctaProtoSrcPort = 2
	ctaProtoDstPort = 3

	ctaFilterOrigFlags  = 1
	ctaFilterReplyFlags = 2

	ctaFilterFIPSrc        = 1 << 0
	ctaFilterFIPDst        = 1 << 1
	ctaFilterFProtoNum     = 1 << 3
	ctaFilterFProtoSrcPort = 1 << 4
	ctaFilterFProtoDstPort = 1 << 5
)

// filteredUDP deletes the UDP entries of one flow (original destination
// f.VIP, reply source f.Backend) with a dump the kernel filters itself
// (CTA_FILTER): only the flow's entries cross the socket (for IPv6 the
// entries with the flow's protocol and ports), whatever the size of the
// table. Each returned entry is checked again here, so a kernel that
// ignores the filter (before 5.8: unknown attributes are skipped) costs a
// full dump but never a wrong deletion; unfiltered then says so. It
// returns the entries deleted (or gone meanwhile).
func filteredUDP(c *mdnl.Conn, f UDPFlow) (deleted int, unfiltered bool, err error) {
	fam := uint8(unix.AF_INET)
	srcAttr, dstAttr := uint16(ctaIPv4Src), uint16(ctaIPv4Dst)
	origFlags := uint32(ctaFilterFIPDst | ctaFilterFProtoNum | ctaFilterFProtoDstPort)
	replyFlags := uint32(ctaFilterFIPSrc | ctaFilterFProtoNum | ctaFilterFProtoSrcPort)
	want := f.unmapped()
	if want.VIP.Addr().Is6() {
		fam, srcAttr, dstAttr = unix.AF_INET6, ctaIPv6Src, ctaIPv6Dst
		// The kernel's IPv6 address filter is inverted
		// (ctnetlink_filter_match_tuple rejects entries whose address is
		// equal: `!ipv6_addr_cmp`; still so in 6.18, see
		// TestPrivilegedConntrackFilteredDelete): filter on protocol and
		// ports there; the addresses are checked below.
		origFlags &^= ctaFilterFIPDst
		replyFlags &^= ctaFilterFIPSrc
	}
	ae := mdnl.NewAttributeEncoder()
	encodeTuple(ae, ctaTupleOrig, dstAttr, want.VIP.Addr(), ctaProtoDstPort, want.VIP.Port())
	encodeTuple(ae, ctaTupleReply, srcAttr, want.Backend.Addr(), ctaProtoSrcPort, want.Backend.Port())
	ae.Nested(ctaFilter, func(ae *mdnl.AttributeEncoder) error {
		ae.Uint32(ctaFilterOrigFlags, origFlags)
		ae.Uint32(ctaFilterReplyFlags, replyFlags)
		return nil
	})
	filter, err := ae.Encode()
	if err != nil {
		return 0, false, err
	}
	// What the kernel's filter lets through: the flow's ports, and for
	// IPv4 its addresses too.
	passes := func(got UDPFlow) bool {
		return got.VIP.Port() == want.VIP.Port() && got.Backend.Port() == want.Backend.Port() &&
			(fam == unix.AF_INET6 || got == want)
	}
	return deleteDumped(c, fam, filter, map[UDPFlow]bool{want: true}, passes)
}

// encodeTuple adds a CTA_TUPLE_ORIG or CTA_TUPLE_REPLY of a UDP flow with
// one address (ipAttr) and one port (portAttr).
func encodeTuple(ae *mdnl.AttributeEncoder, tuple, ipAttr uint16, addr netip.Addr, portAttr uint16, port uint16) {
	ae.Nested(tuple, func(ae *mdnl.AttributeEncoder) error {
		ae.Nested(ctaTupleIP, func(ae *mdnl.AttributeEncoder) error {
			ae.Bytes(ipAttr, addr.AsSlice())
			return nil
		})
		ae.Nested(ctaTupleProto, func(ae *mdnl.AttributeEncoder) error {
			ae.Uint8(ctaProtoNum, unix.IPPROTO_UDP)
			ae.Bytes(portAttr, binary.BigEndian.AppendUint16(nil, port))
			return nil
		})
		return nil
	})
}

// deleteDumped dumps family fam's table (filter: attributes that make the
// kernel filter the dump; nil dumps everything) and deletes the UDP
// entries whose flow is in want. unfiltered reports an entry that
// passes (when given) rejects: the kernel did not apply the filter.
func deleteDumped(c *mdnl.Conn, fam uint8, filter []byte, want map[UDPFlow]bool, passes func(UDPFlow) bool) (deleted int, unfiltered bool, err error) {
	msgs, err := c.Execute(mdnl.Message{
		Header: mdnl.Header{Type: ctType(ipctnlMsgCTGet), Flags: mdnl.Request | mdnl.Dump},
		Data:   append(nfgenmsg(fam), filter...),
	})
	if err != nil {
		return 0, false, fmt.Errorf("conntrack dump (%d flows): %w", len(want), err)
	}
	if filter != nil && dumpHook != nil {
		dumpHook(len(msgs))
	}
	var errs error
	for _, m := range msgs {
		if len(m.Data) < 4 {
			continue
		}
		got, perr := parseUDPFlow(m.Data[4:])
		if passes != nil && (perr != nil || !passes(got)) {
			unfiltered = true // an entry the kernel's filter would not pass
			continue
		}
		if perr != nil || !want[got] {
			continue
		}
		// The entry goes back as dumped: the kernel finds it by its
		// original tuple and, since the dump carries CTA_ID, deletes it
		// only if it is still that entry (one re-created meanwhile with the
		// same tuple has another id: ENOENT). parseUDPFlow required both
		// tuples, so this is never a tuple-less delete, which would flush
		// the table.
		_, err := c.Execute(mdnl.Message{
			Header: mdnl.Header{Type: ctType(ipctnlMsgCTDelete), Flags: mdnl.Request | mdnl.Acknowledge},
			Data:   append(nfgenmsg(m.Data[0]), m.Data[4:]...),
		})
		switch {
		case err == nil, errors.Is(err, unix.ENOENT): // ENOENT: gone meanwhile
			deleted++
		default:
			errs = errors.Join(errs, fmt.Errorf("delete conntrack entry of %s: %w", got, err))
		}
	}
	return deleted, unfiltered, errs
}

// unmapped is f with IPv4-mapped addresses unmapped, as entries parse.
func (f UDPFlow) unmapped() UDPFlow {
	return UDPFlow{VIP: netip.AddrPortFrom(f.VIP.Addr().Unmap(), f.VIP.Port()),
		Backend: netip.AddrPortFrom(f.Backend.Addr().Unmap(), f.Backend.Port())}
}

// dumpHook, set by tests, sees how many entries each filtered dump
// returned.
var dumpHook func(entries int)

// ctType is the netlink message type of a ctnetlink message.
func ctType(msg int) mdnl.HeaderType { return mdnl.HeaderType(nfnlSubsysCTNetlink<<8 | msg) }

// nfgenmsg is the netfilter header: family, version 0, resource id 0.
func nfgenmsg(family uint8) []byte { return []byte{family, 0, 0, 0} }

// parseUDPFlow reads a conntrack entry's attributes (after the netfilter
// header): its original destination and reply source, which must be UDP.
func parseUDPFlow(b []byte) (UDPFlow, error) {
	var f UDPFlow
	var origOK, replyOK bool
	ad, err := mdnl.NewAttributeDecoder(b)
	if err != nil {
		return f, err
	}
	for ad.Next() {
		switch ad.Type() {
		case ctaTupleOrig:
			ad.Nested(func(nad *mdnl.AttributeDecoder) error {
				f.VIP, origOK = parseTuple(nad, false)
				return nil
			})
		case ctaTupleReply:
			ad.Nested(func(nad *mdnl.AttributeDecoder) error {
				f.Backend, replyOK = parseTuple(nad, true)
				return nil
			})
		}
	}
	if err := ad.Err(); err != nil {
		return f, err
	}
	if !origOK || !replyOK {
		return f, errors.New("conntrack entry: not a UDP flow with both tuples")
	}
	return f, nil
}

// parseTuple reads one tuple: its source (src) or destination address and
// port; ok only for UDP.
func parseTuple(ad *mdnl.AttributeDecoder, src bool) (netip.AddrPort, bool) {
	var addr netip.Addr
	var port uint16
	udp := false
	for ad.Next() {
		switch ad.Type() {
		case ctaTupleIP:
			ad.Nested(func(ad *mdnl.AttributeDecoder) error {
				for ad.Next() {
					t := ad.Type()
					if (src && (t == ctaIPv4Src || t == ctaIPv6Src)) || (!src && (t == ctaIPv4Dst || t == ctaIPv6Dst)) {
						addr, _ = netip.AddrFromSlice(ad.Bytes())
					}
				}
				return nil
			})
		case ctaTupleProto:
			ad.Nested(func(ad *mdnl.AttributeDecoder) error {
				for ad.Next() {
					switch ad.Type() {
					case ctaProtoNum:
						udp = ad.Uint8() == unix.IPPROTO_UDP
					case ctaProtoSrcPort, ctaProtoDstPort:
						if b := ad.Bytes(); len(b) == 2 && src == (ad.Type() == ctaProtoSrcPort) {
							port = binary.BigEndian.Uint16(b)
						}
					}
				}
				return nil
			})
		}
	}
	return netip.AddrPortFrom(addr.Unmap(), port), udp && addr.IsValid()
}
