package netsim

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// LockDir holds one flock file per fabric prefix.
const LockDir = "/run/dcnet-netsim"

// Fabric is the underlay of a simulated cluster: a netns holding the bridge
// fabric0, with nodes and the outside host plugged into it. Its methods are
// safe for concurrent use.
type Fabric struct {
	Namespace
	// Prefix keeps this fabric's names apart from other fabrics'.
	Prefix string

	mu        sync.Mutex
	lock      *os.File
	nodes     []*Node
	outside   *Node
	names     map[string]bool
	nextIndex int
	undo      []undoStep
	closed    bool
}

// undoStep removes one thing that exists; it tolerates the thing being gone.
type undoStep struct {
	what string
	fn   func() error
}

// NewFabric builds a fabric for a test and removes it, and everything added
// to it, in t.Cleanup. It fails the test if the fabric cannot be built.
// Call Privileged first.
func NewFabric(t testing.TB, prefix string) *Fabric {
	t.Helper()
	f, err := NewFabricNoT(prefix)
	if err != nil {
		t.Fatalf("netsim: %v", err)
	}
	t.Cleanup(func() {
		if err := f.Close(); err != nil {
			t.Errorf("netsim: %v", err)
		}
	})
	return f
}

// NewFabricNoT builds a fabric for code that is not a test (benchmarks, the
// demo tool); the caller must Close it. Namespaces left behind by a crashed
// earlier run of the same prefix are removed first; a prefix in use by a live
// fabric is an error.
func NewFabricNoT(prefix string) (*Fabric, error) {
	if err := ValidatePrefix(prefix); err != nil {
		return nil, err
	}
	lock, err := lockPrefix(prefix)
	if err != nil {
		return nil, err
	}
	f := &Fabric{
		Namespace: newNamespace(FabricNSName(prefix)),
		Prefix:    prefix,
		lock:      lock,
		names:     map[string]bool{},
		nextIndex: 1,
	}
	if err := removeStale(prefix); err != nil {
		return nil, errors.Join(err, f.Close())
	}
	if err := f.build(); err != nil {
		return nil, errors.Join(fmt.Errorf("build fabric %s: %w", prefix, err), f.Close())
	}
	return f, nil
}

func (f *Fabric) build() error {
	if err := f.addNetnsLocked(f.NSName); err != nil {
		return err
	}
	if err := runIP("-n", f.NSName, "link", "add", BridgeName, "type", "bridge",
		"stp_state", "0", "mcast_snooping", "0"); err != nil {
		return err
	}
	return runIP("-n", f.NSName, "link", "set", BridgeName, "up")
}

// AddNode creates node name: its netns, the veth pair to fabric0 with eth0
// at 198.18.0.N/15 inside the node, lo and eth0 up. On failure nothing of
// the node is left.
func (f *Fabric) AddNode(name string) (*Node, error) {
	if err := ValidateName(name); err != nil {
		return nil, err
	}
	if reservedName(name) {
		return nil, fmt.Errorf("add node %s: name is reserved", name)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.usableLocked(); err != nil {
		return nil, err
	}
	if f.names[name] {
		return nil, fmt.Errorf("add node %s: already exists", name)
	}
	ip, err := NodeUnderlayIP(f.nextIndex)
	if err != nil {
		return nil, fmt.Errorf("add node %s: %w", name, err)
	}
	n := f.newNode(name, f.nextIndex, ip)
	if err := f.plugLocked(n, fabricVethName(n.Index)); err != nil {
		return nil, fmt.Errorf("add node %s: %w", name, err)
	}
	f.nextIndex++
	f.names[name] = true
	f.nodes = append(f.nodes, n)
	return n, nil
}

// AddOutside creates the outside host, "the internet": a netns on fabric0
// with eth0 at 198.19.255.254/15 and no route back into any overlay, so a
// reply reaches a container only if its node masqueraded the request.
func (f *Fabric) AddOutside() (*Node, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.usableLocked(); err != nil {
		return nil, err
	}
	if f.outside != nil {
		return nil, errors.New("add outside host: already exists")
	}
	n := f.newNode(outsideNodeName, 0, OutsideIP)
	if err := f.plugLocked(n, outsideVeth); err != nil {
		return nil, fmt.Errorf("add outside host: %w", err)
	}
	f.outside = n
	return n, nil
}

// Nodes returns the nodes in the order they were added (not the outside
// host).
func (f *Fabric) Nodes() []*Node {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*Node(nil), f.nodes...)
}

// Outside returns the outside host, or nil before AddOutside.
func (f *Fabric) Outside() *Node {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.outside
}

