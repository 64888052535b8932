package main

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"github.com/dcnet/dcnet/cluster"
	"github.com/dcnet/dcnet/dns/mesos"
	"github.com/dcnet/dcnet/dns/poll"
	"github.com/dcnet/dcnet/dns/records"
	"github.com/dcnet/dcnet/dns/server"
	"github.com/dcnet/dcnet/dns/taskzone"
)

// publishTimeout bounds publishing the task names after one poll: the
// first publish of a large cluster is hundreds of transactions (90,000
// names took about 8 s in bench/dns). A publish cut short keeps what it
// wrote; the next poll diffs again and writes the rest.
const publishTimeout = time.Minute

// mesosState turns every polled Mesos state into records: the mesos.
// zone, the task names zone and the task names published to etcd, each
// optional. A state that yields no records (no usable leader) leaves the
// last good records in place.
type mesosState struct {
	log   *slog.Logger
	cfg   records.Config
	mesos *server.RecordSetZone
	tasks *server.RecordSetZone
	pub   *taskzone.Publisher
	// ctx bounds the publishes (the run's context; nil: none).
	ctx context.Context

	pubMu  sync.Mutex // one publish at a time, each of the latest names
	mu     sync.Mutex
	rs, tn *records.RecordSet
	serial uint32
}

// apply is the Poller's OnState.
func (m *mesosState) apply(st mesos.State, from string) {
	rs, err := records.Generate(st, m.cfg)
	if err != nil {
		m.log.Warn("mesos records: state unusable, serving the last good records", "from", from, "err", err)
		return
	}
	tn, err := records.TaskNames(st, m.cfg)
	if err != nil {
		m.log.Warn("task names: state unusable, serving the last good names", "from", from, "err", err)
		return
	}
	m.mu.Lock()
	changed := m.rs == nil || !m.rs.Equal(&rs) || !m.tn.Equal(&tn)
	if changed {
		// The zones drop the old sets here; nothing else holds them, so
		// only one generation stays live past this poll.
		m.rs, m.tn = &rs, &tn
		m.serial = max(m.serial+1, uint32(time.Now().Unix()))
		if m.mesos != nil {
			m.mesos.Set(m.rs)
		}
		if m.tasks != nil {
			m.tasks.Set(m.tn)
		}
	}
	m.mu.Unlock()
	if changed {
		m.log.Info("mesos records updated", "from", from, "records", rs.Len(), "task_names", tn.Len(), "warnings", len(rs.Warnings)+len(tn.Warnings))
	}
	m.publish()
}

// publish hands the latest task names to the publisher, if any (also the
// Poller's OnUnchanged: the records did not change, only a failed or due
// publish is redone); it
// writes only what etcd lacks (and nothing when they were published
// before, until the publisher's resync). Publishes run one at a time and
// each reads the names once it runs, so one that waited (the election's
// OnElected against a poll's) never writes older names after newer ones.
func (m *mesosState) publish() {
	if m.pub == nil {
		return
	}
	m.pubMu.Lock()
	defer m.pubMu.Unlock()
	m.mu.Lock()
	tn := m.tn
	m.mu.Unlock()
	if tn == nil {
		return
	}
	parent := m.ctx
	if parent == nil {
		parent = context.Background()
	}
	ctx, cancel := context.WithTimeout(parent, publishTimeout)
	defer cancel()
	if st, err := m.pub.Publish(ctx, tn); errors.Is(err, taskzone.ErrNotLeader) {
		m.log.Info("task names: lost the publisher role during a publish; the new publisher completes it", "err", err)
	} else if err != nil && parent.Err() == nil {
		m.log.Warn("task names: publish failed, retrying at the next poll", "err", err)
	} else if st.Wrote() {
		m.log.Info("task names published", "prefix", cluster.TaskNamesPrefix, "names", st.Names, "puts", st.Puts, "deletes", st.Deletes, "txns", st.Txns)
	}
}

// Snapshot implements httpapi.Snapshotter.
func (m *mesosState) Snapshot() (*records.RecordSet, uint32) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.rs == nil {
		return &records.RecordSet{}, m.serial
	}
	return m.rs, m.serial
}

// newPoller returns the poller of the Mesos state the flags name, feeding
// sink; nil when they name none.
func newPoller(o options, log *slog.Logger, sink *mesosState) (*poll.Poller, error) {
	var f poll.Fetcher
	switch {
	case o.stateFile != "" && len(o.masters) > 0:
		return nil, configError{errors.New("--mesos-state-file and --mesos-master: give one of them")}
	case o.stateFile != "":
		f = poll.FileFetcher{Path: o.stateFile}
	case len(o.masters) > 0:
		hf, err := poll.NewHTTPFetcher(o.masters, o.mesosTimeout, nil)
		if err != nil {
			return nil, configError{err}
		}
		f = hf
	default:
		return nil, nil
	}
	return &poll.Poller{Fetcher: f, Interval: o.refresh, OnState: sink.apply, OnUnchanged: sink.publish, Log: log}, nil
}

// masterAddrs are the masters given as ip:port, for masterN.mesos.
func masterAddrs(masters []string) []string {
	var out []string
	for _, m := range masters {
		u, err := poll.ParseMasterURL(m)
		if err != nil {
			continue
		}
		if ap, err := netip.ParseAddrPort(u.Host); err == nil {
			out = append(out, ap.String())
		}
	}
	return out
}

// startPolling polls once, then keeps polling in the background until
// ctx ends. A state file that cannot be read at start is a configuration
// error (as before polling existed); masters that do not answer yet are
// only logged.
func startPolling(ctx context.Context, log *slog.Logger, o options, p *poll.Poller) error {
	if p == nil {
		return nil
	}
	if err := p.Poll(ctx); err != nil {
		if o.stateFile != "" {
			return configError{err}
		}
		log.Warn("mesos state: first poll failed, retrying", "err", err)
	}
	if hf, ok := p.Fetcher.(*poll.HTTPFetcher); ok && o.subscribe {
		sub := &poll.Subscriber{Fetcher: hf, OnEvent: func(string) { p.Kick() }, Log: log}
		go sub.Run(ctx)
	}
	go p.RunAfter(ctx, o.refresh)
	return nil
}
