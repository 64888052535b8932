package server

import (
	"errors"
	"net"
	"syscall"
	"unsafe"

	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"
)

// rawBatch reads and writes datagram batches with recvmmsg and sendmmsg
// made as raw, non-blocking system calls inside the runtime poller's
// callbacks (syscall.RawConn.Read and Write): no entersyscall and
// exitsyscall around them, so the scheduler's monitor thread is not woken
// by every batch, and the goroutine waits in the poller only when the
// socket is empty (or full). At moderate rates that thread's wake-ups and
// the context switches they cost were half of the server's CPU time.
type rawBatch struct {
	rc  syscall.RawConn
	six bool // an IPv6 socket

	hdrs  [batchSize]mmsghdr
	iovs  [batchSize]unix.Iovec
	names [batchSize]unix.RawSockaddrInet6 // large enough for either family
}

// mmsghdr is struct mmsghdr: a msghdr and the length the kernel moved.
type mmsghdr struct {
	hdr unix.Msghdr
	n   uint32
}

var _ batchConn = (*rawBatch)(nil)

// newRawBatch returns the raw batch reader and writer of conn.
func newRawBatch(conn *net.UDPConn, six bool) (batchConn, error) {
	rc, err := conn.SyscallConn()
	if err != nil {
		return nil, err
	}
	return &rawBatch{rc: rc, six: six}, nil
}

// ReadBatch implements batchConn: it fills up to len(ms) messages (each
// with one buffer), waiting for the first.
func (b *rawBatch) ReadBatch(ms []ipv4.Message, _ int) (int, error) {
	n := min(len(ms), batchSize)
	for i := range n {
		buf := ms[i].Buffers[0]
		b.iovs[i] = unix.Iovec{Base: unsafe.SliceData(buf)}
		b.iovs[i].SetLen(len(buf))
		b.hdrs[i] = mmsghdr{hdr: unix.Msghdr{Name: (*byte)(unsafe.Pointer(&b.names[i])), Namelen: uint32(unsafe.Sizeof(b.names[i])), Iov: &b.iovs[i]}}
		b.hdrs[i].hdr.SetIovlen(1)
	}
	var got int
	var errno syscall.Errno
	err := b.rc.Read(func(fd uintptr) bool {
		r, _, e := unix.RawSyscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&b.hdrs[0])), uintptr(n), unix.MSG_DONTWAIT, 0, 0)
		got, errno = int(r), e
		return errno != unix.EAGAIN && errno != unix.EWOULDBLOCK
	})
	if err != nil {
		return 0, err
	}
	if errno != 0 {
		return 0, errno
	}
	for i := range got {
		h := &b.hdrs[i]
		ms[i].N, ms[i].NN, ms[i].Flags = int(h.n), 0, int(h.hdr.Flags)
		ms[i].Addr = b.addr(i, h.hdr.Namelen)
	}
	return got, nil
}

// addr is the UDP address of message i's name.
func (b *rawBatch) addr(i int, namelen uint32) net.Addr {
	name := &b.names[i]
	switch name.Family {
	case unix.AF_INET:
		sa := (*unix.RawSockaddrInet4)(unsafe.Pointer(name))
		p := (*[2]byte)(unsafe.Pointer(&sa.Port))
		return &net.UDPAddr{IP: net.IPv4(sa.Addr[0], sa.Addr[1], sa.Addr[2], sa.Addr[3]), Port: int(p[0])<<8 | int(p[1])}
	case unix.AF_INET6:
		if namelen < uint32(unsafe.Sizeof(*name)) {
			return nil
		}
		p := (*[2]byte)(unsafe.Pointer(&name.Port))
		ip := make(net.IP, net.IPv6len)
		copy(ip, name.Addr[:])
		a := &net.UDPAddr{IP: ip, Port: int(p[0])<<8 | int(p[1])}
		if name.Scope_id != 0 {
			if ifi, err := net.InterfaceByIndex(int(name.Scope_id)); err == nil {
				a.Zone = ifi.Name
			}
		}
		return a
	}
	return nil
}

// WriteBatch implements batchConn: it sends up to len(ms) messages, each
// one buffer to its *net.UDPAddr, waiting while the socket is full, and
// returns how many went.
func (b *rawBatch) WriteBatch(ms []ipv4.Message, _ int) (int, error) {
	n := min(len(ms), batchSize)
	for i := range n {
		buf := ms[i].Buffers[0]
		b.iovs[i] = unix.Iovec{Base: unsafe.SliceData(buf)}
		b.iovs[i].SetLen(len(buf))
		namelen, err := b.setName(i, ms[i].Addr)
		if err != nil {
			return i, err
		}
		b.hdrs[i] = mmsghdr{hdr: unix.Msghdr{Name: (*byte)(unsafe.Pointer(&b.names[i])), Namelen: namelen, Iov: &b.iovs[i]}}
		b.hdrs[i].hdr.SetIovlen(1)
	}
	var sent int
	var errno syscall.Errno
	err := b.rc.Write(func(fd uintptr) bool {
		r, _, e := unix.RawSyscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&b.hdrs[0])), uintptr(n), unix.MSG_DONTWAIT, 0, 0)
		sent, errno = int(r), e
		return errno != unix.EAGAIN && errno != unix.EWOULDBLOCK
	})
	if err != nil {
		return 0, err
	}
	if errno != 0 {
		return 0, errno
	}
	return sent, nil
}

// errAddr is a destination that is not a UDP address of the socket's
// family.
var errAddr = errors.New("batch write: not a UDP address of the socket's family")

// setName writes addr into name i and returns its length.
func (b *rawBatch) setName(i int, addr net.Addr) (uint32, error) {
	ua, ok := addr.(*net.UDPAddr)
	if !ok {
		return 0, errAddr
	}
	name := &b.names[i]
	if !b.six {
		ip4 := ua.IP.To4()
		if ip4 == nil {
			return 0, errAddr
		}
		sa := (*unix.RawSockaddrInet4)(unsafe.Pointer(name))
		*sa = unix.RawSockaddrInet4{Family: unix.AF_INET}
		p := (*[2]byte)(unsafe.Pointer(&sa.Port))
		p[0], p[1] = byte(ua.Port>>8), byte(ua.Port)
		copy(sa.Addr[:], ip4)
		return uint32(unsafe.Sizeof(*sa)), nil
	}
	*name = unix.RawSockaddrInet6{Family: unix.AF_INET6}
	p := (*[2]byte)(unsafe.Pointer(&name.Port))
	p[0], p[1] = byte(ua.Port>>8), byte(ua.Port)
	copy(name.Addr[:], ua.IP.To16())
	if ua.Zone != "" {
		if ifi, err := net.InterfaceByName(ua.Zone); err == nil {
			name.Scope_id = uint32(ifi.Index)
		}
	}
	return uint32(unsafe.Sizeof(*name)), nil
}