// Close removes every namespace and link of the fabric in reverse order of
// creation, then releases the prefix. It tries every step even after one
// fails and reports them all. Safe to call repeatedly.
func (f *Fabric) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil
	}
	f.closed = true
	err := f.rollbackLocked(0)
	if f.lock != nil {
		f.lock.Close() // closing the descriptor releases the flock
		f.lock = nil
	}
	if err != nil {
		return fmt.Errorf("close fabric %s: %w", f.Prefix, err)
	}
	return nil
}

func (f *Fabric) newNode(name string, index int, ip netip.Addr) *Node {
	return &Node{
		Namespace:    newNamespace(NodeNSName(f.Prefix, name)),
		Name:         name,
		Index:        index,
		UnderlayIP:   ip,
		UnderlayCIDR: netip.PrefixFrom(ip, UnderlayPrefix.Bits()),
		fabric:       f,
		containers:   map[string]*Container{},
	}
}

// plugLocked creates n's netns and its veth pair to fabric0, rolling back
// what it made on failure.
func (f *Fabric) plugLocked(n *Node, veth string) (err error) {
	mark := len(f.undo)
	defer func() {
		if err != nil {
			err = errors.Join(err, f.rollbackLocked(mark))
		}
	}()
	if err := f.addNetnsLocked(n.NSName); err != nil {
		return err
	}
	// Made from inside the fabric netns, both ends are born in namespaces of
	// ours: nothing passes through the host namespace.
	if err := runIP("-n", f.NSName, "link", "add", veth, "type", "veth",
		"peer", "name", UnderlayDev, "netns", n.NSName); err != nil {
		return err
	}
	f.pushLocked("link "+veth+" in "+f.NSName, func() error { return delLink(f.NSName, veth) })
	steps := [][]string{
		{"-n", f.NSName, "link", "set", veth, "master", BridgeName, "up"},
		{"-n", n.NSName, "addr", "add", n.UnderlayCIDR.String(), "dev", UnderlayDev},
		{"-n", n.NSName, "link", "set", UnderlayDev, "up"},
	}
	for _, s := range steps {
		if err := runIP(s...); err != nil {
			return err
		}
	}
	return nil
}

// addNetnsLocked creates a netns with lo up and registers its removal.
func (f *Fabric) addNetnsLocked(nsName string) error {
	if err := addNetns(nsName); err != nil {
		// addNetns may fail after the netns exists (lo up); remove it then.
		if !strings.Contains(err.Error(), "already exists") {
			err = errors.Join(err, delNetns(nsName))
		}
		return err
	}
	f.pushLocked("netns "+nsName, func() error { return delNetns(nsName) })
	return nil
}

func (f *Fabric) pushLocked(what string, fn func() error) {
	f.undo = append(f.undo, undoStep{what: what, fn: fn})
}

// rollbackLocked runs the undo steps above mark, newest first.
func (f *Fabric) rollbackLocked(mark int) error {
	var errs []error
	for i := len(f.undo) - 1; i >= mark; i-- {
		if err := f.undo[i].fn(); err != nil {
			errs = append(errs, fmt.Errorf("remove %s: %w", f.undo[i].what, err))
		}
	}
	f.undo = f.undo[:mark]
	return errors.Join(errs...)
}

func (f *Fabric) usableLocked() error {
	if f.closed {
		return fmt.Errorf("fabric %s is closed", f.Prefix)
	}
	return nil
}

// lockPrefix takes the exclusive lock of prefix, or says who holds it.
func lockPrefix(prefix string) (*os.File, error) {
	if err := os.MkdirAll(LockDir, 0o755); err != nil {
		return nil, fmt.Errorf("lock fabric prefix %s: %w", prefix, err)
	}
	path := filepath.Join(LockDir, prefix+".lock")
	fh, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock fabric prefix %s: %w", prefix, err)
	}
	if err := syscall.Flock(int(fh.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		fh.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("fabric prefix %s is in use by a live fabric (lock %s held); pick another prefix", prefix, path)
		}
		return nil, fmt.Errorf("lock fabric prefix %s: flock %s: %w", prefix, path, err)
	}
	return fh, nil
}

// removeStale deletes namespaces of prefix left by a run that died before
// its cleanup. Only call it while holding the prefix lock.
func removeStale(prefix string) error {
	names, err := listNetns()
	if err != nil {
		return err
	}
	var errs []error
	for _, name := range names {
		if strings.HasPrefix(name, StaleMatch(prefix)) {
			errs = append(errs, delNetns(name))
		}
	}
	return errors.Join(errs...)
}
