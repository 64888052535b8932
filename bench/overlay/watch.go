package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/dcnet/dcnet/internal/benchkit"
)

// awaitRecord returns the bench's watch's first event of key with revision
// > afterRev that is a PUT (put) or a DELETE, waiting at most timeout: the
// anchor of the convergence and scale measurements.
func awaitRecord(ctx context.Context, w *benchkit.Watcher, key string, put bool, afterRev int64, timeout time.Duration) (benchkit.Event, error) {
	ev, err := w.Await(ctx, timeout, func(ev benchkit.Event) bool { return ev.Key == key && ev.Put == put && ev.Rev > afterRev })
	if err != nil {
		kind := "DELETE"
		if put {
			kind = "PUT"
		}
		return ev, fmt.Errorf("no %s of %s in the store: %w", kind, key[strings.LastIndexByte(key, '/')+1:], err)
	}
	return ev, nil
}
