package portmap

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Durable state: one bbolt file in the state directory. Opening it takes an
// exclusive lock on the file, so plugin processes on the node take turns:
// a conflict check and the kernel change that follows it are atomic.
const (
	dbFile      = "portmap.db"
	lockTimeout = 30 * time.Second
	dirMode     = 0o700
	fileMode    = 0o600
)

// Buckets.
var (
	bucketRecords = []byte("records") // containerID/ifName -> Record
	bucketPorts   = []byte("ports")   // "tcp/8080" -> containerID/ifName
	bucketChains  = []byte("chains")  // chain name -> ChainSpec
)

// Record is one container interface's mappings, as ADD installed them.
type Record struct {
	ContainerID string       `json:"containerID"`
	IfName      string       `json:"ifName"`
	Config      string       `json:"config"` // the network config's name (GC scope)
	Chain       string       `json:"chain"`
	Mappings    []Mapping    `json:"mappings"`
	IPs         []netip.Addr `json:"ips"` // the container's addresses, at most one per family is used
	Created     time.Time    `json:"created"`
}

// Key is the record's key and its tag in the kernel.
func (r Record) Key() string { return RecordKey(r.ContainerID, r.IfName) }

// RecordKey is the key of a container interface's record.
func RecordKey(containerID, ifName string) string { return containerID + "/" + ifName }

// ChainSpec is one config chain: the devices whose traffic it leaves alone
// and whether it maps 127.0.0.1.
type ChainSpec struct {
	Name      string   `json:"name"`
	Excludes  []string `json:"excludes,omitempty"`
	Localhost bool     `json:"localhost,omitempty"`
	// Refs counts the records that use the chain (state only).
	Refs int `json:"refs"`
}

// Equal reports whether two specs make the same rules.
func (c ChainSpec) Equal(o ChainSpec) bool {
	return c.Name == o.Name && c.Localhost == o.Localhost && slices.Equal(c.Excludes, o.Excludes)
}

// Store is the open state database.
type Store struct {
	db *bolt.DB
}

// OpenStore opens (creating it if needed) the state in dir, waiting up to
// lockTimeout for another plugin process to finish with it.
func OpenStore(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, dirMode); err != nil {
		return nil, fmt.Errorf("state directory %s: %w", dir, err)
	}
	path := filepath.Join(dir, dbFile)
	db, err := bolt.Open(path, fileMode, &bolt.Options{Timeout: lockTimeout})
	if err != nil {
		return nil, fmt.Errorf("open state %s: %w", path, err)
	}
	ready := false
	_ = db.View(func(tx *bolt.Tx) error {
		ready = tx.Bucket(bucketRecords) != nil && tx.Bucket(bucketPorts) != nil && tx.Bucket(bucketChains) != nil
		return nil
	})
	if ready { // no write (and no fsync) just to open
		return &Store{db: db}, nil
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketRecords, bucketPorts, bucketChains} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("init state %s: %w", path, err)
	}
	return &Store{db: db}, nil
}

// Close releases the database and its lock.
func (s *Store) Close() error { return s.db.Close() }

// Update runs fn in a read-write transaction, committed (durably) when fn
// returns nil and rolled back otherwise.
func (s *Store) Update(fn func(*Tx) error) error {
	return s.db.Update(func(tx *bolt.Tx) error { return fn(&Tx{tx: tx}) })
}

// View runs fn in a read-only transaction.
func (s *Store) View(fn func(*Tx) error) error {
	return s.db.View(func(tx *bolt.Tx) error { return fn(&Tx{tx: tx}) })
}

// Tx is one transaction on the state.
type Tx struct {
	tx *bolt.Tx
}

// Record returns the record of key.
func (t *Tx) Record(key string) (Record, bool, error) {
	var r Record
	v := t.tx.Bucket(bucketRecords).Get([]byte(key))
	if v == nil {
		return r, false, nil
	}
	if err := json.Unmarshal(v, &r); err != nil {
		return r, false, fmt.Errorf("state record %s: %w", key, err)
	}
	return r, true, nil
}

// Holder returns the key of the record that holds port p.
func (t *Tx) Holder(p Port) (string, bool) {
	v := t.tx.Bucket(bucketPorts).Get([]byte(p.String()))
	return string(v), v != nil
}

