//go:build !linux

package server

import (
	"errors"
	"net"
)

// newRawBatch needs Linux's recvmmsg and sendmmsg: elsewhere the batch
// server uses golang.org/x/net's.
func newRawBatch(*net.UDPConn, bool) (batchConn, error) { return nil, errors.New("no raw batches") }
