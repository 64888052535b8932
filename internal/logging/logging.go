// Package logging builds the structured logger every dcnet daemon writes to
// stderr, from the level its --log-level flag names.
package logging

import (
	"fmt"
	"log/slog"
	"os"
)

// New returns a text logger on stderr at level ("debug", "info", "warn" or
// "error"), or an error naming the flag value to fix.
func New(level string) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl})), nil
}
