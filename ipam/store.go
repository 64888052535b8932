package ipam

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// Bucket names; see doc.go for their layout.
var (
	bucketAttachments = []byte("attachments")
	bucketAddresses   = []byte("addresses")
	bucketCursors     = []byte("cursors")
	bucketMeta        = []byte("meta")
	bucketIPAM        = []byte("ipam")
)

const (
	// lockTimeout is how long Open waits for another process to let go of
	// the state file.
	lockTimeout = 2 * time.Second
	// stateDirMode and stateFileMode are the permissions of what Open creates.
	stateDirMode  = 0o700
	stateFileMode = 0o600
	// maxBatch is the most ops the writer applies in one transaction.
	maxBatch = 64
	// layoutVersion is the version of the layout described in doc.go.
	layoutVersion = 1
)

// versionKey holds layoutVersion in bucketIPAM.
var versionKey = []byte("version")

// errClosed is returned by writes to a closed Store.
var errClosed = errors.New("ipam store is closed")

// Store is the durable, concurrency-safe node-local allocator. All its
// methods may be called from many goroutines at once.
type Store struct {
	db   *bolt.DB
	path string
	now  func() time.Time // the clock stamped on new attachments

	ops       chan *op      // unbuffered: a waiting sender is a queued op
	quit      chan struct{} // closed by Close to stop the writer
	stopped   chan struct{} // closed by the writer when it exits
	closeOnce sync.Once
	closeErr  error
	batches   atomic.Int64 // transactions the writer ran, for tests
}

// op is one write. prepare reads and decides without writing; it returns
// the writes to make (nil for none) or the op's error. write must only write,
// since a failure in it undoes the whole transaction. Both may run more than
// once (see doc.go), so they set their results afresh each time.
type op struct {
	prepare func(tx *bolt.Tx) (write func() error, err error)
	err     error
	done    chan struct{}
}

// Open opens the state file at path, creating it and its parent directory if
// missing, and starts the writer.
func Open(path string) (*Store, error) {
	return open(path, &bolt.Options{Timeout: lockTimeout})
}

// open is Open with bbolt options chosen by the caller, for tests.
func open(path string, options *bolt.Options) (*Store, error) {
	if err := os.MkdirAll(filepath.Dir(path), stateDirMode); err != nil {
		return nil, fmt.Errorf("create state directory of %s: %w", path, err)
	}
	db, err := bolt.Open(path, stateFileMode, options)
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("state file %s is in use by another process (is another overlayd running with the same --state-dir?)", path)
	}
	if err != nil {
		return nil, fmt.Errorf("open state file %s: %w", path, err)
	}
	if err := db.Update(initLayout); err != nil {
		db.Close()
		return nil, fmt.Errorf("state file %s: %w", path, err)
	}
	s := &Store{
		db:      db,
		path:    path,
		now:     time.Now,
		ops:     make(chan *op),
		quit:    make(chan struct{}),
		stopped: make(chan struct{}),
	}
	go s.writer()
	return s, nil
}

// initLayout creates the buckets and checks the layout version.
func initLayout(tx *bolt.Tx) error {
	for _, name := range [][]byte{bucketAttachments, bucketAddresses, bucketCursors, bucketMeta, bucketIPAM} {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return fmt.Errorf("create bucket %s: %w", name, err)
		}
	}
	b := tx.Bucket(bucketIPAM)
	want := strconv.Itoa(layoutVersion)
	switch got := b.Get(versionKey); {
	case got == nil:
		return b.Put(versionKey, []byte(want))
	case string(got) != want:
		return fmt.Errorf("layout version %q, this build understands %q", got, want)
	}
	return nil
}

// Close stops the writer, after it finished the batch at hand, and closes
// the file. Writes still waiting fail. Safe to call more than once.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		close(s.quit)
		<-s.stopped
		if err := s.db.Close(); err != nil {
			s.closeErr = fmt.Errorf("close state file %s: %w", s.path, err)
		}
	})
	return s.closeErr
}

// do hands o to the writer and waits for its outcome.
func (s *Store) do(o *op) error {
	o.done = make(chan struct{})
	select {
	case s.ops <- o:
	case <-s.quit:
		return errClosed
	}
	<-o.done
	return o.err
}

// writer applies queued ops in batches until Close.
func (s *Store) writer() {
	defer close(s.stopped)
	batch := make([]*op, 0, maxBatch)
	for {
		select {
		case o := <-s.ops:
			batch = append(batch[:0], o)
		case <-s.quit:
			return
		}
	drain:
		for len(batch) < maxBatch {
			select {
			case o := <-s.ops:
				batch = append(batch, o)
			default:
				break drain
			}
		}
		s.apply(batch)
		for i, o := range batch {
			close(o.done)
			batch[i] = nil
		}
	}
}

// apply runs batch in one transaction and sets each op's err. When a write
// fails it rolls back and runs every op on its own, so that only the op that
// caused the failure fails.
func (s *Store) apply(batch []*op) {
	var failed *op
	s.batches.Add(1)
	err := s.db.Update(func(tx *bolt.Tx) error {
		for _, o := range batch {
			write, err := o.prepare(tx)
			o.err = err
			if err != nil || write == nil {
				continue
			}
			if err := write(); err != nil {
				failed = o
				return err
			}
		}
		return nil
	})
	if err == nil {
		return
	}
	if failed != nil && len(batch) > 1 {
		for _, o := range batch {
			s.apply([]*op{o})
		}
		return
	}
	for _, o := range batch {
		switch {
		case o == failed:
			o.err = fmt.Errorf("write state file %s: %w", s.path, err)
		case o.err == nil:
			o.err = fmt.Errorf("commit state file %s: %w", s.path, err)
		}
	}
}
