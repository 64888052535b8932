package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/dcnet/dcnet/internal/benchkit"
	"github.com/dcnet/dcnet/internal/netsim"
)

// The bench re-executes itself inside a namespace for each helper process:
// `<self> -child <role> [args]`, reading requests from stdin and writing
// one JSON answer per request to stdout. A child exits when its stdin
// closes; the parent also stops it by PID.
const (
	childFlag = "-child"
	roleServe = "serve" // a backend: the echo protocol on a TCP port
	roleLoad  = "load"  // the load generator of a client netns
	roleHold  = "hold"  // holds the data plane state of n VIPs, for its RSS
)

// The request/reply protocol: a client sends requestBytes, the server
// answers replyBytes, as many times as the client asks on the connection.
const (
	requestBytes = 64
	replyBytes   = 128
	ioTimeout    = 2 * time.Second
	stopWait     = 3 * time.Second
)

// Load modes.
const (
	modeCPR       = "cpr"       // connection per request
	modeKeepAlive = "keepalive" // one connection per worker, request after request
	// modePaired is keep-alive over two paths at once: one worker holds
	// Conns connections to Targets and Conns to PairTargets and sends its
	// requests to the two alternately (A B B A ...), so that both paths
	// see the same moments of a loaded machine.
	modePaired = "paired"
)

// loadRequest asks the load child for one timed run.
type loadRequest struct {
	// Targets are dialled in turn, so direct traffic spreads over the
	// backends as the VIP's does.
	Targets []string `json:"targets"`
	Workers int      `json:"workers"`
	Millis  int      `json:"millis"`
	Mode    string   `json:"mode"`
	// Conns is the number of keep-alive connections per worker (0 means
	// 1), dialled to Targets in turn and used in turn, request after
	// request: with one per backend, VIP and direct keep-alive traffic
	// reach the same backends in the same shares.
	Conns int `json:"conns,omitempty"`
	// PairTargets is the second path of modePaired.
	PairTargets []string `json:"pairTargets,omitempty"`
}

// loadResult is one run's outcome.
type loadResult struct {
	Requests int     `json:"requests"`
	Errors   int     `json:"errors"`
	FirstErr string  `json:"firstErr,omitempty"`
	Seconds  float64 `json:"seconds"`
	P50us    float64 `json:"p50us"`
	P99us    float64 `json:"p99us"`
	// Pair is the second path of a modePaired run. In a modePaired run
	// each path's Seconds is the time spent in its own requests, so Rate
	// is the closed-loop rate of that path (1 / mean latency).
	Pair *loadResult `json:"pair,omitempty"`
}

// Rate is requests per second.
func (r loadResult) Rate() float64 { return float64(r.Requests) / r.Seconds }

func childMain(args []string) int {
	if len(args) < 1 {
		fmt.Fprintln(os.Stderr, "bench/l4lb child: no role")
		return 2
	}
	var err error
	switch args[0] {
	case roleServe:
		err = serve(args[1:])
	case roleLoad:
		err = loadLoop(os.Stdin, os.Stdout)
	case roleHold:
		err = hold(args[1:])
	default:
		err = fmt.Errorf("unknown role %q", args[0])
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench/l4lb child %s: %v\n", args[0], err)
		return 1
	}
	return 0
}

// serve answers the protocol on every address in args until stdin closes.
func serve(addrs []string) error {
	for _, a := range addrs {
		ln, err := net.Listen("tcp", a)
		if err != nil {
			return err
		}
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				go serveConn(c)
			}
		}()
	}
	fmt.Println("ready")
	io.Copy(io.Discard, os.Stdin)
	return nil
}

func serveConn(c net.Conn) {
	defer c.Close()
	req := make([]byte, requestBytes)
	reply := make([]byte, replyBytes)
	for {
		if _, err := io.ReadFull(c, req); err != nil {
			return
		}
		if _, err := c.Write(reply); err != nil {
			return
		}
	}
}

// loadLoop runs one loadRequest per input line.
func loadLoop(in io.Reader, out io.Writer) error {
	sc := bufio.NewScanner(in)
	enc := json.NewEncoder(out)
	for sc.Scan() {
		var req loadRequest
		if err := json.Unmarshal(sc.Bytes(), &req); err != nil {
			return err
		}
		if err := enc.Encode(runLoad(req)); err != nil {
			return err
		}
	}
	return sc.Err()
}

