package server

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/dcnet/dcnet/dns/records"
)

func TestRecordSetZoneRecords(t *testing.T) {
	rs := &records.RecordSet{
		A:   map[string][]netip.Addr{"b.mesos.": {netip.MustParseAddr("10.0.0.2")}, "a.mesos.": {netip.MustParseAddr("10.0.0.1")}},
		SRV: map[string][]records.SRV{"_x._tcp.a.mesos.": {{Target: "a.mesos.", Port: 80}}},
	}
	var got []string
	for _, rr := range NewRecordSetZone(MesosZone, rs).Records() {
		got = append(got, rr.String())
	}
	want := []string{"_x._tcp.a.mesos.\t5\tIN\tSRV\t0 0 80 a.mesos.", "a.mesos.\t5\tIN\tA\t10.0.0.1", "b.mesos.\t5\tIN\tA\t10.0.0.2"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("records (-want +got):\n%s", d)
	}
}
