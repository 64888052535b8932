package benchkit

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestReplaceSection(t *testing.T) {
	const sec = "## CNI ADD/DEL latency (bench/cni)\n\nnew table\n"
	for _, tc := range []struct {
		name, doc, want string
	}{
		{"empty", "", sec},
		{"append", "# Benchmarks\n\nintro\n", "# Benchmarks\n\nintro\n\n" + sec},
		{"replace last", "# B\n\n## CNI ADD/DEL latency (bench/cni)\n\nold\nold2\n", "# B\n\n" + sec},
		{"replace middle, keep others",
			"# B\n\n## Overlay throughput\n\nx\n\n## CNI ADD/DEL latency (bench/cni)\n\nold\n\n## DNS\n\ny\n",
			"# B\n\n## Overlay throughput\n\nx\n\n" + sec + "\n## DNS\n\ny\n"},
		{"subsections belong to the section",
			"## CNI ADD/DEL latency (bench/cni)\n\nold\n### detail\nold\n## Other\nz\n",
			sec + "\n## Other\nz\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, ReplaceSection(tc.doc, sec)); diff != "" {
				t.Errorf("replaceSection (-want +got):\n%s", diff)
			}
			// Replacing again changes nothing.
			once := ReplaceSection(tc.doc, sec)
			if diff := cmp.Diff(once, ReplaceSection(once, sec)); diff != "" {
				t.Errorf("second replaceSection changed the doc (-first +second):\n%s", diff)
			}
		})
	}
}

func TestUpdateDocCreatesFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "benchmarks.md")
	sec := "## CNI ADD/DEL latency (bench/cni)\n\nbody\n"
	if err := Update(path, sec); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Header+"\n"+sec, string(got)); diff != "" {
		t.Errorf("new file (-want +got):\n%s", diff)
	}
}

// TestDocsHeader: the committed docs/benchmarks.md starts with Header, so
// it carries the percentile definition the code uses.
func TestDocsHeader(t *testing.T) {
	doc, err := os.ReadFile("../../docs/benchmarks.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(doc), Header+"\n## ") {
		t.Errorf("docs/benchmarks.md does not start with benchkit.Header and a section:\n%.600s", doc)
	}
}

func TestWithHeader(t *testing.T) {
	for in, want := range map[string]string{
		"": Header,
		"# Old title\n\nold intro\n\n## A\n\na\n": Header + "\n## A\n\na\n",
		"## A\na\n": Header + "\n## A\na\n",
	} {
		if diff := cmp.Diff(want, WithHeader(in)); diff != "" {
			t.Errorf("WithHeader(%q) (-want +got):\n%s", in, diff)
		}
	}
}
