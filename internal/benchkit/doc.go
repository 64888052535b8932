// Package benchkit is what the benchmarks (bench/<name>) share: each owns
// one level-2 section of docs/benchmarks.md, replaced in place on each run
// (Update), so the file keeps every benchmark's latest numbers with the
// command that produced them; tables and the machine description for those
// sections (report.go); and private copies of the binaries under test
// (CopyExecutable), so a `make build` meanwhile cannot mix versions.
package benchkit

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Header starts a benchmarks file that does not exist yet.
const Header = "# Benchmarks\n\n" +
	"Numbers from `make bench` (DESIGN.md, \"Benchmarks\"): each benchmark measures dcnet against an anchor " +
	"on the same machine in the same run and writes its own section here, with the command that produced it.\n"

// Update writes section into the markdown file at path, replacing the
// section of the same heading and keeping every other section; a missing
// file is created with a short header. The file is replaced atomically.
func Update(path, section string) error {
	old, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		old = []byte(Header)
	} else if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	doc := ReplaceSection(string(old), section)
	tmp, err := os.CreateTemp(filepath.Dir(path), ".benchmarks-*.md")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.WriteString(doc); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// ReplaceSection returns doc with the level-2 section whose heading line
// equals section's first line replaced by section, or with section
// appended when doc has none. The replaced section runs to the next
// level-1 or level-2 heading.
func ReplaceSection(doc, section string) string {
	heading, _, _ := strings.Cut(section, "\n")
	section = strings.TrimRight(section, "\n") + "\n"
	lines := strings.SplitAfter(doc, "\n")
	start := -1
	for i, l := range lines {
		if strings.TrimRight(l, "\r\n") == heading {
			start = i
			break
		}
	}
	if start < 0 {
		doc = strings.TrimRight(doc, "\n")
		if doc == "" {
			return section
		}
		return doc + "\n\n" + section
	}
	end := len(lines)
	for i := start + 1; i < len(lines); i++ {
		if strings.HasPrefix(lines[i], "## ") || strings.HasPrefix(lines[i], "# ") {
			end = i
			break
		}
	}
	before := strings.Join(lines[:start], "")
	after := strings.Join(lines[end:], "")
	if after != "" {
		section += "\n"
	}
	return before + section + after
}
