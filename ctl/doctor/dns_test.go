package doctor

import (
	"strings"
	"testing"

	"github.com/dcnet/dcnet/cluster"
	"github.com/dcnet/dcnet/dns/dnsapi"
	"github.com/dcnet/dcnet/l4lb/l4lbapi"
)

const (
	webName  = "web.marathon.l4lb.thisdcos.directory."
	oldName  = "old.marathon.l4lb.thisdcos.directory."
	taskName = "web.marathon.containerip.dcos.thisdcos.directory."
)

func vipRecord(name string, addrs ...string) KV {
	return KV{Key: cluster.VIPNamesPrefix + strings.TrimSuffix(name, "."), Value: jsonOf(cluster.VIPName{Name: strings.TrimSuffix(name, "."), Addrs: addrs})}
}

func servedRecord(zone, name, typ, value string) dnsapi.Record {
	return dnsapi.Record{Zone: zone, Name: name, Type: typ, TTL: 5, Value: value}
}

func healthyRecords() []dnsapi.Record {
	return []dnsapi.Record{
		servedRecord("spartan.", "ready.spartan.", "A", "127.0.0.1"),
		servedRecord("l4lb.thisdcos.directory.", webName, "A", "11.0.0.1"),
		servedRecord("l4lb.thisdcos.directory.", webName, "AAAA", "fd01:c::5"),
		servedRecord("dcos.thisdcos.directory.", taskName, "A", "9.0.1.2"),
	}
}

func TestCheckVIPZone(t *testing.T) {
	for _, tc := range []struct {
		name    string
		records func([]dnsapi.Record) []dnsapi.Record
		recs    []KV
		vips    []l4lbapi.VIPInfo
		l4lb    bool
		want    []string
	}{
		{"healthy", nil, []KV{vipRecord(webName, "11.0.0.1", "fd01:c::5")}, healthyVIPs(), true, nil},
		{"name not served", func(rs []dnsapi.Record) []dnsapi.Record { return rs[:1] },
			[]KV{vipRecord(webName, "11.0.0.1", "fd01:c::5")}, healthyVIPs(), true, []string{"missing " + webName}},
		{"stale address", func(rs []dnsapi.Record) []dnsapi.Record { rs[1].Value = "11.0.0.9"; return rs },
			[]KV{vipRecord(webName, "11.0.0.1", "fd01:c::5")}, healthyVIPs(), true, []string{"wrong " + webName}},
		{"served without a record", nil, nil, healthyVIPs(), true, []string{"extra " + webName}},
		{"held back: not programmed here", nil, []KV{vipRecord(webName, "11.0.0.1", "fd01:c::5"), vipRecord(oldName, "11.0.0.7")},
			healthyVIPs(), true, nil},
		{"held back names may be served too", func(rs []dnsapi.Record) []dnsapi.Record {
			return append(rs, servedRecord("l4lb.thisdcos.directory.", oldName, "A", "11.0.0.7"))
		}, []KV{vipRecord(webName, "11.0.0.1", "fd01:c::5"), vipRecord(oldName, "11.0.0.7")}, healthyVIPs(), true, nil},
		{"no dcnet-l4lb: every name is served", nil, []KV{vipRecord(webName, "11.0.0.1", "fd01:c::5"), vipRecord(oldName, "11.0.0.7")},
			nil, false, []string{"missing " + oldName}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rs := healthyRecords()
			if tc.records != nil {
				rs = tc.records(rs)
			}
			c := CheckVIPZone(rs, tc.recs, tc.vips, tc.l4lb, "198.51.100.1:53", "etcdctl")
			wantLines(t, c, tc.want...)
			for _, f := range c.Findings {
				if !strings.HasPrefix(f.Command, "dig @198.51.100.1 ") {
					t.Errorf("%q: command %q", f.Object, f.Command)
				}
			}
		})
	}
}

func TestCheckTaskZone(t *testing.T) {
	key := cluster.TaskNamesPrefix + taskName
	for _, tc := range []struct {
		name string
		recs []KV
		want []string
	}{
		{"healthy", []KV{{Key: key, Value: []byte(`["9.0.1.2"]`)}, {Key: cluster.TaskNamesKey, Value: []byte(`{}`)}}, nil},
		{"published, not served", []KV{{Key: key, Value: []byte(`["9.0.1.2"]`)}, {Key: cluster.TaskNamesPrefix + "db." + taskName, Value: []byte(`["9.0.1.3"]`)}},
			[]string{"missing db." + taskName}},
		{"served, not published", nil, []string{"extra " + taskName}},
		{"other address", []KV{{Key: key, Value: []byte(`["9.0.1.2","fd01:b::2"]`)}}, []string{"wrong " + taskName}},
		{"garbage", []KV{{Key: key, Value: []byte(`["9.0.1.2"]`)}, {Key: cluster.TaskNamesPrefix + "x.dcos.thisdcos.directory.", Value: []byte(`{`)}},
			[]string{"wrong " + cluster.TaskNamesPrefix + "x.dcos.thisdcos.directory."}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantLines(t, CheckTaskZone(healthyRecords(), tc.recs, "198.51.100.1:53", "etcdctl"), tc.want...)
		})
	}
}

func TestCheckReady(t *testing.T) {
	c := CheckReady([]Answer{{Server: "198.51.100.1:53", Addrs: []string{"127.0.0.1"}}, {Server: "198.51.100.2:53", Err: "i/o timeout"},
		{Server: "198.51.100.3:53", Addrs: []string{"127.0.0.2"}}})
	wantLines(t, c, "error ready.spartan @198.51.100.2:53", "wrong ready.spartan @198.51.100.3:53")
	if c.Findings[0].Command != "dig @198.51.100.2 ready.spartan A" {
		t.Errorf("command %q", c.Findings[0].Command)
	}
}
