package pools

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/dcnet/dcnet/cluster"
	"github.com/dcnet/dcnet/l7lb/l7lbapi"
	"github.com/dcnet/dcnet/l7lb/source"
)

// Error kinds of the pool source.
const (
	errInvalid = "invalid_document"
	errDisk    = "disk"
	errEtcd    = "etcd"
)

// Source follows one pool's document: the etcd key (watched, re-read on
// a timer), else the copy on local disk.
type Source struct {
	name    string
	file    string
	resync  time.Duration
	log     *slog.Logger
	tracker *source.Tracker
	mirror  *source.Decoded[stored]
	// OnChange is called when the document in force changes (from Run's
	// goroutine).
	OnChange func()

	mu       sync.RWMutex
	pool     *l7lbapi.Pool // in force; nil when the pool does not exist
	rev      int64
	fromDisk bool
	known    bool // the pool's existence is known (etcd read, or a disk copy)
	problem  string
}

var _ source.Source = (*Source)(nil)

// stored is one value of the pool's key: the pool, or why it is not one.
type stored struct {
	pool l7lbapi.Pool
	rev  int64
	err  error
}

// NewSource follows pool name on s; dir (when not "") holds the disk
// copy pool-<name>.json, loaded now. resync is the period of full
// re-reads (0: source.DefaultEtcdResync).
func NewSource(s *cluster.Store, name, dir string, resync time.Duration, log *slog.Logger) (*Source, error) {
	if msg := l7lbapi.ValidPoolName(name); msg != "" {
		return nil, fmt.Errorf("pool name %s", msg)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	src := &Source{name: name, resync: resync, log: log.With("source", "pool", "pool", name), tracker: source.NewTracker("pool")}
	if dir != "" {
		src.file = filepath.Join(dir, "pool-"+name+".json")
		src.loadDisk()
	}
	key := cluster.PoolKey(name)
	src.mirror = source.NewDecoded(s, key, func(k string, v []byte) (stored, bool, error) {
		if k != key {
			return stored{}, false, nil // another pool whose name starts with ours
		}
		p, _, err := l7lbapi.ParsePool(v)
		return stored{pool: p, err: err}, true, nil
	}, src.log)
	src.mirror.OnChange = src.changed
	src.mirror.OnFailure = func(err error) { src.tracker.Failed(errEtcd, err) }
	src.tracker.Detail("etcd " + s.String() + " key " + key)
	return src, nil
}

// Name implements source.Source.
func (s *Source) Name() string { return "pool" }

// Run follows the pool until ctx ends.
func (s *Source) Run(ctx context.Context) { s.mirror.Run(ctx, s.resync) }

// Status implements source.Source.
func (s *Source) Status() l7lbapi.SourceStatus { return s.tracker.Status() }

// Errors implements source.Source.
func (s *Source) Errors() map[string]uint64 { return s.tracker.Errors() }

// Synced reports whether the pool's existence is known: etcd was read,
// or a disk copy was loaded.
func (s *Source) Synced() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.known
}

// Pool returns the document in force; ok is false when the pool does not
// exist. fromDisk is true while it is the disk copy (etcd not read yet).
func (s *Source) Pool() (p l7lbapi.Pool, ok, fromDisk bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.pool == nil {
		return l7lbapi.Pool{}, false, s.fromDisk
	}
	return *s.pool, true, s.fromDisk
}

// Problem says why the stored document is not in force ("" when it is).
func (s *Source) Problem() string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.problem
}

// changed takes what etcd holds for the pool.
func (s *Source) changed() {
	s.tracker.SyncedAt(s.mirror.LastReset())
	v, exists := s.mirror.Get(cluster.PoolKey(s.name))
	s.mu.Lock()
	before, beforeOK := s.pool, s.pool != nil
	switch {
	case !exists:
		s.pool, s.problem = nil, ""
	case v.err != nil:
		// Keep the last good document in force.
		s.problem = fmt.Sprintf("the stored document does not validate, serving the last good one: %v", v.err)
	default:
		p := v.pool
		s.pool, s.problem = &p, ""
	}
	s.known, s.fromDisk = true, false
	now, nowOK := s.pool, s.pool != nil
	problem := s.problem
	s.mu.Unlock()
	if problem != "" {
		s.tracker.Failed(errInvalid, fmt.Errorf("%s", problem))
		s.log.Error("pool document invalid", "err", problem)
	}
	same := beforeOK == nowOK && (!nowOK || equal(*before, *now))
	if !same {
		s.saveDisk(now)
		if s.OnChange != nil {
			s.OnChange()
		}
	}
}

func equal(a, b l7lbapi.Pool) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// loadDisk takes the disk copy, if any, as the document in force.
func (s *Source) loadDisk() {
	data, err := os.ReadFile(s.file)
	if os.IsNotExist(err) {
		return
	}
	if err == nil {
		var p l7lbapi.Pool
		if p, _, err = l7lbapi.ParsePool(data); err == nil && p.Name == s.name {
			s.pool, s.fromDisk, s.known = &p, true, true
			s.log.Info("pool loaded from the disk copy until etcd answers", "file", s.file)
			return
		}
		if err == nil {
			err = fmt.Errorf("it holds pool %q", p.Name)
		}
	}
	s.tracker.Failed(errDisk, fmt.Errorf("disk copy %s ignored: %w", s.file, err))
	s.log.Warn("pool disk copy ignored", "file", s.file, "err", err)
}

// saveDisk writes the document in force (nil: removes the copy), through
// a temporary file renamed over the old one.
func (s *Source) saveDisk(p *l7lbapi.Pool) {
	if s.file == "" {
		return
	}
	var err error
	if p == nil {
		err = os.Remove(s.file)
		if os.IsNotExist(err) {
			err = nil
		}
	} else {
		data, _ := json.MarshalIndent(p, "", "  ")
		err = WriteFileAtomic(s.file, append(data, '\n'))
	}
	if err != nil {
		s.tracker.Failed(errDisk, err)
		s.log.Warn("pool disk copy not written", "file", s.file, "err", err)
	}
}

// WriteFileAtomic writes data to path through a synced temporary file
// renamed over it, so a crash leaves the old file or the new one.
func WriteFileAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
