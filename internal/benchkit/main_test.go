package benchkit

import (
	"context"
	"strings"
	"testing"

	"github.com/dcnet/dcnet/internal/netsim"
)

var testBench = Bench{Name: "x", Prefix: "bx", Section: "X (bench/x)"}

func parseTest(args ...string) (Flags, int, error) {
	fs := testBench.FlagSet()
	n := fs.Int("n", 50, "starts")
	var f Flags
	err := testBench.Parse(fs, args, &f, map[string]string{"n": "5"})
	return f, *n, err
}

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		out     string
		n       int
		command string
	}{
		{nil, DefaultOut, 50, "go run ./bench/x"},
		{[]string{"-short"}, "", 5, "go run ./bench/x -short"},
		{[]string{"-short", "-n", "7", "-out", "x.md"}, "x.md", 7, "go run ./bench/x -short -n 7 -out x.md"},
		{[]string{"-n", "7"}, DefaultOut, 7, "go run ./bench/x -n 7"},
		{[]string{"-out", ""}, "", 50, "go run ./bench/x -out ''"},
	} {
		f, n, err := parseTest(tc.args...)
		if err != nil || f.Out != tc.out || n != tc.n || f.Command != tc.command || f.Short != strings.Contains(tc.command, "-short") {
			t.Errorf("Parse(%q) = %+v, n %d, %v; want out %q, n %d, command %q", tc.args, f, n, err, tc.out, tc.n, tc.command)
		}
	}
	for _, bad := range [][]string{{"extra"}, {"-n", "x"}, {"-nope"}} {
		if _, _, err := parseTest(bad...); err == nil {
			t.Errorf("Parse(%q) accepted", bad)
		}
	}
}

func TestCommandLine(t *testing.T) {
	if got := CommandLine("go run ./bench/x", []string{"-out", "", "-note", "a b", "-q", "it's"}); got != `go run ./bench/x -out '' -note 'a b' -q 'it'\''s'` {
		t.Errorf("CommandLine = %s", got)
	}
}

// TestPrivilegedRunRefusesAForeignSection: Run builds and removes its
// fabric, and a report under another heading is not written over someone
// else's section.
func TestPrivilegedRunRefusesAForeignSection(t *testing.T) {
	netsim.Privileged(t)
	var out strings.Builder
	ran := false
	err := testBench.Run(context.Background(), Flags{Out: t.TempDir() + "/b.md"}, &out, func(_ context.Context, e *Env) (string, error) {
		ran = e.Fabric != nil && e.Tmp != ""
		return "## Y (bench/y)\n\nbody\n", nil
	})
	if !ran || err == nil || !strings.Contains(err.Error(), "not written") {
		t.Errorf("Run = %v (ran with a fabric: %v), want the section refused", err, ran)
	}
}
