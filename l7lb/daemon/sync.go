package daemon

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/dcnet/dcnet/l7lb/build"
	"github.com/dcnet/dcnet/l7lb/model"
)

// inputs gathers the sources' views.
func (d *Daemon) inputs() build.Inputs {
	in := build.Inputs{ReadFile: d.opts.ReadFile}
	if d.opts.Marathon != nil {
		in.Apps = d.opts.Marathon.Apps()
	}
	if d.opts.Mesos != nil {
		in.Tasks = d.opts.Mesos.Tasks()
	}
	if d.opts.Endpoints != nil {
		in.Endpoints = d.opts.Endpoints.Endpoints()
		in.VIPs = d.opts.Endpoints.VIPs()
	}
	return in
}

// build makes the Config of the sources' current views.
func (d *Daemon) build() build.Output {
	in := d.inputs()
	if d.opts.Pool == "" {
		return build.BuildMarathonLB(in, d.opts.MarathonLB)
	}
	p, ok, _ := d.opts.PoolSource.Pool()
	if !ok {
		var out build.Output
		out.Config.Problems = []model.Problem{{Kind: "pool", Name: d.opts.Pool,
			Reason: "the pool does not exist in etcd: create it with dcnetctl pools create FILE"}}
		return out
	}
	out := build.BuildPool(p, in)
	if why := d.opts.PoolSource.Problem(); why != "" {
		out.Config.Problems = append(out.Config.Problems, model.Problem{Kind: "pool", Name: d.opts.Pool, Reason: why})
	}
	u := poolUses(p)
	for _, miss := range []struct {
		used, have bool
		what, flag string
	}{
		{u.marathon, d.opts.Marathon != nil, "Marathon apps", "--marathon"},
		{u.mesos, d.opts.Mesos != nil, "Mesos tasks", "--mesos-master"},
		{u.records, d.opts.Endpoints != nil, "VIPs or endpoint records", "--endpoints with --etcd-endpoints"},
	} {
		if miss.used && !miss.have {
			out.Config.Problems = append(out.Config.Problems, model.Problem{Kind: "pool", Name: d.opts.Pool,
				Reason: "services select " + miss.what + " but this instance does not read them: start it with " + miss.flag})
		}
	}
	out.Config.Normalize()
	return out
}

// sync builds from the sources and applies, once every source has
// delivered a full view (a partial view would drop whole apps).
func (d *Daemon) sync(ctx context.Context) {
	if waiting := d.allSynced(); waiting != "" {
		d.mu.Lock()
		d.status.waiting = waiting
		d.mu.Unlock()
		d.metrics.syncs.WithLabelValues("waiting").Inc()
		d.log.Debug("waiting for sources before the first build", "sources", waiting)
		return
	}
	start := time.Now()
	out := d.build()
	d.metrics.buildDur.Observe(time.Since(start).Seconds())
	d.logNotes(out.Notes)
	d.apply(ctx, out.Config, false, time.Time{})
	d.metrics.syncDur.Observe(time.Since(start).Seconds())
}

// apply hands cfg to the applier and records the outcome. fromDisk
// marks the configuration saved before a restart (appliedAt is when it
// was first applied).
func (d *Daemon) apply(ctx context.Context, cfg model.Config, fromDisk bool, appliedAt time.Time) bool {
	actx, cancel := context.WithTimeout(ctx, applyTimeout)
	res, err := d.opts.Applier.Apply(actx, cfg)
	cancel()
	if err != nil {
		if ctx.Err() == nil {
			d.metrics.syncs.WithLabelValues("error").Inc()
			d.metrics.applyErrors.Inc()
			d.log.Error("apply failed: HAProxy keeps serving the previous configuration", "err", err)
			d.mu.Lock()
			d.status.lastApplyErr = err.Error()
			d.mu.Unlock()
		}
		return false
	}
	// The applier's problems may repeat the Config's own.
	problems := append(append([]model.Problem(nil), cfg.Problems...), res.Problems...)
	(&model.Config{Problems: problems}).Normalize()
	problems = slices.Compact(problems)
	d.logProblems(problems)
	if !fromDisk {
		appliedAt = time.Now()
	}
	d.mu.Lock()
	d.config = cfg
	d.status.lastSync = appliedAt
	d.status.applies++
	d.status.runtimeChanges += res.RuntimeChanges
	if res.Reloaded {
		d.status.reloads++
	}
	d.status.lastApplyErr, d.status.fromDisk, d.status.waiting, d.status.problems = "", fromDisk, "", problems
	d.mu.Unlock()
	d.metrics.syncs.WithLabelValues("ok").Inc()
	d.metrics.applied(cfg, res, problems)
	if !fromDisk {
		d.save(cfg, appliedAt)
	}
	return true
}

// logNotes logs each app's ignored labels once, and again when they change.
func (d *Daemon) logNotes(notes map[string][]string) {
	for app, ns := range notes {
		joined := strings.Join(ns, "; ")
		if d.notes[app] == joined {
			continue
		}
		d.notes[app] = joined
		for _, n := range ns {
			d.log.Warn("app label not supported, ignored", "app", app, "note", n)
		}
	}
	for app := range d.notes {
		if _, ok := notes[app]; !ok {
			delete(d.notes, app)
		}
	}
}

// logProblems logs a problem when it appears and when it is resolved.
func (d *Daemon) logProblems(ps []model.Problem) {
	now := make(map[model.Problem]bool, len(ps))
	for _, p := range ps {
		now[p] = true
		if !d.problems[p] {
			d.log.Warn("left out of the configuration", "kind", p.Kind, "name", p.Name, "reason", p.Reason)
		}
	}
	for p := range d.problems {
		if !now[p] {
			d.log.Info("resolved, served again", "kind", p.Kind, "name", p.Name)
		}
	}
	d.problems = now
}