// PutRecord stores r and claims its host ports, releasing the ports of the
// record it replaces that r no longer maps, and counts r in its chain's
// Refs (the chain's spec must be stored). It returns the chain the replaced
// record used when no record uses it any more. The caller checked
// conflicts.
func (t *Tx) PutRecord(r Record) (unused string, err error) {
	if _, ok, err := t.Chain(r.Chain); err != nil || !ok {
		return "", fmt.Errorf("state: record %s names chain %s, which has no spec (%v)", r.Key(), r.Chain, err)
	}
	spec, _, _ := t.Chain(r.Chain)
	if unused, err = t.DeleteRecord(r.Key()); err != nil {
		return "", err
	}
	if unused == r.Chain {
		unused, spec.Refs = "", 0
	} else if spec, _, err = t.Chain(r.Chain); err != nil {
		return "", err
	}
	spec.Refs++
	if err := t.PutChain(spec); err != nil {
		return "", err
	}
	v, err := json.Marshal(r)
	if err != nil {
		return "", err
	}
	if err := t.tx.Bucket(bucketRecords).Put([]byte(r.Key()), v); err != nil {
		return "", err
	}
	for _, m := range r.Mappings {
		if err := t.tx.Bucket(bucketPorts).Put([]byte(m.Host().String()), []byte(r.Key())); err != nil {
			return "", err
		}
	}
	return unused, nil
}

// DeleteRecord removes the record of key, frees its ports and uncounts it
// from its chain; it returns the chain's name when no record uses the
// chain any more (its spec is deleted too). A missing record is fine.
func (t *Tx) DeleteRecord(key string) (unused string, err error) {
	old, ok, err := t.Record(key)
	if err != nil || !ok {
		if err != nil { // an unreadable record goes too
			return "", t.tx.Bucket(bucketRecords).Delete([]byte(key))
		}
		return "", nil
	}
	ports := t.tx.Bucket(bucketPorts)
	for _, m := range old.Mappings {
		if h := ports.Get([]byte(m.Host().String())); string(h) == key {
			if err := ports.Delete([]byte(m.Host().String())); err != nil {
				return "", err
			}
		}
	}
	if err := t.tx.Bucket(bucketRecords).Delete([]byte(key)); err != nil {
		return "", err
	}
	c, ok, err := t.Chain(old.Chain)
	if err != nil || !ok {
		return "", err
	}
	if c.Refs--; c.Refs > 0 {
		return "", t.PutChain(c)
	}
	return c.Name, t.DeleteChain(c.Name)
}

// Empty reports whether no record is left.
func (t *Tx) Empty() bool {
	k, _ := t.tx.Bucket(bucketRecords).Cursor().First()
	return k == nil
}

// Records returns every record, sorted by key.
func (t *Tx) Records() ([]Record, error) {
	var out []Record
	err := t.tx.Bucket(bucketRecords).ForEach(func(k, v []byte) error {
		var r Record
		if err := json.Unmarshal(v, &r); err != nil {
			return fmt.Errorf("state record %s: %w", k, err)
		}
		out = append(out, r)
		return nil
	})
	return out, err
}

// Chains returns every chain spec, sorted by name.
func (t *Tx) Chains() ([]ChainSpec, error) {
	var out []ChainSpec
	err := t.tx.Bucket(bucketChains).ForEach(func(k, v []byte) error {
		var c ChainSpec
		if err := json.Unmarshal(v, &c); err != nil {
			return fmt.Errorf("state chain %s: %w", k, err)
		}
		out = append(out, c)
		return nil
	})
	return out, err
}

// Chain returns the spec of chain name.
func (t *Tx) Chain(name string) (ChainSpec, bool, error) {
	var c ChainSpec
	v := t.tx.Bucket(bucketChains).Get([]byte(name))
	if v == nil {
		return c, false, nil
	}
	err := json.Unmarshal(v, &c)
	return c, err == nil, err
}

// PutChain stores a chain spec.
func (t *Tx) PutChain(c ChainSpec) error {
	v, err := json.Marshal(c)
	if err != nil {
		return err
	}
	return t.tx.Bucket(bucketChains).Put([]byte(c.Name), v)
}

// DeleteChain removes a chain spec.
func (t *Tx) DeleteChain(name string) error {
	return t.tx.Bucket(bucketChains).Delete([]byte(name))
}

// EnsureChain stores spec (keeping the stored Refs) and reports whether
// the chain is new or its rules change.
func (t *Tx) EnsureChain(spec ChainSpec) (changed bool, err error) {
	old, ok, err := t.Chain(spec.Name)
	if err != nil {
		return false, err
	}
	if ok && old.Equal(spec) {
		return false, nil
	}
	spec.Refs = old.Refs
	return true, t.PutChain(spec)
}
