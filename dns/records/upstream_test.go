package records

import (
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// upstreamSet is one file of testdata/mesos-dns: Mesos-DNS's record set.
type upstreamSet struct {
	As, AAAAs, SRVs map[string][]string
}

// TestGenerateMatchesMesosDNS requires Generate to make exactly the record
// sets upstream Mesos-DNS's generator (e888ef4) makes of its own fixture,
// for every configuration in testdata/mesos-dns (see its README): the IP
// source lists of upstream's tests with RFC 952 labels, and the defaults
// (RFC 1123, no masters list, listener 0.0.0.0), each with the fixture's
// own leader and with the leader replaced.
func TestGenerateMatchesMesosDNS(t *testing.T) {
	base := fixtureState(t)
	// The host resolver of the run that made the sets (see the README).
	lookup := func(host string) []netip.Addr {
		if host == "localhost" {
			return []netip.Addr{netip.MustParseAddr("127.0.0.1")}
		}
		return nil
	}
	rfc952 := func(sources ...string) Config {
		return Config{EnforceRFC952: true, IPSources: sources, Masters: []string{"144.76.157.37:5050"},
			SOAMname: "mesos-dns.mesos.", Listeners: []netip.Addr{netip.MustParseAddr("127.0.0.1")}, LookupHost: lookup}
	}
	defaults := DefaultConfig()
	defaults.SOAMname = "ns1.mesos"
	defaults.Listeners = []netip.Addr{netip.MustParseAddr("198.18.250.1"), netip.MustParseAddr("2001:db8:250::1")}
	defaults.LookupHost = lookup
	configs := map[string]Config{
		"rfc952-netinfo-docker-mesos-host": rfc952(SourceNetinfo, SourceDocker, SourceMesos, SourceHost),
		"rfc952-docker-host":               rfc952(SourceDocker, SourceHost),
		"rfc952-mesos-host":                rfc952(SourceMesos, SourceHost),
		"rfc952-host":                      rfc952(SourceHost),
		"rfc952-netinfo":                   rfc952(SourceNetinfo),
		"defaults":                         defaults,
	}
	leaders := map[string]string{"own-leader": base.Leader, "leader-replaced": "master@144.76.157.37:5050"}
	for cname, cfg := range configs {
		for lname, leader := range leaders {
			name := cname + "-" + lname
			t.Run(name, func(t *testing.T) {
				b, err := os.ReadFile(filepath.Join("testdata", "mesos-dns", name+".json"))
				if err != nil {
					t.Fatal(err)
				}
				var want upstreamSet
				if err := json.Unmarshal(b, &want); err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				st := base
				st.Leader = leader
				rs := generate(t, st, cfg)
				got := upstreamSet{As: rs.Strings(TypeA), AAAAs: rs.Strings(TypeAAAA), SRVs: sortedValues(rs.Strings(TypeSRV))}
				got.As, got.AAAAs = sortedValues(got.As), sortedValues(got.AAAAs)
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("records differ from Mesos-DNS's (-mesos-dns +dcnet):\n%s", diff)
				}
			})
		}
	}
}

// sortedValues sorts each name's values as text, the order of the sets in
// testdata (Strings sorts addresses numerically).
func sortedValues(m map[string][]string) map[string][]string {
	for _, vs := range m {
		slices.Sort(vs)
	}
	return m
}
