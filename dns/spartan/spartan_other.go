//go:build !linux

package spartan

import (
	"errors"
	"net/netip"
)

// Ensure needs Linux's netlink: elsewhere it refuses.
func Ensure(link string, want []netip.Addr) ([]netip.Addr, error) {
	return nil, errors.New("spartan: listen addresses on a link need Linux")
}

// LinkAddrs needs Linux's netlink: elsewhere no link holds anything.
func LinkAddrs(link string) ([]netip.Addr, error) { return nil, nil }
