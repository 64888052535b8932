package clustersim

import (
	"testing"

	"github.com/dcnet/dcnet/internal/netsim"
)

// Owner runs processes and holds clients for the length of a test or a
// benchmark run, and stops and closes them at its end.
type Owner interface {
	// Start runs argv inside node's netns with its output in log; the
	// owner stops it by its PID at the end.
	Start(node *netsim.Node, log string, argv ...string) (*netsim.Process, error)
	// OnClose registers fn to run at the end, before the processes stop.
	OnClose(fn func() error)
}

// ForTest is the Owner of a test: processes are stopped, and clients
// closed, in t.Cleanup; a process that does not start fails the test.
func ForTest(t testing.TB) Owner { return testOwner{t} }

type testOwner struct{ t testing.TB }

func (o testOwner) Start(node *netsim.Node, log string, argv ...string) (*netsim.Process, error) {
	o.t.Helper()
	return netsim.StartProcessT(o.t, node, log, argv...), nil
}

func (o testOwner) OnClose(fn func() error) {
	o.t.Cleanup(func() {
		if err := fn(); err != nil {
			o.t.Errorf("clustersim: close: %v", err)
		}
	})
}
