package records

import "strings"

// Label length limits and the characters each rule trims from a label's
// start.
const (
	rfc1123MaxLen = 63
	rfc952MaxLen  = 24
	rfc1123Left   = "-"
	rfc952Left    = "-0123456789"
)

// Spec is a host-name label rule.
type Spec int

const (
	// RFC1123 allows labels of up to 63 characters starting with a letter
	// or digit. It is the default.
	RFC1123 Spec = iota
	// RFC952 allows labels of up to 24 characters starting with a letter.
	RFC952
)

// String names the rule.
func (s Spec) String() string {
	if s == RFC952 {
		return "RFC952"
	}
	return "RFC1123"
}

// Label turns name into one DNS label under the rule: letters are
// lower-cased, '.', '_' and '-' become '-', every other character is
// dropped, leading characters the rule forbids are trimmed, the label is cut
// to the rule's length and trailing '-' are trimmed. The result may be empty.
func (s Spec) Label(name string) string {
	maxLen, left := rfc1123MaxLen, rfc1123Left
	if s == RFC952 {
		maxLen, left = rfc952MaxLen, rfc952Left
	}
	return trimCut(mapLabel(name), maxLen, left)
}

// DomainFrag sanitises each '.'-separated part of name with the rule and
// joins the non-empty results with '.', as Mesos-DNS does for framework
// names: "chronos-2.0.1" -> "chronos-2.0.1" (RFC1123) or "chronos-2"
// (RFC952, whose labels cannot start with a digit).
func (s Spec) DomainFrag(name string) string {
	var parts []string
	for _, p := range strings.Split(name, ".") {
		if l := s.Label(p); l != "" {
			parts = append(parts, l)
		}
	}
	return strings.Join(parts, ".")
}

// mapLabel lower-cases ASCII letters, maps '.', '_' and '-' to '-' and drops
// every other rune.
func mapLabel(name string) string {
	var b strings.Builder
	b.Grow(len(name))
	for _, r := range name {
		switch {
		case r >= 'A' && r <= 'Z':
			b.WriteRune(r + ('a' - 'A'))
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == '-' || r == '.' || r == '_':
			b.WriteByte('-')
		}
	}
	return b.String()
}

// trimCut trims the left cutset, cuts to maxLen and trims trailing '-',
// exactly as Mesos-DNS's labels.trimCut: when that trim removed dashes at
// the cut point, they are replaced by the characters after the cut, with
// the dashes that lead them dropped ("abc---def" cut to 5 is "abcde", not
// "abc"). Such a refill can end in '-' (22 "a" then "--b-c" under RFC 952
// is 22 "a" then "b-"): Mesos-DNS keeps that dash, and so does this.
func trimCut(label string, maxLen int, left string) string {
	trimmed := strings.TrimLeft(label, left)
	size := min(len(trimmed), maxLen)
	head := strings.TrimRight(trimmed[:size], "-")
	if len(head) == size {
		return head
	}
	tail := strings.TrimLeft(trimmed[size:], "-")
	if len(tail) > 0 {
		return head + tail[:min(len(tail), size-len(head))]
	}
	return head
}
