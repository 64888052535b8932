package doctor

import (
	"net"
	"net/netip"
	"slices"
	"strings"

	"github.com/dcnet/dcnet/cluster"
	"github.com/dcnet/dcnet/dns/dnsapi"
	"github.com/dcnet/dcnet/dns/server"
	"github.com/dcnet/dcnet/dns/taskzone"
	"github.com/dcnet/dcnet/l4lb/l4lbapi"
)

// served returns the addresses dcnet-dns serves per name in zone (its
// /v1/records), sorted.
func served(records []dnsapi.Record, zone string) map[string][]netip.Addr {
	out := map[string][]netip.Addr{}
	for _, r := range records {
		if r.Zone != zone || (r.Type != "A" && r.Type != "AAAA") {
			continue
		}
		if a, err := netip.ParseAddr(r.Value); err == nil && !slices.Contains(out[r.Name], a.Unmap()) {
			out[r.Name] = append(out[r.Name], a.Unmap())
		}
	}
	for _, as := range out {
		slices.SortFunc(as, netip.Addr.Compare)
	}
	return out
}

// digCommand asks dnsAddr (an address dcnet-dns listens on) for name's
// addresses of the family of a.
func digCommand(dnsAddr, name string, a netip.Addr) string {
	host, _, err := net.SplitHostPort(dnsAddr)
	if err != nil {
		host = dnsAddr
	}
	qtype := "A"
	if a.IsValid() && !a.Is4() {
		qtype = "AAAA"
	}
	return "dig @" + host + " " + strings.TrimSuffix(name, ".") + " " + qtype
}

// compareZone reports the names of want that dcnet-dns does not serve or
// serves with other addresses, and the names it serves that are not in
// want, except those ignore accepts.
func compareZone(component, name string, want, have map[string][]netip.Addr, ignore func(string) bool, why func(string) string, dnsAddr string) Check {
	var fs []Finding
	first := func(as []netip.Addr) netip.Addr {
		if len(as) == 0 {
			return netip.Addr{}
		}
		return as[0]
	}
	for _, n := range sortedKeys(want) {
		w, h := want[n], have[n]
		switch {
		case len(h) == 0 && len(w) > 0:
			fs = append(fs, Finding{Kind: Missing, Object: n, Want: addrsString(w), Detail: why(n), Command: digCommand(dnsAddr, n, first(w))})
		case !slices.Equal(w, h):
			fs = append(fs, Finding{Kind: Wrong, Object: n, Want: addrsString(w), Have: addrsString(h), Detail: why(n), Command: digCommand(dnsAddr, n, first(w))})
		}
	}
	for _, n := range sortedKeys(have) {
		if _, ok := want[n]; !ok && !ignore(n) {
			fs = append(fs, Finding{Kind: Extra, Object: n, Have: addrsString(have[n]), Detail: "no record in the store", Command: digCommand(dnsAddr, n, first(have[n]))})
		}
	}
	return newCheck(component, name, len(want), fs)
}

// CheckVIPZone compares the l4lb.thisdcos.directory names dcnet-dns
// serves (records, its /v1/records) with the named VIP records in the
// store (recs). dcnet-dns holds a name back until this node's dcnet-l4lb
// programs one of its addresses, so with vips known (l4lb true) a name
// whose addresses this node does not program may be served or not; with
// no dcnet-l4lb to ask (l4lb false) every name is served.
func CheckVIPZone(records []dnsapi.Record, recs []KV, vips []l4lbapi.VIPInfo, l4lb bool, dnsAddr string, etcdctl Etcdctl) Check {
	stored, keys, bad := decodeNames(recs, etcdctl)
	programmed := map[netip.Addr]bool{}
	for _, as := range namedVIPs(vips) {
		for _, a := range as {
			programmed[a] = true
		}
	}
	held := func(n string) bool {
		as, ok := stored[n]
		return ok && l4lb && !slices.ContainsFunc(as, func(a netip.Addr) bool { return programmed[a] })
	}
	want := map[string][]netip.Addr{}
	for n, as := range stored {
		if !held(n) {
			want[n] = as
		}
	}
	c := compareZone(DNS, strings.TrimSuffix(server.L4LBZone, "."), want, served(records, server.L4LBZone), held,
		func(n string) string { return "from " + keys[n] }, dnsAddr)
	return withFindings(c, bad)
}

// CheckTaskZone compares the dcos.thisdcos.directory names dcnet-dns
// serves with the task names the elected Mesos-DNS master published in
// the store (recs, under cluster.TaskNamesPrefix).
func CheckTaskZone(records []dnsapi.Record, recs []KV, dnsAddr string, etcdctl Etcdctl) Check {
	want, keys := map[string][]netip.Addr{}, map[string]string{}
	var bad []Finding
	for _, kv := range recs {
		if kv.Key == cluster.TaskNamesKey {
			continue // the pre-sharding key: its publisher deletes it
		}
		name, as, _, err := taskzone.Decode(kv.Key, kv.Value)
		if err != nil {
			bad = append(bad, Finding{Kind: Wrong, Object: kv.Key, Want: "a task name record", Have: err.Error(), Command: etcdctl.get(kv.Key)})
			continue
		}
		as = slices.Clone(as)
		slices.SortFunc(as, netip.Addr.Compare)
		want[name], keys[name] = slices.Compact(as), kv.Key
	}
	c := compareZone(DNS, strings.TrimSuffix(server.TaskZone, "."), want, served(records, server.TaskZone), func(string) bool { return false },
		func(n string) string { return "from " + keys[n] }, dnsAddr)
	return withFindings(c, bad)
}

// withFindings adds fs to c, failing it when one is more than a Note.
func withFindings(c Check, fs []Finding) Check {
	return newCheck(c.Component, c.Name, c.Compared, append(c.Findings, fs...))
}

// Answer is what one DNS server answered to an A question for
// dnsapi.ReadyName.
type Answer struct {
	Server string
	Addrs  []string
	// Err is why there was no answer (timeout, refused, an rcode).
	Err string
}

// CheckReady checks that every address dcnet-dns listens on answers
// ready.spartan with 127.0.0.1, its health probe.
func CheckReady(answers []Answer) Check {
	var fs []Finding
	for _, a := range answers {
		cmd := digCommand(a.Server, dnsapi.ReadyName, netip.Addr{})
		switch {
		case a.Err != "":
			fs = append(fs, Finding{Kind: Broken, Object: "ready.spartan @" + a.Server, Want: dnsapi.ReadyAddr, Have: a.Err, Command: cmd})
		case !slices.Equal(a.Addrs, []string{dnsapi.ReadyAddr}):
			fs = append(fs, Finding{Kind: Wrong, Object: "ready.spartan @" + a.Server, Want: dnsapi.ReadyAddr, Have: orNone(strings.Join(a.Addrs, ",")), Command: cmd})
		}
	}
	return newCheck(DNS, "ready.spartan", len(answers), fs)
}
