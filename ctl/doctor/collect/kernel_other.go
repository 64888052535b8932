//go:build !linux

package collect

import (
	"errors"

	"github.com/dcnet/dcnet/ctl/doctor"
	"github.com/dcnet/dcnet/overlayd/datapath"
)

var errNotLinux = errors.New("reading the kernel needs Linux")

// Link implements doctor.Kernel: only on Linux.
func (k *Kernel) Link(string) (*doctor.Link, error) { return nil, errNotLinux }

// PeerState implements doctor.Kernel: only on Linux.
func (k *Kernel) PeerState(string) (datapath.PeerState, error) {
	return datapath.PeerState{}, errNotLinux
}
