package mesoszone

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/dcnet/dcnet/cluster"
	"github.com/dcnet/dcnet/dns/mesos"
	"github.com/dcnet/dcnet/dns/records"
	"github.com/dcnet/dcnet/dns/server"
	"github.com/dcnet/dcnet/dns/taskzone"
)

// PublishTimeout bounds publishing the task names after one poll: the
// first publish of a large cluster is hundreds of transactions (90,000
// names took about 8 s in bench/dns). A publish cut short keeps what it
// wrote; the next poll diffs again and writes the rest.
const PublishTimeout = time.Minute

// Sink turns every polled Mesos state into records: the mesos. zone, the
// task names zone and the task names published to etcd, each optional. A
// state that yields no records (no usable leader) leaves the last good
// records in place.
type Sink struct {
	log   *slog.Logger
	cfg   records.Config
	mesos *server.RecordSetZone
	tasks *server.RecordSetZone
	pub   *taskzone.Publisher
	// ctx bounds the publishes; Stop cancels it.
	ctx  context.Context
	stop context.CancelFunc

	pubMu  sync.Mutex // one publish at a time, each of the latest names
	mu     sync.Mutex
	rs, tn *records.RecordSet
	serial uint32
	// listener is Config.Listener: the SOA mname's addresses.
	listener string
	// hosts caches LookupHost.
	hosts *hostCache
}

// NewSink returns a Sink generating records with cfg into the zones that
// are not nil (mesosZone gets the Mesos-DNS records, tasks the task
// names) and handing the task names to pub when it is not nil.
//
// Host names in the state (agents, schedulers, a leader not given by IP)
// are resolved with cfg.LookupHost, or, when it is nil, with the system
// resolver as Mesos-DNS does, each answer (or failure) cached for
// hostCacheTTL.
func NewSink(log *slog.Logger, cfg records.Config, mesosZone, tasks *server.RecordSetZone, pub *taskzone.Publisher) *Sink {
	ctx, stop := context.WithCancel(context.Background())
	m := &Sink{log: log, cfg: cfg, mesos: mesosZone, tasks: tasks, pub: pub, ctx: ctx, stop: stop}
	if m.cfg.LookupHost == nil {
		m.hosts = newHostCache(systemLookup)
		m.cfg.LookupHost = m.hosts.lookup
	}
	return m
}

// SetListener sets the host the name server answers on (Config.Listener):
// the SOA mname (records.Config.SOAMname) gets its addresses from the next
// state on; "0.0.0.0" and "::" mean every non-loopback address of the
// host, read at each state.
func (m *Sink) SetListener(host string) {
	m.mu.Lock()
	m.listener = host
	m.mu.Unlock()
}

// SetMasters replaces the masters of masterN (records.Config.Masters)
// from the next state on.
func (m *Sink) SetMasters(masters []string) {
	m.mu.Lock()
	m.cfg.Masters = append([]string(nil), masters...)
	m.mu.Unlock()
}

// Stop cancels the publish in flight, if any; later publishes fail at
// once (quietly).
func (m *Sink) Stop() { m.stop() }

// Apply is the Poller's OnState.
func (m *Sink) Apply(st mesos.State, from string) {
	m.mu.Lock()
	cfg, listener := m.cfg, m.listener
	m.mu.Unlock()
	if cfg.SOAMname != "" && listener != "" {
		cfg.Listeners = listenerAddrs(listener)
	}
	rs, err := records.Generate(st, cfg)
	if err != nil {
		m.log.Warn("mesos records: state unusable, serving the last good records", "from", from, "err", err)
		return
	}
	tn, err := records.TaskNames(st, cfg)
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
	m.Publish()
}

// Publish hands the latest task names to the publisher, if any (also the
// Poller's OnUnchanged: the records did not change, only a failed or due
// publish is redone, and the Elector's OnElected); it writes only what
// etcd lacks (and nothing when they were published before, until the
// publisher's resync). Publishes run one at a time and each reads the
// names once it runs, so one that waited never writes older names after
// newer ones.
func (m *Sink) Publish() {
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
	ctx, cancel := context.WithTimeout(m.ctx, PublishTimeout)
	defer cancel()
	if st, err := m.pub.Publish(ctx, tn); errors.Is(err, taskzone.ErrNotLeader) {
		m.log.Info("task names: lost the publisher role during a publish; the new publisher completes it", "err", err)
	} else if err != nil && m.ctx.Err() == nil {
		m.log.Warn("task names: publish failed, retrying at the next poll", "err", err)
	} else if st.Wrote() {
		m.log.Info("task names published", "prefix", cluster.TaskNamesPrefix, "names", st.Names, "puts", st.Puts, "deletes", st.Deletes, "txns", st.Txns)
	}
}

// Snapshot is the last good Mesos-DNS record set and its serial
// (httpapi.Snapshotter); an empty set before the first good state.
func (m *Sink) Snapshot() (*records.RecordSet, uint32) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.rs == nil {
		return &records.RecordSet{}, m.serial
	}
	return m.rs, m.serial
}
