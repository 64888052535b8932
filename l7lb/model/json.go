package model

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// BindString renders a bind as HAProxy writes it: "*:80" for every
// address, "10.0.0.1:80", "[::1]:80". (Bind's own JSON, netip.AddrPort's
// text, is "" for every address and loses the port: whoever saves a
// Config as JSON keeps the binds this way.)
func BindString(b netip.AddrPort) string {
	if !b.Addr().IsValid() {
		return "*:" + strconv.Itoa(int(b.Port()))
	}
	return b.String()
}

// ParseBind reads what BindString writes ("" is the zero bind).
func ParseBind(s string) (netip.AddrPort, error) {
	if s == "" {
		return netip.AddrPort{}, nil
	}
	if port, ok := strings.CutPrefix(s, "*:"); ok {
		p, err := strconv.ParseUint(port, 10, 16)
		if err != nil {
			return netip.AddrPort{}, fmt.Errorf("bind %q: bad port", s)
		}
		return netip.AddrPortFrom(netip.Addr{}, uint16(p)), nil
	}
	return netip.ParseAddrPort(s)
}