func runLoad(req loadRequest) loadResult {
	if req.Mode == modePaired {
		return runPaired(req)
	}
	start := time.Now()
	end := start.Add(time.Duration(req.Millis) * time.Millisecond)
	var mu sync.Mutex
	var res loadResult
	var lat []time.Duration
	var wg sync.WaitGroup
	for w := range req.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var l []time.Duration
			var errs int
			var first error
			if req.Mode == modeKeepAlive {
				l, errs, first = keepAliveWorker(req.Targets, w*max(req.Conns, 1), max(req.Conns, 1), end)
			} else {
				l, errs, first = cprWorker(req.Targets, w, end)
			}
			mu.Lock()
			defer mu.Unlock()
			lat = append(lat, l...)
			res.Errors += errs
			if first != nil && res.FirstErr == "" {
				res.FirstErr = first.Error()
			}
		}()
	}
	wg.Wait()
	res.Seconds = time.Since(start).Seconds()
	res.Requests = len(lat)
	res.P50us, res.P99us = percentilesUs(lat)
	return res
}

// cprWorker: connect, one request, read the reply, close with RST
// (SO_LINGER 0) so neither side keeps a TIME_WAIT socket and the client's
// ephemeral ports are free again at once.
func cprWorker(targets []string, next int, end time.Time) ([]time.Duration, int, error) {
	d := net.Dialer{Timeout: ioTimeout}
	req, reply := make([]byte, requestBytes), make([]byte, replyBytes)
	var lat []time.Duration
	errs := 0
	var first error
	for time.Now().Before(end) {
		t0 := time.Now()
		c, err := d.Dial("tcp", targets[next%len(targets)])
		next++
		if err == nil {
			c.SetDeadline(t0.Add(ioTimeout))
			if _, err = c.Write(req); err == nil {
				_, err = io.ReadFull(c, reply)
			}
			c.(*net.TCPConn).SetLinger(0)
			c.Close()
		}
		if err != nil {
			errs++
			if first == nil {
				first = err
			}
			time.Sleep(time.Millisecond)
			continue
		}
		lat = append(lat, time.Since(t0))
	}
	return lat, errs, first
}

// runPaired is one worker of modePaired.
func runPaired(req loadRequest) loadResult {
	end := time.Now().Add(time.Duration(req.Millis) * time.Millisecond)
	conns := max(req.Conns, 1)
	var sides [2][]net.Conn
	defer func() {
		for _, cs := range sides {
			for _, c := range cs {
				c.Close()
			}
		}
	}()
	for i, targets := range [][]string{req.Targets, req.PairTargets} {
		for j := range conns {
			c, err := net.DialTimeout("tcp", targets[j%len(targets)], ioTimeout)
			if err != nil {
				return loadResult{Errors: 1, FirstErr: err.Error()}
			}
			sides[i] = append(sides[i], c)
		}
	}
	msg, reply := make([]byte, requestBytes), make([]byte, replyBytes)
	var lat [2][]time.Duration
	var res [2]loadResult
	for i := 0; time.Now().Before(end); i++ {
		// A B, then B A: neither path always goes first.
		order := [2]int{0, 1}
		if i%2 == 1 {
			order = [2]int{1, 0}
		}
		for _, side := range order {
			c := sides[side][i%conns]
			t0 := time.Now()
			c.SetDeadline(t0.Add(ioTimeout))
			if _, err := c.Write(msg); err != nil {
				res[side].Errors, res[side].FirstErr = 1, err.Error()
				return pairedResult(res, lat)
			}
			if _, err := io.ReadFull(c, reply); err != nil {
				res[side].Errors, res[side].FirstErr = 1, err.Error()
				return pairedResult(res, lat)
			}
			lat[side] = append(lat[side], time.Since(t0))
		}
	}
	return pairedResult(res, lat)
}

