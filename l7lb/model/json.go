package model

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// MarshalJSON writes Bind as "*:80" when it binds every address
// (netip.AddrPort alone would write "" and lose the port), so a Config
// saved as JSON (golden files, the daemon's last good configuration on
// disk) reads back the same.
func (f Frontend) MarshalJSON() ([]byte, error) {
	type plain Frontend
	return json.Marshal(struct {
		plain
		Bind string `json:"bind"`
	}{plain(f), BindString(f.Bind)})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (f *Frontend) UnmarshalJSON(data []byte) error {
	type plain Frontend
	var v struct {
		plain
		Bind string `json:"bind"`
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	b, err := ParseBind(v.Bind)
	if err != nil {
		return err
	}
	*f = Frontend(v.plain)
	f.Bind = b
	return nil
}

// BindString renders a bind as HAProxy writes it: "*:80" for every
// address, "10.0.0.1:80", "[::1]:80".
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
