package ctl

import (
	"fmt"
	"io"

	"github.com/dcnet/dcnet/dns/dnsapi"
)

// renderRecords prints one row per record, zone by zone as served.
func renderRecords(w io.Writer, v any) {
	rs := v.([]dnsapi.Record)
	var rows [][]string
	for _, r := range rs {
		rows = append(rows, []string{r.Zone, r.Name, r.Type, fmt.Sprint(r.TTL), dash(r.Value)})
	}
	table(w, "ZONE\tNAME\tTYPE\tTTL\tVALUE", rows)
}
