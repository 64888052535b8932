package netsim

import (
	"io"
	"net"
	"testing"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"
)

// ServeName listens on TCP addr (":80", say) inside n and answers every
// connection with name, then closes it: a backend that says who it is. The
// listener lives in n (it is opened there) and closes when t ends.
func ServeName(t testing.TB, n Namespace, addr, name string) {
	t.Helper()
	ln, err := n.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen on %s in %s: %v", addr, n.NSName, err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			io.WriteString(conn, name)
			conn.Close()
		}
	}()
}

// DialCount makes count new TCP connections from n to addr, reads each
// answer to the end and counts the answers (ServeName's names). Each
// connection may take up to timeout.
func DialCount(n Namespace, count int, addr string, timeout time.Duration) (map[string]int, error) {
	counts := map[string]int{}
	err := n.Do(func(ns.NetNS) error {
		for range count {
			conn, err := net.DialTimeout("tcp", addr, timeout)
			if err != nil {
				return err
			}
			conn.SetDeadline(time.Now().Add(timeout))
			b, err := io.ReadAll(conn)
			conn.Close()
			if err != nil {
				return err
			}
			counts[string(b)]++
		}
		return nil
	})
	return counts, err
}

// ServeUDPName answers every datagram on UDP addr inside n with name: the
// UDP twin of ServeName. The socket closes when t ends.
func ServeUDPName(t testing.TB, n Namespace, addr, name string) {
	t.Helper()
	var pc net.PacketConn
	if err := n.Do(func(ns.NetNS) error {
		var err error
		pc, err = net.ListenPacket("udp", addr)
		return err
	}); err != nil {
		t.Fatalf("listen udp %s in %s: %v", addr, n.NSName, err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 512)
		for {
			_, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			pc.WriteTo([]byte(name), from)
		}
	}()
}

// DialCountUDP sends count datagrams from n to addr, each from a new socket
// (a new flow for conntrack), and counts the answers (ServeUDPName's
// names): the UDP twin of DialCount.
func DialCountUDP(n Namespace, count int, addr string, timeout time.Duration) (map[string]int, error) {
	counts := map[string]int{}
	err := n.Do(func(ns.NetNS) error {
		buf := make([]byte, 512)
		for range count {
			conn, err := net.DialTimeout("udp", addr, timeout)
			if err != nil {
				return err
			}
			conn.SetDeadline(time.Now().Add(timeout))
			_, err = conn.Write([]byte("?"))
			var k int
			if err == nil {
				k, err = conn.Read(buf)
			}
			conn.Close()
			if err != nil {
				return err
			}
			counts[string(buf[:k])]++
		}
		return nil
	})
	return counts, err
}
