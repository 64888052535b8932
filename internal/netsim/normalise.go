package netsim

import (
	"regexp"
	"slices"
	"strings"
)

// fallbackDevices are created in every namespace, the host's included, when
// their tunnel module loads; a test in its own netns can make them appear.
var fallbackDevices = map[string]bool{
	"tunl0": true, "gre0": true, "gretap0": true, "erspan0": true,
	"ip_vti0": true, "ip6_vti0": true, "sit0": true, "ip6tnl0": true,
	"ip6gre0": true,
}

var (
	spacesRE      = regexp.MustCompile(`\s+`)
	linkNetnsRE   = regexp.MustCompile(`\s*link-netns(id)? \S+`)
	lifetimeRE    = regexp.MustCompile(`valid_lft \S+ preferred_lft \S+`)
	expiresRE     = regexp.MustCompile(`\s*expires \S+`)
	tentativeRE   = regexp.MustCompile(`\s+tentative\b`)
	timerRE       = regexp.MustCompile(`\s*\b\w+_timer \S+`)
	nftCounterRE  = regexp.MustCompile(`counter packets \d+ bytes \d+`)
	nftLastUsedRE = regexp.MustCompile(`\s*last used \S+( ago)?`)
	iptCountersRE = regexp.MustCompile(`\s*\[\d+:\d+\]`)
	blockStartRE  = regexp.MustCompile(`^\d+: `)
)

// cleanLine collapses runs of white space and trims the ends.
func cleanLine(s string) string {
	return strings.TrimSpace(spacesRE.ReplaceAllString(s, " "))
}

// splitLines returns the non-empty, cleaned lines of out after applying
// edit to each raw line.
func splitLines(out string, edit func(string) string) []string {
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		if edit != nil {
			l = edit(l)
		}
		if l = cleanLine(l); l != "" {
			lines = append(lines, l)
		}
	}
	return lines
}

// NormaliseLinks normalises `ip -d link show`: netns ids, bridge timers
// (gc_timer, hold_timer, ...) and fallback tunnel devices are dropped (see
// the package doc).
func NormaliseLinks(out string) []string {
	return dropFallbackBlocks(splitLines(out, func(l string) string {
		l = timerRE.ReplaceAllString(l, "")
		return linkNetnsRE.ReplaceAllString(l, "")
	}))
}

// NormaliseAddrs normalises `ip addr show`: address lifetimes, which count
// down, the transient "tentative" flag of duplicate address detection and
// fallback tunnel devices are dropped.
func NormaliseAddrs(out string) []string {
	return dropFallbackBlocks(splitLines(out, func(l string) string {
		l = lifetimeRE.ReplaceAllString(l, "")
		l = tentativeRE.ReplaceAllString(l, "")
		return linkNetnsRE.ReplaceAllString(l, "")
	}))
}

// NormaliseRoutes normalises `ip route show`: expiry timers are dropped and
// routes sorted.
func NormaliseRoutes(out string) []string {
	lines := splitLines(out, func(l string) string { return expiresRE.ReplaceAllString(l, "") })
	slices.Sort(lines)
	return lines
}

// NormaliseNft normalises `nft list ruleset`: counters keep their place but
// lose their values; set element timers are dropped.
func NormaliseNft(out string) []string {
	return splitLines(out, func(l string) string {
		l = nftCounterRE.ReplaceAllString(l, "counter")
		l = expiresRE.ReplaceAllString(l, "")
		return nftLastUsedRE.ReplaceAllString(l, "")
	})
}

// NormaliseIptables normalises `iptables-save`: comments (they carry
// timestamps) and chain counters are dropped, and so are tables that hold
// nothing but built-in chains with policy ACCEPT, which appear in the host as
// soon as any namespace loads the table.
func NormaliseIptables(out string) []string {
	lines := splitLines(out, func(l string) string {
		if strings.HasPrefix(strings.TrimSpace(l), "#") {
			return ""
		}
		return iptCountersRE.ReplaceAllString(l, "")
	})
	var kept, table []string
	for _, l := range lines {
		switch {
		case strings.HasPrefix(l, "*"):
			table = []string{l}
		case table != nil && l == "COMMIT":
			table = append(table, l)
			if !emptyIptablesTable(table) {
				kept = append(kept, table...)
			}
			table = nil
		case table != nil:
			table = append(table, l)
		default:
			kept = append(kept, l)
		}
	}
	return append(kept, table...) // an unterminated table is kept as is
}

// emptyIptablesTable reports whether a table (from "*name" to "COMMIT") has
// only built-in chains with policy ACCEPT and no rules.
func emptyIptablesTable(table []string) bool {
	for _, l := range table[1 : len(table)-1] {
		f := strings.Fields(l)
		if !strings.HasPrefix(l, ":") || len(f) < 2 || f[1] != "ACCEPT" {
			return false
		}
	}
	return true
}

// dropFallbackBlocks removes the "N: name..." blocks of fallback devices from
// `ip link` or `ip addr` output.
func dropFallbackBlocks(lines []string) []string {
	var out []string
	skip := false
	for _, l := range lines {
		if blockStartRE.MatchString(l) {
			skip = fallbackDevices[blockDevice(l)]
		}
		if !skip {
			out = append(out, l)
		}
	}
	return out
}

// blockDevice returns the device name of an "N: name@peer: <FLAGS>" line.
func blockDevice(l string) string {
	f := strings.Fields(l)
	if len(f) < 2 {
		return ""
	}
	name := strings.TrimSuffix(f[1], ":")
	name, _, _ = strings.Cut(name, "@")
	return name
}
