package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"sync"
	"syscall"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/sys/unix"
)

// tcpIdleTimeout bounds how long a TCP client may keep a connection idle.
const tcpIdleTimeout = 8 * time.Second

// Options tune Run.
type Options struct {
	// Sockets is the number of UDP sockets and TCP listeners per address,
	// bound with SO_REUSEPORT so the kernel spreads clients over them, each
	// with its own reader; 0 (or less) means GOMAXPROCS, 1 one socket
	// without SO_REUSEPORT. dcnet-dns's --sockets has the same meaning.
	Sockets int
	// Fast, when set, answers cached forwarded questions in the UDP
	// readers (FastPath).
	Fast *FastPath
	// Gates, when it has an entry for a listen address (as given), serve
	// that address with the gate's handler instead (a RecursionGate), and
	// its UDP fast path only to the clients the gate allows (sockets bound
	// to a wildcard address get no fast path then).
	Gates map[string]Gate
}

// Gate is how a restricted listen address is served.
type Gate struct {
	// Handler answers every query of the address.
	Handler dns.Handler
	// Allow reports whether a client may get forwarded answers (from the
	// fast path too).
	Allow func(client net.Addr) bool
}

// Run serves h on UDP and TCP at every address ("ip:port") until ctx ends,
// with one socket per address; see RunWith.
func Run(ctx context.Context, addrs []string, h dns.Handler, ready func()) error {
	return RunWith(ctx, addrs, h, Options{Sockets: 1}, ready)
}

// sockets is the number of sockets per address Options asks for.
func (o Options) sockets() int {
	if o.Sockets <= 0 {
		return runtime.GOMAXPROCS(0)
	}
	return o.Sockets
}

// RunWith serves h on UDP and TCP at every address ("ip:port") until ctx
// ends, then shuts the listeners down. It returns once every listener is
// bound (ready is called then, if not nil) and stopped; a bind failure
// stops the others and is returned. UDP sockets bound to a specific
// address are served in batches (batchServer), others by dns.Server.
func RunWith(ctx context.Context, addrs []string, h dns.Handler, o Options, ready func()) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	servers, err := listen(addrs, h, o)
	if err != nil {
		return err
	}
	errs := make(chan error, len(servers))
	var wg, started sync.WaitGroup
	for _, s := range servers {
		wg.Add(1)
		started.Add(1)
		var once sync.Once
		go func() {
			defer wg.Done()
			if err := s.serve(func() { once.Do(started.Done) }); err != nil {
				errs <- err
				cancel()
			}
			once.Do(started.Done)
		}()
	}
	started.Wait()
	if ready != nil && ctx.Err() == nil {
		ready()
	}
	<-ctx.Done()
	shutdown(servers)
	wg.Wait()
	close(errs)
	var all []error
	for err := range errs {
		all = append(all, err)
	}
	return errors.Join(all...)
}

// runner is one listener: a dns.Server or a batchServer.
type runner interface {
	// serve serves until stop, calling started once it serves.
	serve(started func()) error
	stop()
}

type dnsRunner struct{ *dns.Server }

func (r dnsRunner) serve(started func()) error {
	r.NotifyStartedFunc = started
	return r.ActivateAndServe()
}

func (r dnsRunner) stop() {
	if err := r.Shutdown(); err != nil {
		// Not started yet: close the socket directly.
		if r.PacketConn != nil {
			r.PacketConn.Close()
		}
		if r.Listener != nil {
			r.Listener.Close()
		}
	}
}

type batchRunner struct{ *batchServer }

func (r batchRunner) serve(started func()) error { started(); return r.Serve() }
func (r batchRunner) stop()                      { r.Close() }

// listen binds o.Sockets UDP sockets and TCP listeners per address (the
// first of an address with port 0 picks the port the others share).
func listen(addrs []string, h dns.Handler, o Options) ([]runner, error) {
	n := o.sockets()
	lc := net.ListenConfig{}
	if n > 1 {
		lc.Control = reusePort
	}
	var servers []runner
	fail := func(err error) ([]runner, error) {
		shutdown(servers)
		return nil, err
	}
	for _, a := range addrs {
		udpAddr, tcpAddr := a, a
		h, fast := h, o.Fast
		var allow func(net.Addr) bool
		if g, ok := o.Gates[a]; ok {
			h, allow = g.Handler, g.Allow
		}
		for range n {
			pc, err := lc.ListenPacket(context.Background(), "udp", udpAddr)
			if err != nil {
				return fail(fmt.Errorf("listen udp %s: %w", a, err))
			}
			udpAddr = pc.LocalAddr().String()
			servers = append(servers, udpServer(pc, h, fast, allow))
			l, err := lc.Listen(context.Background(), "tcp", tcpAddr)
			if err != nil {
				return fail(fmt.Errorf("listen tcp %s: %w", a, err))
			}
			tcpAddr = l.Addr().String()
			servers = append(servers, dnsRunner{&dns.Server{Listener: l, Handler: h, IdleTimeout: func() time.Duration { return tcpIdleTimeout }}})
		}
	}
	return servers, nil
}

// udpServer is the server of one UDP socket: batched when it is bound to
// a specific address, else a dns.Server with the fast path in its reader.
// allow, when set, limits the fast path to the clients it allows.
func udpServer(pc net.PacketConn, h dns.Handler, fast *FastPath, allow func(net.Addr) bool) runner {
	if conn, ok := pc.(*net.UDPConn); ok {
		if a, ok := conn.LocalAddr().(*net.UDPAddr); ok && !a.IP.IsUnspecified() {
			s := newBatchServer(conn, h, fast)
			s.allow = allow
			return batchRunner{s}
		}
	}
	s := &dns.Server{PacketConn: pc, Handler: h}
	if fast != nil && allow == nil {
		s.DecorateReader = fast.Reader
	}
	return dnsRunner{s}
}

// reusePort sets SO_REUSEPORT on a socket before it is bound.
func reusePort(_, _ string, c syscall.RawConn) error {
	var serr error
	if err := c.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
	}); err != nil {
		return err
	}
	if serr != nil {
		return fmt.Errorf("set SO_REUSEPORT: %w", serr)
	}
	return nil
}

func shutdown(servers []runner) {
	for _, s := range servers {
		s.stop()
	}
}
