package apply

import (
	"context"
	"errors"
	"time"

	"github.com/dcnet/dcnet/l7lb/model"
)

// Run does in the background what Apply leaves: debounced reloads,
// retries after failed ones, freeing the slots of drained servers, and
// restoring runtime state after HAProxy was restarted. It returns when ctx
// ends.
func (a *Applier) Run(ctx context.Context) {
	t := time.NewTicker(DefaultMaintainInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-a.wake:
		}
		if _, err := a.Maintain(ctx); err != nil && ctx.Err() == nil {
			a.log.Warn("l7lb apply: maintain", "err", err)
		}
	}
}

// Maintain runs one round of Run's work and says what it did.
func (a *Applier) Maintain(ctx context.Context) (model.Result, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	var res model.Result
	if !a.haveCfg || a.loaded == nil {
		return res, nil
	}
	now := a.opts.Now()
	restarted := a.checkRestart(ctx)
	freed, err := a.finishDrains(ctx, now)
	if restarted || freed {
		n, serr := a.syncRuntime(ctx)
		res.RuntimeChanges += n
		err = errors.Join(err, serr)
	}
	if a.pending && a.reloadAllowed(now) {
		rerr := a.reload(ctx, now)
		res.Reloaded = rerr == nil
		err = errors.Join(err, rerr)
	}
	if a.fileDirty {
		if werr := a.writeCurrent(); werr != nil {
			err = errors.Join(err, werr)
		} else {
			a.fileDirty = false
		}
	}
	res.ReloadPending = a.pending
	res.Problems = a.problemsLocked()
	return res, err
}

// Flush writes the runtime changes not yet in the files (Run does it
// within DefaultMaintainInterval).
func (a *Applier) Flush() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.fileDirty || a.loaded == nil {
		return nil
	}
	if err := a.writeCurrent(); err != nil {
		return err
	}
	a.fileDirty = false
	return nil
}

// checkRestart notices a HAProxy restarted by its supervisor: the files
// are what it has now.
func (a *Applier) checkRestart(ctx context.Context) bool {
	s := a.h.Starts()
	if s == a.starts {
		return false
	}
	a.starts = s
	a.live = a.file.clone()
	a.metrics.restarts++
	a.log.Warn("l7lb apply: haproxy was restarted; runtime state restored from the files", "starts", s)
	return true
}
