package haproxy

import (
	"encoding/csv"
	"fmt"
	"strconv"
	"strings"
)

// Server admin-state bits of `show servers state` (srv_admin_state).
const (
	AdminForcedMaint = 0x01
	AdminConfigMaint = 0x04
	AdminForcedDrain = 0x08
)

// Server operational states of `show servers state` (srv_op_state).
const (
	OpStopped  = 0
	OpStarting = 1
	OpRunning  = 2
	OpStopping = 3
)

// ServerStatus is one line of `show servers state` (format 1).
type ServerStatus struct {
	Backend string
	Server  string
	Addr    string
	Port    int
	// OpState is srv_op_state (OpStopped...).
	OpState int
	// Admin is srv_admin_state, a mask of Admin... bits.
	Admin int
	// Weight is the user-visible weight (srv_uweight).
	Weight int
}

// Maint reports whether the server is in maintenance (forced or from the
// configuration's `disabled`).
func (s ServerStatus) Maint() bool { return s.Admin&AdminForcedMaint != 0 }

// Drain reports whether the server was forced into drain.
func (s ServerStatus) Drain() bool { return s.Admin&AdminForcedDrain != 0 }

// Up reports whether HAProxy sends traffic to the server's health
// (running or starting).
func (s ServerStatus) Up() bool { return s.OpState == OpRunning || s.OpState == OpStarting }

// ParseServersState parses the output of `show servers state`.
func ParseServersState(out string) ([]ServerStatus, error) {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) == 0 || strings.TrimSpace(lines[0]) != "1" {
		return nil, fmt.Errorf("show servers state: want format version 1, got %q", oneLine(firstLine(out)))
	}
	var cols map[string]int
	var res []ServerStatus
	for _, line := range lines[1:] {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if strings.HasPrefix(line, "#") {
			cols = map[string]int{}
			for i, f := range strings.Fields(strings.TrimPrefix(line, "#")) {
				cols[f] = i
			}
			continue
		}
		if cols == nil {
			return nil, fmt.Errorf("show servers state: data before the header: %q", oneLine(line))
		}
		f := strings.Fields(line)
		get := func(name string) (string, error) {
			i, ok := cols[name]
			if !ok || i >= len(f) {
				return "", fmt.Errorf("show servers state: no column %s in %q", name, oneLine(line))
			}
			return f[i], nil
		}
		num := func(name string) (int, error) {
			s, err := get(name)
			if err != nil {
				return 0, err
			}
			n, err := strconv.Atoi(s)
			if err != nil {
				return 0, fmt.Errorf("show servers state: column %s: %w", name, err)
			}
			return n, nil
		}
		var s ServerStatus
		var err error
		if s.Backend, err = get("be_name"); err != nil {
			return nil, err
		}
		if s.Server, err = get("srv_name"); err != nil {
			return nil, err
		}
		if s.Addr, err = get("srv_addr"); err != nil {
			return nil, err
		}
		for _, c := range []struct {
			name string
			dst  *int
		}{{"srv_port", &s.Port}, {"srv_op_state", &s.OpState}, {"srv_admin_state", &s.Admin}, {"srv_uweight", &s.Weight}} {
			if *c.dst, err = num(c.name); err != nil {
				return nil, err
			}
		}
		res = append(res, s)
	}
	return res, nil
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

// StatRow is one row of `show stat`, by column name (pxname, svname, scur,
// status, ...).
type StatRow map[string]string

// Int returns a numeric column, 0 when empty.
func (r StatRow) Int(col string) int {
	n, _ := strconv.Atoi(r[col])
	return n
}

// ParseStat parses the CSV of `show stat`.
func ParseStat(out string) ([]StatRow, error) {
	out = strings.TrimSpace(out)
	if !strings.HasPrefix(out, "# ") {
		return nil, fmt.Errorf("show stat: no header in %q", oneLine(firstLine(out)))
	}
	rd := csv.NewReader(strings.NewReader(strings.TrimPrefix(out, "# ")))
	rd.FieldsPerRecord = -1
	recs, err := rd.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("show stat: %w", err)
	}
	header := recs[0]
	rows := make([]StatRow, 0, len(recs)-1)
	for _, rec := range recs[1:] {
		row := StatRow{}
		for i, v := range rec {
			if i < len(header) && header[i] != "" {
				row[header[i]] = v
			}
		}
		rows = append(rows, row)
	}
	return rows, nil
}
