package netsim

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// snapshotTimeout bounds each command that SnapshotHost runs.
const snapshotTimeout = 30 * time.Second

// sysctlSection names the section compared key by key.
const sysctlSection = "sysctl"

// guardedSysctls are the host sysctls that a test of this project might be
// tempted to set; globs are expanded at snapshot time.
var guardedSysctls = []string{
	"net/ipv4/ip_forward",
	"net/ipv4/ip_nonlocal_bind",
	"net/ipv4/conf/all/forwarding",
	"net/ipv4/conf/default/forwarding",
	"net/ipv4/conf/all/rp_filter",
	"net/ipv4/conf/default/rp_filter",
	"net/ipv4/conf/all/route_localnet",
	"net/ipv6/conf/all/forwarding",
	"net/ipv6/conf/default/forwarding",
	"net/bridge/*",
}

// HostSnapshot is the normalised network configuration of the namespace the
// snapshot was taken in, section by section.
type HostSnapshot struct {
	Sections []Section
}

// Section is one normalised command output (or the sysctls as
// "name = value" lines).
type Section struct {
	Name  string
	Lines []string
}

// snapshotSource is one command whose normalised output becomes a section.
type snapshotSource struct {
	name      string
	argv      []string
	normalise func(string) []string
}

var snapshotSources = []snapshotSource{
	{"ip -d link show", []string{"ip", "-d", "link", "show"}, NormaliseLinks},
	{"ip addr show", []string{"ip", "addr", "show"}, NormaliseAddrs},
	{"ip -4 route show table all", []string{"ip", "-4", "route", "show", "table", "all"}, NormaliseRoutes},
	{"ip -6 route show table all", []string{"ip", "-6", "route", "show", "table", "all"}, NormaliseRoutes},
	{"ip -4 rule show", []string{"ip", "-4", "rule", "show"}, func(s string) []string { return splitLines(s, nil) }},
	{"ip -6 rule show", []string{"ip", "-6", "rule", "show"}, func(s string) []string { return splitLines(s, nil) }},
	{"nft list ruleset", []string{"nft", "list", "ruleset"}, NormaliseNft},
	{"iptables-save", []string{"iptables-save"}, NormaliseIptables},
	{"ip6tables-save", []string{"ip6tables-save"}, NormaliseIptables},
}

// HostUnchanged snapshots the host's namespace now and returns what a
// program defers first (so that it runs after its own cleanup) to add to
// *err how the host's namespace changed since, if it did:
//
//	defer netsim.HostUnchanged(ctx)(&err)
func HostUnchanged(ctx context.Context) func(err *error) {
	before := SnapshotHost(ctx)
	return func(err *error) {
		if d := before.Diff(SnapshotHost(context.Background())); d != "" {
			*err = errors.Join(*err, fmt.Errorf("the host's network namespace changed during the run:\n%s", d))
		}
	}
}

// SnapshotHost records the network configuration of the calling thread's
// namespace: the host's, when called outside ns.Do. Programs that are not
// installed are left out; a command that fails records its error as the
// section's content, so a failure that persists compares equal.
func SnapshotHost(ctx context.Context) *HostSnapshot {
	s := &HostSnapshot{}
	for _, src := range snapshotSources {
		if _, err := exec.LookPath(src.argv[0]); err != nil {
			continue
		}
		s.Sections = append(s.Sections, Section{Name: src.name, Lines: runSource(ctx, src)})
	}
	s.Sections = append(s.Sections, Section{Name: sysctlSection, Lines: readSysctls()})
	return s
}

func runSource(ctx context.Context, src snapshotSource) []string {
	ctx, cancel := context.WithTimeout(ctx, snapshotTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, src.argv[0], src.argv[1:]...)
	out, err := cmd.Output()
	if err != nil {
		msg := err.Error()
		if ee, ok := err.(*exec.ExitError); ok {
			msg += ": " + cleanLine(string(ee.Stderr))
		}
		return []string{"error: " + msg}
	}
	return src.normalise(string(out))
}

// readSysctls returns the guarded sysctls as sorted "name = value" lines.
func readSysctls() []string {
	var lines []string
	for _, pattern := range guardedSysctls {
		paths, _ := filepath.Glob(filepath.Join("/proc/sys", pattern))
		for _, p := range paths {
			v, err := os.ReadFile(p)
			if err != nil {
				continue // write-only or vanished: nothing to compare
			}
			key := strings.ReplaceAll(strings.TrimPrefix(p, "/proc/sys/"), "/", ".")
			lines = append(lines, key+" = "+cleanLine(string(v)))
		}
	}
	slices.Sort(lines)
	return slices.Compact(lines)
}

// Diff describes how after differs from s, section by section, or returns ""
// when nothing differs. Sysctls are compared only where both have the key:
// one that appears or vanishes follows a module load, not a setting.
func (s *HostSnapshot) Diff(after *HostSnapshot) string {
	var b strings.Builder
	for _, name := range sectionNames(s, after) {
		old, cur := s.section(name), after.section(name)
		if name == sysctlSection {
			old, cur = commonKeys(old, cur)
		}
		if d := lineDiff(old, cur); d != nil {
			fmt.Fprintf(&b, "%s (- before, + after):\n    %s\n", name, strings.Join(d, "\n    "))
		}
	}
	return b.String()
}

func (s *HostSnapshot) section(name string) []string {
	for _, sec := range s.Sections {
		if sec.Name == name {
			return sec.Lines
		}
	}
	return nil
}

func sectionNames(a, b *HostSnapshot) []string {
	var names []string
	for _, s := range append(slices.Clone(a.Sections), b.Sections...) {
		if !slices.Contains(names, s.Name) {
			names = append(names, s.Name)
		}
	}
	return names
}

// commonKeys keeps the "key = value" lines whose key is in both a and b.
func commonKeys(a, b []string) ([]string, []string) {
	keys := func(lines []string) map[string]bool {
		m := map[string]bool{}
		for _, l := range lines {
			k, _, _ := strings.Cut(l, " = ")
			m[k] = true
		}
		return m
	}
	ka, kb := keys(a), keys(b)
	filter := func(lines []string, other map[string]bool) []string {
		var out []string
		for _, l := range lines {
			if k, _, _ := strings.Cut(l, " = "); other[k] {
				out = append(out, l)
			}
		}
		return out
	}
	return filter(a, kb), filter(b, ka)
}

// guardHost snapshots the host namespace now and, in t.Cleanup, fails the
// test with a readable diff if it changed (Privileged calls it).
func guardHost(t testing.TB) {
	t.Helper()
	before := SnapshotHost(context.Background())
	t.Cleanup(func() {
		after := SnapshotHost(context.Background())
		if d := before.Diff(after); d != "" {
			t.Errorf("netsim: the test changed the host network namespace:\n%s", d)
		}
	})
}
