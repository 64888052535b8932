package dataplane

import (
	"bytes"
	"testing"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

func nest(t *testing.T, attrs ...netlink.Attribute) []byte {
	t.Helper()
	b, err := netlink.MarshalAttributes(attrs)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestDecodeElement checks the in-place element walker against elements
// marshalled the way the kernel sends them, and that truncated input is
// skipped without a panic.
func TestDecodeElement(t *testing.T) {
	key := encodeSlotKey(SlotKey{ServiceKey: ServiceKey{Proto: protoTCP, Port: 80}, Slot: 2})
	data := []byte{9, 0, 1, 2, 0, 80, 0, 0}
	verdict := nest(t,
		netlink.Attribute{Type: nftaVerdictCode, Data: []byte{0xff, 0xff, 0xff, 0xfd}},
		netlink.Attribute{Type: nftaVerdictChain, Data: []byte("lb-3\x00")})
	for _, tc := range []struct {
		name        string
		dataAttr    netlink.Attribute
		wantData    []byte
		wantVerdict string
	}{
		{"backends", netlink.Attribute{Type: unix.NFTA_DATA_VALUE, Data: data}, data, ""},
		{"vips", netlink.Attribute{Type: unix.NLA_F_NESTED | unix.NFTA_DATA_VERDICT, Data: verdict}, nil, "lb-3"},
	} {
		elem := nest(t,
			netlink.Attribute{Type: unix.NLA_F_NESTED | unix.NFTA_SET_ELEM_KEY, Data: nest(t, netlink.Attribute{Type: unix.NFTA_DATA_VALUE, Data: key})},
			netlink.Attribute{Type: unix.NLA_F_NESTED | unix.NFTA_SET_ELEM_DATA, Data: nest(t, tc.dataAttr)},
			netlink.Attribute{Type: unix.NFTA_SET_ELEM_FLAGS, Data: []byte{0, 0, 0, 0}},
		)
		var gotKey, gotData, gotVerdict []byte
		decodeElement(elem, func(k, d, v []byte) { gotKey, gotData, gotVerdict = k, d, v })
		if !bytes.Equal(gotKey, key) || !bytes.Equal(gotData, tc.wantData) {
			t.Errorf("%s: key %x data %x, want %x %x", tc.name, gotKey, gotData, key, tc.wantData)
		}
		if v := decodeVerdict(gotVerdict); tc.wantVerdict != "" && (v == nil || v.Chain != tc.wantVerdict) {
			t.Errorf("%s: verdict %+v, want jump %s", tc.name, v, tc.wantVerdict)
		}
		for n := range len(elem) {
			decodeElement(elem[:n], func(k, d, v []byte) {})
		}
	}
}
