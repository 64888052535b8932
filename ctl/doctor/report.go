package doctor

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// Kind says how an observed object differs from the wanted one.
type Kind string

// Kinds of finding. Every kind but Note makes its check fail.
const (
	// Missing: wanted, not observed.
	Missing Kind = "missing"
	// Wrong: observed with other attributes than wanted.
	Wrong Kind = "wrong"
	// Extra: observed, not wanted.
	Extra Kind = "extra"
	// Broken: the check could not compare (a daemon or the store did not
	// answer, the kernel could not be read).
	Broken Kind = "error"
	// Note: worth knowing, not wrong (a state the daemons resolve on their
	// own schedule).
	Note Kind = "note"
)

// Finding is one difference, with the command that shows it.
type Finding struct {
	Kind Kind `json:"kind"`
	// Object names what differs, in the form the command prints it where
	// there is one ("44.128.0.2 lladdr 70:b3:d5:80:00:02 PERMANENT").
	Object string `json:"object"`
	Want   string `json:"want,omitempty"`
	Have   string `json:"have,omitempty"`
	// Detail says why it matters or who should have made it.
	Detail string `json:"detail,omitempty"`
	// Command shows the object where it lives (kernel, store, daemon).
	Command string `json:"command"`
}

// Status is a check's outcome.
type Status string

// Check outcomes.
const (
	OK      Status = "ok"
	Failed  Status = "fail"
	Skipped Status = "skip"
)

// Check is one comparison of what a daemon wants with what the kernel or
// the store holds.
type Check struct {
	// Component is the daemon whose wanted state is compared: overlayd,
	// dcnet-l4lb or dcnet-dns.
	Component string `json:"component"`
	Name      string `json:"name"`
	Status    Status `json:"status"`
	// Compared counts the wanted objects compared.
	Compared int `json:"compared"`
	// Reason says why a check was skipped.
	Reason   string    `json:"reason,omitempty"`
	Findings []Finding `json:"findings,omitempty"`
}

// newCheck returns a check of findings: failed when any finding is more
// than a Note.
func newCheck(component, name string, compared int, fs []Finding) Check {
	c := Check{Component: component, Name: name, Status: OK, Compared: compared, Findings: fs}
	for _, f := range fs {
		if f.Kind != Note {
			c.Status = Failed
		}
	}
	return c
}

// skipped returns a check that was not run, and why.
func skipped(component, name, reason string) Check {
	return Check{Component: component, Name: name, Status: Skipped, Reason: reason}
}

// broken returns a check that failed because it could not compare.
func broken(component, name, object string, err error, command string) Check {
	return newCheck(component, name, 0, []Finding{{Kind: Broken, Object: object, Have: err.Error(), Command: command}})
}

// Report is the outcome of every check of one node.
type Report struct {
	Node   string  `json:"node,omitempty"`
	Checks []Check `json:"checks"`
}

// Counts returns how many checks passed, failed and were skipped.
func (r Report) Counts() (passed, failed, skipped int) {
	for _, c := range r.Checks {
		switch c.Status {
		case OK:
			passed++
		case Failed:
			failed++
		default:
			skipped++
		}
	}
	return passed, failed, skipped
}

// OK reports whether no check failed.
func (r Report) OK() bool {
	_, failed, _ := r.Counts()
	return failed == 0
}

// Summary is the report's last line: "all 17 checks passed" or
// "2 of 17 checks failed", with the skipped checks counted apart.
func (r Report) Summary() string {
	passed, failed, skip := r.Counts()
	var s string
	if failed == 0 {
		s = fmt.Sprintf("all %d checks passed", passed)
	} else {
		s = fmt.Sprintf("%d of %d checks failed", failed, passed+failed)
	}
	if skip > 0 {
		s += fmt.Sprintf(" (%d skipped)", skip)
	}
	return s
}

// maxTextFindings bounds the findings WriteText prints per check unless
// verbose (a flushed map of 10,000 VIPs is 30,000 findings).
const maxTextFindings = 20

// WriteText prints the failed and skipped checks (every check with
// verbose), each finding with its command (the first maxTextFindings of
// a check unless verbose), then Summary.
func (r Report) WriteText(w io.Writer, verbose bool) {
	for _, c := range r.Checks {
		switch {
		case c.Status == Skipped:
			fmt.Fprintf(w, "SKIP %s: %s: %s\n", c.Component, c.Name, c.Reason)
		case c.Status == Failed || verbose || len(c.Findings) > 0:
			fmt.Fprintf(w, "%-4s %s: %s (%d compared)\n", strings.ToUpper(string(c.Status)), c.Component, c.Name, c.Compared)
		}
		if c.Status == Skipped {
			continue
		}
		for i, f := range c.Findings {
			if i == maxTextFindings && !verbose {
				fmt.Fprintf(w, "  ... and %d more (--verbose or --json lists them all)\n", len(c.Findings)-i)
				break
			}
			fmt.Fprintf(w, "  %s: %s\n", f.Kind, f.Object)
			if f.Want != "" {
				fmt.Fprintf(w, "    want: %s\n", f.Want)
			}
			if f.Have != "" {
				fmt.Fprintf(w, "    have: %s\n", f.Have)
			}
			if f.Detail != "" {
				fmt.Fprintf(w, "    why:  %s\n", f.Detail)
			}
			fmt.Fprintf(w, "    see:  %s\n", f.Command)
		}
	}
	fmt.Fprintln(w, r.Summary())
}

// WriteJSON prints the report as one indented JSON document with the
// counts.
func (r Report) WriteJSON(w io.Writer) error {
	passed, failed, skip := r.Counts()
	checks := r.Checks
	if checks == nil {
		checks = []Check{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(struct {
		Node    string  `json:"node,omitempty"`
		OK      bool    `json:"ok"`
		Passed  int     `json:"passed"`
		Failed  int     `json:"failed"`
		Skipped int     `json:"skipped"`
		Summary string  `json:"summary"`
		Checks  []Check `json:"checks"`
	}{r.Node, failed == 0, passed, failed, skip, r.Summary(), checks})
}
