package dataplane

import (
	"fmt"

	"github.com/google/nftables/binaryutil"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// Reading a map's elements. google/nftables' GetSetElements decodes every
// element into its own structures (about 2 KB of garbage per element:
// 75 MB for 10,000 VIPs of 3 backends, on every Reconcile), so the
// elements are dumped here on the same socket and their attributes walked
// in place, straight into the State.

// elementFunc receives one element: its key and either its data (a
// backends element) or its verdict attributes (a vips element). The slices
// are only valid during the call.
type elementFunc func(key, data, verdict []byte)

// dumpElements dumps the elements of map set of table in family fam.
func dumpElements(nc *netlink.Conn, fam byte, table, set string, fn elementFunc) error {
	attrs, err := netlink.MarshalAttributes([]netlink.Attribute{
		{Type: unix.NFTA_SET_ELEM_LIST_TABLE, Data: []byte(table + "\x00")},
		{Type: unix.NFTA_SET_ELEM_LIST_SET, Data: []byte(set + "\x00")},
	})
	if err != nil {
		return err
	}
	msgs, err := nc.Execute(netlink.Message{
		Header: netlink.Header{
			Type:  netlink.HeaderType(unix.NFNL_SUBSYS_NFTABLES<<8 | unix.NFT_MSG_GETSETELEM),
			Flags: netlink.Request | netlink.Dump,
		},
		// nfgenmsg: family, version, resource id.
		Data: append([]byte{fam, unix.NFNETLINK_V0, 0, 0}, attrs...),
	})
	if err != nil {
		return fmt.Errorf("dump map %s: %w", set, err)
	}
	for _, m := range msgs {
		if len(m.Data) < 4 {
			continue
		}
		walkAttrs(m.Data[4:], func(typ uint16, b []byte) {
			if typ != unix.NFTA_SET_ELEM_LIST_ELEMENTS {
				return
			}
			walkAttrs(b, func(typ uint16, elem []byte) {
				if typ == unix.NFTA_LIST_ELEM {
					decodeElement(elem, fn)
				}
			})
		})
	}
	return nil
}

// decodeElement calls fn with the parts of one NFTA_LIST_ELEM.
func decodeElement(elem []byte, fn elementFunc) {
	var key, data, verdict []byte
	walkAttrs(elem, func(typ uint16, b []byte) {
		switch typ {
		case unix.NFTA_SET_ELEM_KEY:
			key = dataValue(b, unix.NFTA_DATA_VALUE)
		case unix.NFTA_SET_ELEM_DATA:
			data = dataValue(b, unix.NFTA_DATA_VALUE)
			verdict = dataValue(b, unix.NFTA_DATA_VERDICT)
		}
	})
	fn(key, data, verdict)
}

// dataValue returns the payload of the attribute of type typ in b (the
// content of an NFTA_SET_ELEM_KEY or _DATA nest), or nil.
func dataValue(b []byte, typ uint16) []byte {
	var out []byte
	walkAttrs(b, func(t uint16, v []byte) {
		if t == typ {
			out = v
		}
	})
	return out
}

// walkAttrs calls fn for each netlink attribute in b, with the flag bits
// (NLA_F_NESTED, NLA_F_NET_BYTEORDER) cleared from its type. It stops at
// the first malformed attribute.
func walkAttrs(b []byte, fn func(typ uint16, data []byte)) {
	for len(b) >= 4 {
		n := int(binaryutil.NativeEndian.Uint16(b[0:2]))
		typ := binaryutil.NativeEndian.Uint16(b[2:4]) &^ (unix.NLA_F_NESTED | unix.NLA_F_NET_BYTEORDER)
		if n < 4 || n > len(b) {
			return
		}
		fn(typ, b[4:n])
		b = b[min((n+3)&^3, len(b)):]
	}
}
