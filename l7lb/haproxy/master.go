package haproxy

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Proc is one process line of the master CLI's `show proc`.
type Proc struct {
	PID int
	// Type is "master", "worker" or a program's name.
	Type string
	// Reloads is how many reloads the process has lived through (for the
	// master: how many it did).
	Reloads int
	// Failed is, for the master, the failed reloads since the last
	// successful one (2.6 resets it on success).
	Failed  int
	Uptime  string
	Version string
	// Old is true for a worker left by a reload that still finishes its
	// connections.
	Old bool
}

// Procs is the answer of `show proc`.
type Procs struct {
	Master  Proc
	Workers []Proc // current workers
	Old     []Proc // old workers, still finishing
}

var reloadsRE = regexp.MustCompile(`^(\d+)(?:\s*\[failed:\s*(\d+)\])?$`)

// ParseShowProc parses `show proc` of HAProxy 2.6:
//
//	#<PID>          <type>          <reloads>       <uptime>        <version>
//	1162            master          5 [failed: 0]   0d00h02m07s     2.6.12
//	# workers
//	1271            worker          1               0d00h00m00s     2.6.12
//	# old workers
//	1233            worker          3               0d00h00m43s     2.6.12
//	# programs
func ParseShowProc(out string) (Procs, error) {
	var ps Procs
	section := "master"
	seenMaster := false
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "":
			continue
		case strings.HasPrefix(line, "#<PID>"):
			continue
		case strings.HasPrefix(line, "#"):
			section = strings.TrimSpace(strings.TrimPrefix(line, "#"))
			continue
		}
		p, err := parseProcLine(line)
		if err != nil {
			return ps, err
		}
		switch {
		case p.Type == "master":
			ps.Master, seenMaster = p, true
		case section == "workers":
			ps.Workers = append(ps.Workers, p)
		case section == "old workers":
			p.Old = true
			ps.Old = append(ps.Old, p)
		}
	}
	if !seenMaster {
		return ps, fmt.Errorf("show proc: no master line in %q", oneLine(out))
	}
	return ps, nil
}

// parseProcLine reads "<pid> <type> <reloads> [failed: N] <uptime> <version>".
func parseProcLine(line string) (Proc, error) {
	f := strings.Fields(line)
	if len(f) < 4 {
		return Proc{}, fmt.Errorf("show proc: short line %q", line)
	}
	pid, err := strconv.Atoi(f[0])
	if err != nil {
		return Proc{}, fmt.Errorf("show proc: pid in %q: %w", line, err)
	}
	p := Proc{PID: pid, Type: f[1]}
	rest := f[2:]
	rel := rest[0]
	if len(rest) >= 3 && rest[1] == "[failed:" {
		rel = rest[0] + " [failed: " + rest[2]
		rest = rest[3:]
	} else {
		rest = rest[1:]
	}
	m := reloadsRE.FindStringSubmatch(rel)
	if m == nil {
		return Proc{}, fmt.Errorf("show proc: reloads in %q", line)
	}
	p.Reloads, _ = strconv.Atoi(m[1])
	if m[2] != "" {
		p.Failed, _ = strconv.Atoi(m[2])
	}
	if len(rest) > 0 {
		p.Uptime = rest[0]
	}
	if len(rest) > 1 {
		p.Version = rest[1]
	}
	return p, nil
}

// Master is a client of the master CLI.
type Master struct {
	T Transport
}

// ShowProc asks the master for its processes.
func (m *Master) ShowProc(ctx context.Context) (Procs, error) {
	replies, err := m.T.Exec(ctx, []Command{{Line: "show proc"}})
	if err != nil {
		return Procs{}, err
	}
	if len(replies) != 1 {
		return Procs{}, fmt.Errorf("show proc: no reply")
	}
	return ParseShowProc(replies[0])
}

// SendReload asks the master to reload. HAProxy 2.6 answers nothing and
// closes the connection; confirm with ShowProc (Instance.Reload does).
func (m *Master) SendReload(ctx context.Context) error {
	_, err := m.T.Exec(ctx, []Command{{Line: "reload"}})
	return err
}
