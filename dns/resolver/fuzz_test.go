package resolver

import (
	"strings"
	"testing"
)

// FuzzParseForwardZone: any --forward-zone value either is refused or
// splits into its zone and servers without losing a byte.
func FuzzParseForwardZone(f *testing.F) {
	for _, s := range []string{"corp=10.0.0.1;10.0.0.2:5353", "=x", "corp=", "a=b=c", ";;=;"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		z, err := ParseForwardZone(spec)
		if err != nil {
			return
		}
		if z.Zone == "" || len(z.Servers) == 0 {
			t.Fatalf("ParseForwardZone(%q) = %+v", spec, z)
		}
		if got := z.Zone + "=" + strings.Join(z.Servers, ";"); got != spec {
			t.Fatalf("ParseForwardZone(%q) = %+v, which joins back to %q", spec, z, got)
		}
	})
}
