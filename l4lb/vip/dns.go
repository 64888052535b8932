package vip

import "strings"

// maxLabelLen is the RFC 1123 limit on one DNS label.
const maxLabelLen = 63

// DNSName returns <name>.<framework>.l4lb.thisdcos.directory for a named
// VIP: name and framework are split at '.', every piece is sanitised with
// Sanitize ('/' is dropped: /group/app -> groupapp) and empty pieces are
// left out, as dcos-net's domain_frag does.
func DNSName(name, framework string) string {
	parts := make([]string, 0, 4)
	for _, s := range []string{name, framework} {
		if frag := domainFrag(s); frag != "" {
			parts = append(parts, frag)
		}
	}
	parts = append(parts, Zone)
	return strings.Join(parts, ".")
}

// sanitizeName is the DNS fragment a named VIP contributes to its name.
func sanitizeName(name string) string { return domainFrag(name) }

// domainFrag sanitises each '.'-separated piece of s and joins the
// non-empty results with '.'.
func domainFrag(s string) string {
	var out []string
	for piece := range strings.SplitSeq(s, ".") {
		if l := Sanitize(piece); l != "" {
			out = append(out, l)
		}
	}
	return strings.Join(out, ".")
}

// Sanitize turns one label into an RFC 1123 DNS label the way Mesos-DNS
// and dcos-net do: lower-case; leading characters up to the first letter
// or digit are dropped; '-', '_' and '.' become '-'; other characters are
// dropped; at 63 characters trailing '-' are trimmed and only letters and
// digits may still fill the label up to 63; trailing '-' are trimmed.
func Sanitize(label string) string {
	b := make([]byte, 0, min(len(label), maxLabelLen))
	started, full := false, false
	for i := 0; i < len(label) && !(full && len(b) == maxLabelLen); i++ {
		c := label[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		alnum := ('a' <= c && c <= 'z') || ('0' <= c && c <= '9')
		switch {
		case !started && !alnum:
			continue
		case full:
			if alnum {
				b = append(b, c)
			}
			continue
		}
		started = true
		if len(b) >= maxLabelLen {
			b = trimDashes(b)
			full = true
			i-- // reconsider c in the "full" state
			continue
		}
		switch {
		case alnum:
			b = append(b, c)
		case c == '-' || c == '_' || c == '.':
			b = append(b, '-')
		}
	}
	return string(trimDashes(b))
}

func trimDashes(b []byte) []byte {
	for len(b) > 0 && b[len(b)-1] == '-' {
		b = b[:len(b)-1]
	}
	return b
}
