package vip

import (
	"strings"
	"testing"
)

// FuzzParseLabel checks that any label either parses into a consistent VIP
// or fails with a LabelError naming the label, and never panics.
func FuzzParseLabel(f *testing.F) {
	for _, s := range []string{"/web:80", "web:80", "/g/a:443", "1.2.3.4:80", "fd01:c::5:8080", "[::1]:53",
		"a:b:80", ":80", "/web:0", "/web:99999", "tcp://web:80", "udp:///dns:53", "fe80::1%eth0:80"} {
		f.Add("VIP_0", s, "tcp")
		f.Add("VIP_PORT0", s, "udp")
	}
	f.Fuzz(func(t *testing.T, key, value, proto string) {
		v, ok, err := ParseLabel(key, value, proto, "marathon")
		checkParsed(t, key, value, v, ok, err)
		_, tv, tok, terr := ParseTaskLabel(key, value, "marathon")
		checkParsed(t, key, value, tv, tok, terr)
		if s := Sanitize(value); len(s) > maxLabelLen || strings.HasSuffix(s, "-") || strings.HasPrefix(s, "-") {
			t.Errorf("Sanitize(%q) = %q: not an RFC 1123 label", value, s)
		}
	})
}

func checkParsed(t *testing.T, key, value string, v VIP, ok bool, err error) {
	t.Helper()
	switch {
	case !ok && err != nil:
		t.Fatalf("%s=%q: error %v for a non-VIP key", key, value, err)
	case err != nil:
		le, isLE := err.(*LabelError)
		if !isLE || le.Key != key {
			t.Fatalf("%s=%q: error %v does not name the key", key, value, err)
		}
	case ok:
		if v.Port == 0 || (v.Protocol != ProtoTCP && v.Protocol != ProtoUDP) {
			t.Fatalf("%s=%q: bad VIP %+v", key, value, v)
		}
		if v.IsNamed() == v.IP.IsValid() {
			t.Fatalf("%s=%q: VIP %+v is both or neither named and IP", key, value, v)
		}
		if v.IsNamed() && !strings.HasSuffix(v.DNSName(), "."+Zone) {
			t.Fatalf("%s=%q: DNS name %q", key, value, v.DNSName())
		}
	}
}
