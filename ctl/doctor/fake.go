package doctor

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/dcnet/dcnet/dns/dnsapi"
	"github.com/dcnet/dcnet/l4lb/l4lbapi"
	"github.com/dcnet/dcnet/overlayd/api"
	"github.com/dcnet/dcnet/overlayd/datapath"
)

var (
	_ OverlaydAPI = (*FakeOverlayd)(nil)
	_ Kernel      = (*FakeKernel)(nil)
	_ Store       = (*FakeStore)(nil)
	_ L4LBAPI     = (*FakeL4LB)(nil)
	_ DNSAPI      = (*FakeDNS)(nil)
)

// FakeOverlayd answers from its fields; Err fails every call.
type FakeOverlayd struct {
	St    api.Status
	Ps    []api.Peer
	Atts  []api.Attachment
	Err   error
	Calls int
}

// Status implements OverlaydAPI.
func (f *FakeOverlayd) Status(context.Context) (api.Status, error) { f.Calls++; return f.St, f.Err }

// Peers implements OverlaydAPI.
func (f *FakeOverlayd) Peers(context.Context) ([]api.Peer, error) { f.Calls++; return f.Ps, f.Err }

// Attachments implements OverlaydAPI.
func (f *FakeOverlayd) Attachments(context.Context) ([]api.Attachment, error) {
	f.Calls++
	return f.Atts, f.Err
}

// FakeKernel answers from its fields: Links by name (absent: no such
// device), Peers per VTEP, Tables per family (absent: no table).
type FakeKernel struct {
	Links  map[string]Link
	Peers  map[string]datapath.PeerState
	Tables map[string]NFTTable
	// NFTErr fails NFTTable (nft not installed, say).
	NFTErr error
}

// Link implements Kernel.
func (k *FakeKernel) Link(name string) (*Link, error) {
	if l, ok := k.Links[name]; ok {
		return &l, nil
	}
	return nil, nil
}

// PeerState implements Kernel.
func (k *FakeKernel) PeerState(dev string) (datapath.PeerState, error) {
	if _, ok := k.Links[dev]; !ok {
		return datapath.PeerState{}, fmt.Errorf("link %s not found", dev)
	}
	return k.Peers[dev], nil
}

// NFTTable implements Kernel.
func (k *FakeKernel) NFTTable(family string) (NFTTable, error) {
	if k.NFTErr != nil {
		return NFTTable{}, k.NFTErr
	}
	if t, ok := k.Tables[family]; ok {
		return t, nil
	}
	return NFTTable{Family: family}, nil
}

// FakeStore is a store of KVs by key; Err fails every call.
type FakeStore struct {
	KVs map[string]KV
	Err error
}

// Get implements Store.
func (s *FakeStore) Get(_ context.Context, key string) (*KV, error) {
	if s.Err != nil {
		return nil, s.Err
	}
	if kv, ok := s.KVs[key]; ok {
		return &kv, nil
	}
	return nil, nil
}

// List implements Store.
func (s *FakeStore) List(_ context.Context, prefix string) ([]KV, error) {
	if s.Err != nil {
		return nil, s.Err
	}
	var out []KV
	for k, kv := range s.KVs {
		if strings.HasPrefix(k, prefix) {
			out = append(out, kv)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

// Put stores value at key under lease.
func (s *FakeStore) Put(key, value string, lease int64) {
	if s.KVs == nil {
		s.KVs = map[string]KV{}
	}
	s.KVs[key] = KV{Key: key, Value: []byte(value), Lease: lease}
}

// Close implements Store.
func (s *FakeStore) Close() error { return nil }

// String prints the keys with their leases and values, one a line.
func (s *FakeStore) String() string {
	kvs, _ := (&FakeStore{KVs: s.KVs}).List(context.Background(), "")
	var b strings.Builder
	for _, kv := range kvs {
		fmt.Fprintf(&b, "%s lease=%x %s\n", kv.Key, kv.Lease, kv.Value)
	}
	return b.String()
}

// FakeL4LB answers Details with the VIPs V and the refused IP VIPs R, or
// Err.
type FakeL4LB struct {
	V   []l4lbapi.VIPInfo
	R   []l4lbapi.Refused
	Err error
}

// Details implements L4LBAPI.
func (f *FakeL4LB) Details(context.Context) (l4lbapi.Details, error) {
	return l4lbapi.Details{VIPs: f.V, Refused: f.R}, f.Err
}

// FakeDNS answers Records (or Err) and, per server address, the
// addresses of ready.spartan (a missing server times out).
type FakeDNS struct {
	Recs    []dnsapi.Record
	Err     error
	Answers map[string][]string
}

// Records implements DNSAPI.
func (f *FakeDNS) Records(context.Context) ([]dnsapi.Record, error) { return f.Recs, f.Err }

// Ready implements DNSAPI.
func (f *FakeDNS) Ready(_ context.Context, addr string) Answer {
	as, ok := f.Answers[addr]
	if !ok {
		return Answer{Server: addr, Err: "i/o timeout"}
	}
	return Answer{Server: addr, Addrs: as}
}
