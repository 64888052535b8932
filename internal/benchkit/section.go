package benchkit

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Header is the head of docs/benchmarks.md, before the first section:
// what the file is and the one definition of percentiles that every
// section refers to. Update writes it on every run.
const Header = "# Benchmarks\n\n" +
	"Numbers from `make bench` (DESIGN.md, \"Benchmarks\"): each benchmark measures dcnet against an anchor " +
	"on the same machine in the same run and writes its own section here, with the command that produced it.\n\n" +
	PercentileDefinition + "\n"

// Update writes section into the markdown file at path, replacing the
// section of the same heading and keeping every other section, and puts
// Header before the first section; a missing file is created. The file is
// replaced atomically.
func Update(path, section string) error {
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("read %s: %w", path, err)
	}
	doc := ReplaceSection(WithHeader(string(old)), section)
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

// WithHeader returns doc with what stands before its first level-2
// section replaced by Header.
func WithHeader(doc string) string {
	lines := strings.SplitAfter(doc, "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "## ") {
			return Header + "\n" + strings.Join(lines[i:], "")
		}
	}
	return Header
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
