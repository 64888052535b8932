package benchkit

import (
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// Table renders a markdown table with padded columns; the first row is the
// header.
func Table(rows [][]string) string {
	widths := make([]int, len(rows[0]))
	for _, row := range rows {
		for i, cell := range row {
			widths[i] = max(widths[i], len(cell))
		}
	}
	var b strings.Builder
	write := func(row []string) {
		b.WriteString("|")
		for i, cell := range row {
			fmt.Fprintf(&b, " %-*s |", widths[i], cell)
		}
		b.WriteString("\n")
	}
	write(rows[0])
	sep := make([]string, len(widths))
	for i, w := range widths {
		sep[i] = strings.Repeat("-", w)
	}
	write(sep)
	for _, row := range rows[1:] {
		write(row)
	}
	return b.String()
}

// PercentileNote is the sentence of Header that points a section's
// reader to the percentile definition at the top of docs/benchmarks.md.
const PercentileNote = "Percentiles and medians are nearest-rank, as defined at the top of this file."

// Header starts a section's body: when, on what and with which command it
// was measured, the load average at its start and end (the machine may be
// shared, which is why every anchor runs in the same run), and
// PercentileNote.
func (e *Env) Header(command string) string {
	return fmt.Sprintf("Measured %s on Linux %s, %s, %s.\n"+
		"Command: `%s` (as root, from the repository root; `make bench` runs it).\n\n"+
		"Load average (1, 5, 15 min) when the run started: %s, when it ended: %s. The machine may be shared; every "+
		"anchor runs in the same run for that reason. %s\n\n",
		e.Began.Format("2006-01-02 15:04 UTC"), KernelRelease(), CPUDescription(), runtime.Version(), command,
		e.LoadAtStart, LoadAverage(), PercentileNote)
}

// LoadAverage is the 1, 5 and 15 minute load average from /proc/loadavg.
func LoadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) >= 3 {
		return strings.Join(f[:3], " ")
	}
	return "unknown"
}

// PassMiss renders whether a target was met: PASS or MISS.
func PassMiss(ok bool) string {
	if ok {
		return "PASS"
	}
	return "MISS"
}

// Millis renders d in milliseconds with three significant digits or
// more: "123 ms", "12.3 ms", "1.23 ms".
func Millis(d time.Duration) string {
	v := float64(d) / float64(time.Millisecond)
	switch {
	case math.Abs(v) >= 100:
		return fmt.Sprintf("%.0f ms", v)
	case math.Abs(v) >= 10:
		return fmt.Sprintf("%.1f ms", v)
	}
	return fmt.Sprintf("%.2f ms", v)
}

// KernelRelease is `uname -r`.
func KernelRelease() string {
	out, err := exec.Command("uname", "-r").Output()
	if err != nil {
		return "(uname -r failed: " + err.Error() + ")"
	}
	return strings.TrimSpace(string(out))
}

// CPUDescription is "N CPUs (model name)", the model from /proc/cpuinfo
// when it can be read.
func CPUDescription() string {
	desc := fmt.Sprintf("%d CPUs", runtime.NumCPU())
	data, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return desc
	}
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return desc + " (" + strings.TrimSpace(v) + ")"
		}
	}
	return desc
}

// CopyBuilt copies programs that `make build` put in srcDir: each pair is
// a file name in srcDir and where the copy goes. A program that is missing
// or not executable is an error that says to run `make build`.
func CopyBuilt(srcDir string, pairs [][2]string) error {
	abs, err := filepath.Abs(srcDir)
	if err != nil {
		return fmt.Errorf("binary directory %s: %w", srcDir, err)
	}
	for _, p := range pairs {
		src := filepath.Join(abs, p[0])
		if st, err := os.Stat(src); err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
			return fmt.Errorf("%s is missing or not executable: run `make build` from the repository root first", src)
		}
		if err := CopyExecutable(src, p[1]); err != nil {
			return fmt.Errorf("copy %s: %w", src, err)
		}
	}
	return nil
}

// CopyExecutable copies an executable to a new file, creating the
// directory of to.
func CopyExecutable(from, to string) error {
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		return err
	}
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
