package mesostest

import (
	"fmt"
	"net"

	"github.com/dcnet/dcnet/internal/netsim"
)

// Start serves on node's underlay address, port 5050, from a socket opened
// in node's netns; /master/state answers doc until the next Set.
func Start(node *netsim.Node, doc []byte) (*Master, error) {
	addr := net.JoinHostPort(node.UnderlayIP.String(), Port)
	ln, err := node.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("fake mesos master on %s: %w", node.Name, err)
	}
	return Serve(ln, doc), nil
}
