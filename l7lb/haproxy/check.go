package haproxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// DefaultCheckTimeout bounds one `haproxy -c`.
const DefaultCheckTimeout = 2 * time.Minute

// CheckError is a configuration that `haproxy -c` refused, with the
// alerts it printed.
type CheckError struct {
	Path   string
	Alerts []Alert
	Output string
}

func (e *CheckError) Error() string {
	var msgs []string
	for _, a := range e.Alerts {
		msgs = append(msgs, a.String())
	}
	if len(msgs) == 0 {
		msgs = append(msgs, oneLine(e.Output))
	}
	return fmt.Sprintf("haproxy -c %s: %s", e.Path, strings.Join(msgs, "; "))
}

// Alert is one [ALERT] line of HAProxy's output.
type Alert struct {
	// File and Line locate the error when HAProxy names them
	// ("parsing [/x/haproxy.cfg:42]"); Line is 0 otherwise.
	File string
	Line int
	// Proxy is the frontend or backend the alert names ("Proxy 'x'",
	// "backend 'x'"), when it names one.
	Proxy string
	Text  string
}

func (a Alert) String() string {
	if a.File != "" {
		return fmt.Sprintf("%s:%d: %s", a.File, a.Line, a.Text)
	}
	return a.Text
}

var (
	alertRE    = regexp.MustCompile(`^\[ALERT\]\s*(?:\(\d+\)\s*)?:\s*(.*)$`)
	locationRE = regexp.MustCompile(`(?:parsing|Binding) \[([^\[\]:]+):(\d+)\]`)
	proxyRE    = regexp.MustCompile(`(?i)(?:proxy|backend|frontend|listen)\s+'([^']+)'|(?:Starting|for) (?:frontend|proxy) ([^:\s]+):`)
)

// ParseAlerts extracts the [ALERT] lines of HAProxy's output, leaving out
// the summary lines that name no error of their own.
func ParseAlerts(out string) []Alert {
	var alerts []Alert
	for _, line := range strings.Split(out, "\n") {
		m := alertRE.FindStringSubmatch(strings.TrimSpace(line))
		if m == nil {
			continue
		}
		text := strings.TrimPrefix(m[1], "config : ")
		if strings.HasPrefix(text, "Error(s) found in configuration file") ||
			strings.HasPrefix(text, "Fatal errors found in configuration") {
			continue
		}
		a := Alert{Text: text}
		if l := locationRE.FindStringSubmatch(text); l != nil {
			a.File = l[1]
			a.Line, _ = strconv.Atoi(l[2])
		}
		if p := proxyRE.FindStringSubmatch(text); p != nil {
			a.Proxy = p[1] + p[2]
		}
		alerts = append(alerts, a)
	}
	return alerts
}

// Check runs `<argv...> -c -f path` (argv is the haproxy command, with its
// wrapper) and returns a *CheckError when HAProxy refuses the file.
func Check(ctx context.Context, argv []string, path string) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultCheckTimeout)
		defer cancel()
	}
	args := append(append([]string(nil), argv[1:]...), "-c", "-f", path)
	cmd := exec.CommandContext(ctx, argv[0], args...)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	err := cmd.Run()
	if err == nil {
		return nil
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ctx.Err() != nil {
		return fmt.Errorf("haproxy -c %s: %w", path, errors.Join(err, ctx.Err()))
	}
	return &CheckError{Path: path, Alerts: ParseAlerts(out.String()), Output: out.String()}
}