// percentilesUs returns the median and p99 (benchkit.NearestRank) of lat
// in microseconds.
func percentilesUs(lat []time.Duration) (p50, p99 float64) {
	us := func(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
	return us(benchkit.Median(lat)), us(benchkit.NearestRank(lat, 99))
}

func pairedResult(res [2]loadResult, lat [2][]time.Duration) loadResult {
	for i := range res {
		var sum time.Duration
		for _, l := range lat[i] {
			sum += l
		}
		res[i].Requests, res[i].Seconds = len(lat[i]), sum.Seconds()
		res[i].P50us, res[i].P99us = percentilesUs(lat[i])
	}
	out := res[0]
	out.Pair = &res[1]
	return out
}

// keepAliveWorker dials conns connections, to targets in turn from next,
// then sends request after request over them in turn until end.
func keepAliveWorker(targets []string, next, conns int, end time.Time) ([]time.Duration, int, error) {
	cs := make([]net.Conn, 0, conns)
	defer func() {
		for _, c := range cs {
			c.Close()
		}
	}()
	for i := range conns {
		c, err := net.DialTimeout("tcp", targets[(next+i)%len(targets)], ioTimeout)
		if err != nil {
			return nil, 1, err
		}
		cs = append(cs, c)
	}
	req, reply := make([]byte, requestBytes), make([]byte, replyBytes)
	var lat []time.Duration
	for i := 0; time.Now().Before(end); i++ {
		c := cs[i%len(cs)]
		t0 := time.Now()
		c.SetDeadline(t0.Add(ioTimeout))
		if _, err := c.Write(req); err != nil {
			return lat, 1, err
		}
		if _, err := io.ReadFull(c, reply); err != nil {
			return lat, 1, err
		}
		lat = append(lat, time.Since(t0))
	}
	return lat, 0, nil
}

// child is a running helper process.
type child struct {
	name string
	cmd  *exec.Cmd
	in   io.WriteCloser
	out  *bufio.Scanner
	log  *strings.Builder
}

// startChild runs `<self> -child role args...` inside ns, waiting for its
// first output line when wantReady.
func startChild(ctx context.Context, ns netsim.Namespace, name string, wantReady bool, role string, args ...string) (*child, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := ns.Exec(ctx, append([]string{self, childFlag, role}, args...)...)
	c := &child{name: name, cmd: cmd, log: &strings.Builder{}}
	if c.in, err = cmd.StdinPipe(); err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = &lockedWriter{w: c.log}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	c.out = bufio.NewScanner(stdout)
	c.out.Buffer(make([]byte, 64<<10), 1<<20)
	// Pdeathsig follows the forking thread: fork from a fresh goroutine
	// that is never locked into a namespace (see netsim.StartProcess).
	started := make(chan error, 1)
	go func() { started <- cmd.Start() }()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	if wantReady {
		if _, err := c.line(); err != nil {
			c.stop()
			return nil, err
		}
	}
	return c, nil
}

// line reads the child's next output line.
func (c *child) line() ([]byte, error) {
	if !c.out.Scan() {
		err := c.out.Err()
		if err == nil {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("%s: %w: %s", c.name, err, strings.TrimSpace(c.log.String()))
	}
	return c.out.Bytes(), nil
}

// load runs one timed request on a load child.
func (c *child) load(req loadRequest) (loadResult, error) {
	var res loadResult
	b, _ := json.Marshal(req)
	if _, err := c.in.Write(append(b, '\n')); err != nil {
		return res, fmt.Errorf("%s: %w", c.name, err)
	}
	line, err := c.line()
	if err != nil {
		return res, err
	}
	err = json.Unmarshal(line, &res)
	return res, err
}

// stop closes stdin, waits a bounded time, then kills the child by PID.
func (c *child) stop() error {
	c.in.Close()
	done := make(chan error, 1)
	go func() { done <- c.cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(stopWait):
		c.cmd.Process.Kill()
		<-done
		return errors.New(c.name + ": killed after " + stopWait.String())
	}
}

// lockedWriter makes a strings.Builder safe for the exec copier.
type lockedWriter struct {
	mu sync.Mutex
	w  *strings.Builder
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// freeMemory returns memory to the OS before an RSS reading, as a daemon
// that has been idle for a few minutes would have.
func freeMemory() {
	runtime.GC()
	debug.FreeOSMemory()
}
