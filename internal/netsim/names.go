package netsim

import (
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
)

// Naming and addressing constants of the simulated cluster.
const (
	// NSPrefix starts every netns name that netsim creates.
	NSPrefix = "dcnet-"
	// BridgeName is the underlay switch inside the fabric netns.
	BridgeName = "fabric0"
	// UnderlayDev is the underlay interface inside every node netns.
	UnderlayDev = "eth0"
	// NetnsDir is where `ip netns` keeps its named namespaces.
	NetnsDir = "/run/netns"

	fabricNodeName  = "fabric"
	outsideNodeName = "outside"
	outsideVeth     = "vout"
	maxPrefixLen    = 16
	maxNameLen      = 32
	maxIfNameLen    = 15 // IFNAMSIZ - 1
	maxNodeIndex    = 65534
)

// Underlay addressing: nodes count up from 198.18.0.1, the outside host sits
// at the top of the /15, far from any node.
var (
	UnderlayPrefix = netip.MustParsePrefix("198.18.0.0/15")
	OutsideIP      = netip.MustParseAddr("198.19.255.254")
)

var (
	prefixRE = regexp.MustCompile(`^[a-z0-9]+$`)
	nameRE   = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)
)

// ValidatePrefix reports whether prefix can name a fabric: lower-case letters
// and digits only (no dash, so that "dcnet-<prefix>-" never matches another
// prefix's namespaces), 1 to 16 characters.
func ValidatePrefix(prefix string) error {
	if len(prefix) == 0 || len(prefix) > maxPrefixLen || !prefixRE.MatchString(prefix) {
		return fmt.Errorf("fabric prefix %q invalid: want 1 to %d characters of [a-z0-9]", prefix, maxPrefixLen)
	}
	return nil
}

// ValidateName reports whether name can name a node or a container:
// [a-z0-9] followed by [a-z0-9_-], at most 32 characters.
func ValidateName(name string) error {
	if len(name) == 0 || len(name) > maxNameLen || !nameRE.MatchString(name) {
		return fmt.Errorf("name %q invalid: want 1 to %d characters of [a-z0-9_-], starting with a letter or digit", name, maxNameLen)
	}
	return nil
}

// StaleMatch returns the netns name prefix shared by everything a fabric with
// this prefix creates: "dcnet-<prefix>-".
func StaleMatch(prefix string) string { return NSPrefix + prefix + "-" }

// FabricNSName returns the fabric's netns name: "dcnet-<prefix>-fabric".
func FabricNSName(prefix string) string { return StaleMatch(prefix) + fabricNodeName }

// NodeNSName returns a node's netns name: "dcnet-<prefix>-<node>".
func NodeNSName(prefix, node string) string { return StaleMatch(prefix) + node }

// ContainerNSName returns a container's netns name:
// "dcnet-<prefix>-<node>-<container>".
func ContainerNSName(prefix, node, container string) string {
	return StaleMatch(prefix) + node + "-" + container
}

// NSPath returns the bind-mount path of a named netns.
func NSPath(nsName string) string { return NetnsDir + "/" + nsName }

// fabricVethName names the fabric-side end of node index's veth pair, unique
// within the fabric netns and within the interface name limit.
func fabricVethName(index int) string {
	name := "vn" + strconv.Itoa(index)
	if len(name) > maxIfNameLen {
		panic("netsim: veth name too long: " + name)
	}
	return name
}

// NodeUnderlayIP returns node index's underlay address, 198.18.0.0 + index.
func NodeUnderlayIP(index int) (netip.Addr, error) {
	if index < 1 || index > maxNodeIndex {
		return netip.Addr{}, fmt.Errorf("node index %d out of range [1, %d]", index, maxNodeIndex)
	}
	a := UnderlayPrefix.Addr().As4()
	a[2] = byte(index >> 8)
	a[3] = byte(index)
	return netip.AddrFrom4(a), nil
}

// reservedName reports node names that would collide with the fabric's own
// namespaces.
func reservedName(name string) bool {
	return name == fabricNodeName || name == outsideNodeName
}
