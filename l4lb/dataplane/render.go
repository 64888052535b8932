package dataplane

import (
	"fmt"
	"strings"

	"github.com/dcnet/dcnet/l4lb/l4lbapi"
)

// Render prints p the way `nft list ruleset` shows the tables (rules as nft
// prints the expressions NFTables builds), for operators and golden files.
func Render(p Plan) string {
	var b strings.Builder
	for _, f := range Families {
		renderTable(&b, f, p.Tables[f])
	}
	return b.String()
}

func renderTable(b *strings.Builder, f Family, s State) {
	addrType, addrExpr := "ipv4_addr", "ip daddr"
	if f == IPv6 {
		addrType, addrExpr = "ipv6_addr", "ip6 daddr"
	}
	key := addrExpr + " . meta l4proto . th dport"
	fmt.Fprintf(b, "table %s %s {\n", f, TableName)

	var vips []string
	for _, k := range sortedServiceKeys(s.VIPs) {
		vips = append(vips, fmt.Sprintf("%s : jump %s", k, ChainName(s.VIPs[k])))
	}
	renderMap(b, mapVIPs, addrType+" . inet_proto . inet_service : verdict", vips)
	b.WriteString("\n")
	var backends []string
	for _, k := range sortedSlotKeys(s.Backends) {
		backends = append(backends, fmt.Sprintf("%s . 0x%08x : %s", k.ServiceKey, k.Slot, backendString(s.Backends[k])))
	}
	renderMap(b, mapBackends, addrType+" . inet_proto . inet_service . mark : "+addrType+" . inet_service", backends)

	renderChain(b, chainPrerouting, "type nat hook prerouting priority dstnat; policy accept;", key+" vmap @"+mapVIPs)
	renderChain(b, chainOutput, "type nat hook output priority -100; policy accept;", key+" vmap @"+mapVIPs)
	renderChain(b, chainHairpin, "type filter hook prerouting priority dstnat + 1; policy accept;",
		fmt.Sprintf("ct state new ct status dnat fib daddr . iif oif exists meta mark set meta mark | 0x%08x", HairpinMark),
		fmt.Sprintf("iifname \"%s*\" ct state new ct status dnat meta mark set meta mark | 0x%08x", l4lbapi.VIPAccessPrefix, HairpinMark))
	reject := "icmp net-unreachable"
	if f == IPv6 {
		reject = "icmpv6 no-route"
	}
	renderChain(b, chainVIPAccess, "type filter hook forward priority filter; policy accept;",
		fmt.Sprintf("iifname \"%s*\" ct status ! dnat reject with %s", l4lbapi.VIPAccessPrefix, reject))
	renderChain(b, chainPostrout, "type nat hook postrouting priority srcnat; policy accept;",
		fmt.Sprintf("meta mark & 0x%08x == 0x%08x masquerade", HairpinMark, HairpinMark))
	renderChain(b, chainNoVIP, "", "reject with tcp reset", "reject")
	for _, k := range s.Chains {
		renderChain(b, ChainName(k), "", fmt.Sprintf("fib saddr type local meta mark set meta mark | 0x%08x", HairpinMark),
			fmt.Sprintf("dnat %s to %s . numgen inc mod %d map @%s", f, key, k, mapBackends))
	}
	b.WriteString("}\n")
}

func renderMap(b *strings.Builder, name, typ string, elems []string) {
	fmt.Fprintf(b, "\tmap %s {\n\t\ttype %s\n", name, typ)
	if len(elems) > 0 {
		b.WriteString("\t\telements = { ")
		b.WriteString(strings.Join(elems, ",\n\t\t\t     "))
		b.WriteString(" }\n")
	}
	b.WriteString("\t}\n")
}

func renderChain(b *strings.Builder, name, hook string, rules ...string) {
	fmt.Fprintf(b, "\n\tchain %s {\n", name)
	if hook != "" {
		fmt.Fprintf(b, "\t\t%s\n", hook)
	}
	for _, r := range rules {
		fmt.Fprintf(b, "\t\t%s\n", r)
	}
	b.WriteString("\t}\n")
}
