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
	vip, be := f.VIP.Addr().Unmap(), f.Backend.Addr().Unmap()
	if vip.Is6() {
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
	ae.Nested(ctaTupleOrig, func(ae *mdnl.AttributeEncoder) error {
		ae.Nested(ctaTupleIP, func(ae *mdnl.AttributeEncoder) error {
			ae.Bytes(dstAttr, vip.AsSlice())
			return nil
		})
		ae.Nested(ctaTupleProto, func(ae *mdnl.AttributeEncoder) error {
			ae.Uint8(ctaProtoNum, unix.IPPROTO_UDP)
			ae.Bytes(ctaProtoDstPort, binary.BigEndian.AppendUint16(nil, f.VIP.Port()))
			return nil
		})
		return nil
	})
	ae.Nested(ctaTupleReply, func(ae *mdnl.AttributeEncoder) error {
		ae.Nested(ctaTupleIP, func(ae *mdnl.AttributeEncoder) error {
			ae.Bytes(srcAttr, be.AsSlice())
			return nil
		})
		ae.Nested(ctaTupleProto, func(ae *mdnl.AttributeEncoder) error {
			ae.Uint8(ctaProtoNum, unix.IPPROTO_UDP)
			ae.Bytes(ctaProtoSrcPort, binary.BigEndian.AppendUint16(nil, f.Backend.Port()))
			return nil
		})
		return nil
	})
	ae.Nested(ctaFilter, func(ae *mdnl.AttributeEncoder) error {
		ae.Uint32(ctaFilterOrigFlags, origFlags)
		ae.Uint32(ctaFilterReplyFlags, replyFlags)
		return nil
	})
	attrs, err := ae.Encode()
	if err != nil {
		return 0, false, err
	}
	msgs, err := c.Execute(mdnl.Message{
		Header: mdnl.Header{Type: ctType(ipctnlMsgCTGet), Flags: mdnl.Request | mdnl.Dump},
		Data:   append(nfgenmsg(fam), attrs...),
	})
	if err != nil {
		return 0, false, fmt.Errorf("filtered conntrack dump for %s: %w", f, err)
	}
	if dumpHook != nil {
		dumpHook(len(msgs))
	}
	want := UDPFlow{VIP: netip.AddrPortFrom(vip, f.VIP.Port()), Backend: netip.AddrPortFrom(be, f.Backend.Port())}
	var errs error
	for _, m := range msgs {
		if len(m.Data) < 4 {
			continue
		}
		got, err := parseUDPFlow(m.Data[4:])
		if err != nil || got.VIP.Port() != want.VIP.Port() || got.Backend.Port() != want.Backend.Port() ||
			(fam == unix.AF_INET && got != want) {
			unfiltered = true // an entry the kernel's filter would not pass
			continue
		}
		if got != want {
			continue // IPv6: same ports, other addresses
		}
		// The entry goes back as dumped: the kernel finds it by its
		// original tuple and, since the dump carries CTA_ID, deletes it
		// only if it is still that entry (one re-created meanwhile with the
		// same tuple has another id: ENOENT). parseUDPFlow required both
		// tuples, so this is never a tuple-less delete, which would flush
		// the table.
		_, err = c.Execute(mdnl.Message{
			Header: mdnl.Header{Type: ctType(ipctnlMsgCTDelete), Flags: mdnl.Request | mdnl.Acknowledge},
			Data:   append(nfgenmsg(m.Data[0]), m.Data[4:]...),
		})
		switch {
		case err == nil, errors.Is(err, unix.ENOENT): // ENOENT: gone meanwhile
			deleted++
		default:
			errs = errors.Join(errs, fmt.Errorf("delete conntrack entry of %s: %w", f, err))
		}
	}
	return deleted, unfiltered, errs
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
