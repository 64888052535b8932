package netsim

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// Node is a simulated host: a netns with eth0 on the fabric. The outside host
// is a Node too, with Index 0.
type Node struct {
	Namespace
	// Name is the node's short name, as given to AddNode.
	Name string
	// Index is the node's number from 1 (0 for the outside host).
	Index int
	// UnderlayIP is eth0's address.
	UnderlayIP netip.Addr
	// UnderlayCIDR is eth0's address with its /15 prefix length.
	UnderlayCIDR netip.Prefix

	fabric     *Fabric
	containers map[string]*Container // guarded by fabric.mu
}

// Container is an empty container netns on a node, with only lo up; a CNI
// plugin or the test adds its interfaces.
type Container struct {
	Namespace
	// Name is the container's short name, as given to AddContainer.
	Name string
	// Node is the node the container runs on.
	Node *Node
}

// Fabric returns the fabric the node is plugged into.
func (n *Node) Fabric() *Fabric { return n.fabric }

// AddContainer creates container name on the node: netns
// "dcnet-<prefix>-<node>-<name>" with lo up. The fabric's Close removes it.
func (n *Node) AddContainer(name string) (*Container, error) {
	if err := ValidateName(name); err != nil {
		return nil, err
	}
	f := n.fabric
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.usableLocked(); err != nil {
		return nil, err
	}
	if _, ok := n.containers[name]; ok {
		return nil, fmt.Errorf("add container %s on node %s: already exists", name, n.Name)
	}
	c := &Container{
		Namespace: newNamespace(ContainerNSName(f.Prefix, n.Name, name)),
		Name:      name,
		Node:      n,
	}
	if err := f.addNetnsLocked(c.NSName); err != nil {
		return nil, fmt.Errorf("add container %s on node %s: %w", name, n.Name, err)
	}
	n.containers[name] = c
	return c, nil
}

// Containers returns the node's containers that have not been deleted,
// sorted by name.
func (n *Node) Containers() []*Container {
	n.fabric.mu.Lock()
	defer n.fabric.mu.Unlock()
	out := make([]*Container, 0, len(n.containers))
	for _, c := range n.containers {
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b *Container) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Delete removes the container's netns now, with every interface in it (the
// host end of a veth goes with it). Safe to call repeatedly; the name can be
// reused afterwards.
func (c *Container) Delete() error {
	f := c.Node.fabric
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := delNetns(c.NSName); err != nil {
		return fmt.Errorf("delete container %s on node %s: %w", c.Name, c.Node.Name, err)
	}
	if c.Node.containers[c.Name] == c {
		delete(c.Node.containers, c.Name)
	}
	return nil
}
