package logging

import (
	"context"
	"log/slog"
	"strings"
	"testing"
)

func TestNew(t *testing.T) {
	l, err := New("warn")
	if err != nil || l.Enabled(context.Background(), slog.LevelInfo) || !l.Enabled(context.Background(), slog.LevelWarn) {
		t.Fatalf("warn logger: %v", err)
	}
	if _, err := New("loud"); err == nil || !strings.Contains(err.Error(), `--log-level "loud"`) {
		t.Fatalf("bad level: %v", err)
	}
}
