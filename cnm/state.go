package cnm

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/dcnet/dcnet/overlayd/api"
	bolt "go.etcd.io/bbolt"
)

// StateFile is the name of the state database under --state-dir.
const StateFile = "cnm.db"

// openTimeout bounds the wait for the state's file lock (another dcnet-cnm).
var openTimeout = 5 * time.Second

// Buckets of the state database (see doc.go).
var (
	bucketNetworks  = []byte("networks")  // Docker network ID -> Network
	bucketEndpoints = []byte("endpoints") // Docker endpoint ID -> Endpoint
	bucketPools     = []byte("pools")     // pool ID -> Pool
	bucketAddresses = []byte("addresses") // overlay\x00address -> Address
)

// Network is a Docker network as the driver knows it.
type Network struct {
	ID      string            `json:"id"`
	Overlay string            `json:"overlay"`
	Labels  map[string]string `json:"labels,omitempty"`
	Pools   []string          `json:"pools,omitempty"` // node subnets in CIDR form
	// Adopted is set when the network was learnt from a CreateEndpoint
	// (dockerd never replays CreateNetwork), not from CreateNetwork.
	Adopted bool      `json:"adopted,omitempty"`
	Created time.Time `json:"created"`
}

// Endpoint is a Docker endpoint: its addresses' attachment and its veth.
type Endpoint struct {
	ID           string             `json:"id"`
	NetworkID    string             `json:"networkID"`
	Overlay      string             `json:"overlay"`
	Attachments  []api.AttachmentID `json:"attachments"`
	Addresses    []string           `json:"addresses"` // CIDR, as dockerd gave them
	MAC          string             `json:"mac,omitempty"`
	Labels       map[string]string  `json:"labels,omitempty"`
	PortMappings []api.PortMapping  `json:"portMappings,omitempty"`
	Joined       bool               `json:"joined,omitempty"`
	// Sandbox is the container's netns (Join's SandboxKey).
	Sandbox string `json:"sandbox,omitempty"`
	// Published is true while its host ports are mapped (dcnet-portmap).
	Published bool `json:"published,omitempty"`
	// Withdrawn is set once Leave withdrew the endpoint's records; a
	// later Join publishes them again.
	Withdrawn bool `json:"withdrawn,omitempty"`
}

// Pool is an IPAM pool handed to dockerd: an overlay's node subnet of one
// family, reference-counted over RequestPool/ReleasePool.
type Pool struct {
	ID      string `json:"id"`
	Overlay string `json:"overlay"`
	Subnet  string `json:"subnet"`
	V6      bool   `json:"v6,omitempty"`
	Refs    int    `json:"refs"`
}

// Address is one address handed out by RequestAddress and not yet released
// by ReleaseAddress.
type Address struct {
	Overlay    string           `json:"overlay"`
	Address    string           `json:"address"` // CIDR
	Attachment api.AttachmentID `json:"attachment"`
	Endpoint   string           `json:"endpoint,omitempty"` // set by CreateEndpoint, cleared by DeleteEndpoint
	Name       string           `json:"name,omitempty"`     // the container's name, from dockerd's IPAM options
	Since      time.Time        `json:"since"`              // last change of Endpoint
}

// State is the driver's durable state: a bbolt file, every write fsynced
// before the driver answers dockerd.
type State struct {
	db *bolt.DB
}

// OpenState opens (creating) the state database in dir.
func OpenState(dir string) (*State, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create state dir %s: %w", dir, err)
	}
	path := filepath.Join(dir, StateFile)
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: openTimeout})
	if err != nil {
		return nil, fmt.Errorf("open state %s (is another dcnet-cnm running?): %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketNetworks, bucketEndpoints, bucketPools, bucketAddresses} {
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
	return &State{db: db}, nil
}

// Close closes the database.
func (s *State) Close() error { return s.db.Close() }

func addressKey(overlay, addr string) string { return overlay + "\x00" + addr }

func get[T any](s *State, bucket []byte, key string) (T, bool, error) {
	var v T
	var found bool
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucket).Get([]byte(key))
		if b == nil {
			return nil
		}
		found = true
		return json.Unmarshal(b, &v)
	})
	if err != nil {
		return v, false, fmt.Errorf("read %s %q: %w", bucket, key, err)
	}
	return v, found, nil
}

func list[T any](s *State, bucket []byte) ([]T, error) {
	var out []T
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucket).ForEach(func(k, b []byte) error {
			var v T
			if err := json.Unmarshal(b, &v); err != nil {
				return fmt.Errorf("decode %q: %w", k, err)
			}
			out = append(out, v)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", bucket, err)
	}
	return out, nil
}

// change is one write of a State.Apply batch: a put (Value != nil) or a
// delete.
type change struct {
	bucket []byte
	key    string
	value  any
}

func put(bucket []byte, key string, v any) change { return change{bucket: bucket, key: key, value: v} }
func del(bucket []byte, key string) change        { return change{bucket: bucket, key: key} }

// apply writes changes in one transaction.
func (s *State) apply(changes ...change) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		for _, c := range changes {
			b := tx.Bucket(c.bucket)
			if c.value == nil {
				if err := b.Delete([]byte(c.key)); err != nil {
					return err
				}
				continue
			}
			data, err := json.Marshal(c.value)
			if err != nil {
				return err
			}
			if err := b.Put([]byte(c.key), data); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	return nil
}

// Network returns a network by Docker ID.
func (s *State) Network(id string) (Network, bool, error) { return get[Network](s, bucketNetworks, id) }

// Networks lists the known networks.
func (s *State) Networks() ([]Network, error) { return list[Network](s, bucketNetworks) }

// Endpoint returns an endpoint by Docker ID.
func (s *State) Endpoint(id string) (Endpoint, bool, error) {
	return get[Endpoint](s, bucketEndpoints, id)
}

// Endpoints lists the known endpoints.
func (s *State) Endpoints() ([]Endpoint, error) { return list[Endpoint](s, bucketEndpoints) }

// Pool returns a pool by ID.
func (s *State) Pool(id string) (Pool, bool, error) { return get[Pool](s, bucketPools, id) }

// Pools lists the pools.
func (s *State) Pools() ([]Pool, error) { return list[Pool](s, bucketPools) }

// Address returns the record of an address (CIDR) handed out on overlay.
func (s *State) Address(overlay, addr string) (Address, bool, error) {
	return get[Address](s, bucketAddresses, addressKey(overlay, addr))
}

// Addresses lists the addresses handed out.
func (s *State) Addresses() ([]Address, error) { return list[Address](s, bucketAddresses) }

// ForgetNetwork deletes a network and its endpoints from the state (for an
// operator whose dockerd deleted a network while dcnet-cnm was down).
func (s *State) ForgetNetwork(id string) (bool, error) {
	_, found, err := s.Network(id)
	if err != nil || !found {
		return false, err
	}
	eps, err := s.Endpoints()
	if err != nil {
		return false, err
	}
	changes := []change{del(bucketNetworks, id)}
	for _, ep := range eps {
		if ep.NetworkID == id {
			changes = append(changes, del(bucketEndpoints, ep.ID))
		}
	}
	return true, s.apply(changes...)
}

// errNotFound marks lookups of things dockerd should have created first.
var errNotFound = errors.New("not found")
