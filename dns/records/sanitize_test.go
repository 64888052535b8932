package records

import (
	"strings"
	"testing"
)

func TestLabel(t *testing.T) {
	tests := []struct {
		in            string
		rfc1123, r952 string
	}{
		{"liquor.store", "liquor-store", "liquor-store"},
		{"Big_Dog", "big-dog", "big-dog"},
		{"chronos with a space AND MIXED CASE-2", "chronoswithaspaceandmixedcase-2", "chronoswithaspaceandmixe"},
		{"123abc", "123abc", "abc"},
		{"-lead-", "lead", "lead"},
		{"a$b%c/d", "abcd", "abcd"},
		{"héllo", "hllo", "hllo"},
		{"", "", ""},
		{"---", "", ""},
		{"0", "0", ""},
		{strings.Repeat("a", 70), strings.Repeat("a", 63), strings.Repeat("a", 24)},
		// Dashes at the cut are replaced by what follows them (Mesos-DNS).
		{strings.Repeat("a", 22) + "---bcdef", strings.Repeat("a", 22) + "---bcdef", strings.Repeat("a", 22) + "bc"},
		// A refill may end in '-': Mesos-DNS keeps it (labels.RFC952 at
		// e888ef4 gives the same).
		{strings.Repeat("a", 23) + "--b-c", strings.Repeat("a", 23) + "--b-c", strings.Repeat("a", 23) + "b"},
		{strings.Repeat("a", 22) + "--b-c", strings.Repeat("a", 22) + "--b-c", strings.Repeat("a", 22) + "b-"},
	}
	for _, tt := range tests {
		if got := RFC1123.Label(tt.in); got != tt.rfc1123 {
			t.Errorf("RFC1123.Label(%q) = %q, want %q", tt.in, got, tt.rfc1123)
		}
		if got := RFC952.Label(tt.in); got != tt.r952 {
			t.Errorf("RFC952.Label(%q) = %q, want %q", tt.in, got, tt.r952)
		}
	}
}

func TestDomainFrag(t *testing.T) {
	tests := []struct {
		in            string
		rfc1123, r952 string
	}{
		{"marathon", "marathon", "marathon"},
		{"chronos with a space AND MIXED CASE-2.0.1", "chronoswithaspaceandmixedcase-2.0.1", "chronoswithaspaceandmixe"},
		{"a..b", "a.b", "a.b"},
		{"...", "", ""},
		{"hello-world", "hello-world", "hello-world"},
	}
	for _, tt := range tests {
		if got := RFC1123.DomainFrag(tt.in); got != tt.rfc1123 {
			t.Errorf("RFC1123.DomainFrag(%q) = %q, want %q", tt.in, got, tt.rfc1123)
		}
		if got := RFC952.DomainFrag(tt.in); got != tt.r952 {
			t.Errorf("RFC952.DomainFrag(%q) = %q, want %q", tt.in, got, tt.r952)
		}
	}
}

// checkLabel reports what is wrong with a sanitised label, or "". A
// label may end in '-' when the cut refilled it (as Mesos-DNS's do).
func checkLabel(s Spec, l string) string {
	maxLen, left := rfc1123MaxLen, rfc1123Left
	if s == RFC952 {
		maxLen, left = rfc952MaxLen, rfc952Left
	}
	switch {
	case len(l) > maxLen:
		return "too long"
	case l == "":
		return ""
	case strings.ContainsAny(l[:1], left):
		return "bad first character"
	}
	for _, r := range l {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return "bad character " + string(r)
		}
	}
	return ""
}

func FuzzSanitize(f *testing.F) {
	for _, s := range []string{"liquor.store", "chronos with a space AND MIXED CASE-2.0.1", "123", "a---b", "ÄÖÜ_x", strings.Repeat("ab-", 30)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		for _, s := range []Spec{RFC1123, RFC952} {
			l := s.Label(in)
			if msg := checkLabel(s, l); msg != "" {
				t.Fatalf("%v.Label(%q) = %q: %s", s, in, l, msg)
			}
			frag := s.DomainFrag(in)
			if frag != "" {
				for _, part := range strings.Split(frag, ".") {
					if msg := checkLabel(s, part); msg != "" || part == "" {
						t.Fatalf("%v.DomainFrag(%q) = %q: label %q: %s", s, in, frag, part, msg)
					}
				}
			}
		}
	})
}
