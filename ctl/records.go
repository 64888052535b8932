package ctl

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/dcnet/dcnet/dns/dnsapi"
)

// getRecords reads dcnet-dns's /v1/records at addr ("host:port" or a
// URL).
func getRecords(ctx context.Context, addr string) ([]dnsapi.Record, error) {
	base := addr
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(base, "/")+dnsapi.PathRecords, nil)
	if err != nil {
		return nil, fmt.Errorf("dcnet-dns address %q: %w", addr, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("dcnet-dns at %s: %w (is it running? pass --dns)", addr, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("dcnet-dns at %s: GET %s answered %s", addr, dnsapi.PathRecords, resp.Status)
	}
	var rs []dnsapi.Record
	if err := json.NewDecoder(resp.Body).Decode(&rs); err != nil {
		return nil, fmt.Errorf("decode dcnet-dns's %s: %w", dnsapi.PathRecords, err)
	}
	return rs, nil
}

// renderRecords prints one row per record, zone by zone as served.
func renderRecords(w io.Writer, v any) {
	rs := v.([]dnsapi.Record)
	var rows [][]string
	for _, r := range rs {
		rows = append(rows, []string{r.Zone, r.Name, r.Type, fmt.Sprint(r.TTL), dash(r.Value)})
	}
	table(w, "ZONE\tNAME\tTYPE\tTTL\tVALUE", rows)
}
