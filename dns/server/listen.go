package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// tcpIdleTimeout bounds how long a TCP client may keep a connection idle.
const tcpIdleTimeout = 8 * time.Second

// Run serves h on UDP and TCP at every address ("ip:port") until ctx ends,
// then shuts the listeners down. It returns once every listener is bound
// (ready is called then, if not nil) and stopped; a bind failure stops the
// others and is returned.
func Run(ctx context.Context, addrs []string, h dns.Handler, ready func()) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var servers []*dns.Server
	for _, a := range addrs {
		pc, err := net.ListenPacket("udp", a)
		if err != nil {
			shutdown(servers)
			return fmt.Errorf("listen udp %s: %w", a, err)
		}
		servers = append(servers, &dns.Server{PacketConn: pc, Handler: h})
		l, err := net.Listen("tcp", a)
		if err != nil {
			shutdown(servers)
			return fmt.Errorf("listen tcp %s: %w", a, err)
		}
		servers = append(servers, &dns.Server{Listener: l, Handler: h, IdleTimeout: func() time.Duration { return tcpIdleTimeout }})
	}
	errs := make(chan error, len(servers))
	var wg, started sync.WaitGroup
	for _, s := range servers {
		wg.Add(1)
		started.Add(1)
		var once sync.Once
		s.NotifyStartedFunc = func() { once.Do(started.Done) }
		go func() {
			defer wg.Done()
			if err := s.ActivateAndServe(); err != nil {
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

func shutdown(servers []*dns.Server) {
	for _, s := range servers {
		if err := s.Shutdown(); err != nil {
			// Not started yet: close the socket directly.
			if s.PacketConn != nil {
				s.PacketConn.Close()
			}
			if s.Listener != nil {
				s.Listener.Close()
			}
		}
	}
}
