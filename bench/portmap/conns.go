package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"

	"github.com/dcnet/dcnet/internal/netsim"
)

// The server child: `<self> -serve <addr>` answers every connection with
// one byte and closes it.
const serveFlag = "-serve"

// Connection-rate run shape.
const (
	connWorkers = 4
	connSlices  = 32 // slices in ABBA blocks of four, half per path
	connSlice   = 400 * time.Millisecond
	connTimeout = 2 * time.Second
	ticksPerSec = 100 // USER_HZ of /proc/<pid>/stat
)

// serve is the server child's main.
func serve(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		go func() {
			c.Write([]byte{'x'})
			c.Close()
		}()
	}
}

// connResult is the new-connection rate of both paths.
type connResult struct {
	HostPort, Direct       float64 // connections per second
	Ratio                  float64 // median of the ABBA blocks' host-port/direct ratios
	Errors                 int
	GenCPU, ServerCPU      float64 // % of one CPU
	HostTarget, DirectAddr string
}

// connRate starts a server in a dcnet container with a host port and
// opens new connections from the client node to nodeIP:hostPort and to
// containerIP:80 in alternating slices (the two paths share the machine's
// moments).
func (e *env) connRate(ctx context.Context, bn *benchNode, c *netsim.Container, containerIP string, hostPort int) (connResult, error) {
	var r connResult
	self, err := os.Executable()
	if err != nil {
		return r, err
	}
	srv, err := e.Start(&netsim.Node{Namespace: c.Namespace, Name: c.Name}, filepath.Join(e.Tmp, "server.log"), self, serveFlag, ":80")
	if err != nil {
		return r, err
	}
	r.HostTarget = fmt.Sprintf("%s:%d", bn.UnderlayIP, hostPort)
	r.DirectAddr = containerIP + ":80"
	if _, err := e.Client.Run(ctx, "ip", "route", "replace", bn.Network.NodeSubnet, "via", bn.UnderlayIP.String()); err != nil {
		return r, err
	}
	// Each path dials from its own source address: a client port reused
	// across the paths would meet the other path's TIME_WAIT conntrack
	// entry at the container's address and port, and the translated SYN
	// would clash with it (and be dropped) — a cost of the measurement,
	// not of either path.
	if _, err := e.Client.Run(ctx, "ip", "addr", "add", directSource+"/15", "dev", "eth0"); err != nil {
		return r, err
	}
	if err := netsim.WaitFor(ctx, 10*time.Second, 50*time.Millisecond, func() error {
		_, err := dialOnce(e.Client.Namespace, r.HostTarget)
		return err
	}); err != nil {
		return r, fmt.Errorf("server behind host port %s: %w", r.HostTarget, err)
	}
	var hostN, directN int
	var hostT, directT time.Duration
	var ratios []float64
	cpu0, srv0 := selfCPU(), procCPU(srv.PID())
	wall := time.Now()
	// Blocks of four slices in ABBA order (host, direct, direct, host),
	// so that neither path always goes first; each block gives one ratio.
	for range connSlices / 4 {
		var blockHost, blockDirect float64
		for _, host := range []bool{true, false, false, true} {
			target := r.DirectAddr
			if host {
				target = r.HostTarget
			}
			n, errs, took := e.burst(target, host)
			r.Errors += errs
			rate := float64(n) / took.Seconds()
			if host {
				hostN, hostT, blockHost = hostN+n, hostT+took, blockHost+rate
			} else {
				directN, directT, blockDirect = directN+n, directT+took, blockDirect+rate
			}
		}
		if blockDirect > 0 {
			ratios = append(ratios, blockHost/blockDirect)
		}
	}
	secs := time.Since(wall).Seconds()
	r.GenCPU = 100 * (selfCPU() - cpu0) / secs
	r.ServerCPU = 100 * (procCPU(srv.PID()) - srv0) / secs
	r.HostPort = float64(hostN) / hostT.Seconds()
	r.Direct = float64(directN) / directT.Seconds()
	slices.Sort(ratios)
	if len(ratios) > 0 {
		r.Ratio = ratios[len(ratios)/2]
	}
	return r, nil
}

// directSource is the client's second address, the source of the direct
// path's connections.
const directSource = "198.19.200.2"

// burst opens connections to target from the client for one slice, from
// its own address (host path) or from directSource.
func (e *env) burst(target string, host bool) (n, errs int, took time.Duration) {
	d := net.Dialer{Timeout: connTimeout}
	if !host {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(directSource)}
	}
	var ok, bad atomic.Int64
	start := time.Now()
	deadline := start.Add(connSlice)
	var wg sync.WaitGroup
	for range connWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = e.Client.Do(func(ns.NetNS) error {
				for time.Now().Before(deadline) {
					if _, err := dialWith(d, target); err != nil {
						bad.Add(1)
						continue
					}
					ok.Add(1)
				}
				return nil
			})
		}()
	}
	wg.Wait()
	return int(ok.Load()), int(bad.Load()), time.Since(start)
}

func dialOnce(n netsim.Namespace, addr string) (string, error) {
	var s string
	err := n.Do(func(ns.NetNS) error {
		var err error
		s, err = dialOnceHere(addr)
		return err
	})
	return s, err
}

func dialOnceHere(addr string) (string, error) {
	return dialWith(net.Dialer{Timeout: connTimeout}, addr)
}

func dialWith(d net.Dialer, addr string) (string, error) {
	c, err := d.Dial("tcp", addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(connTimeout))
	b, err := io.ReadAll(c)
	return string(b), err
}

// selfCPU is this process's CPU seconds (user + system).
func selfCPU() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// procCPU is a process's CPU seconds from /proc/<pid>/stat.
func procCPU(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (u + st) / ticksPerSec
}
