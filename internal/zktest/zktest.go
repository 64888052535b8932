// Package zktest runs a real ZooKeeper (Debian's zookeeper package) inside
// a netsim node for tests, and writes znodes shaped as Mesos masters write
// them: an ephemeral sequential "json.info_<seq>" child of the election
// path holding the master's MasterInfo as JSON, alive as long as the
// session that made it.
package zktest

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/dcnet/dcnet/internal/netsim"
)

// Jar is Debian's ZooKeeper server; its manifest names its dependencies.
const Jar = "/usr/share/java/zookeeper.jar"

// Port is the client port the server listens on.
const Port = 2181

// startTimeout bounds ZooKeeper's start (about a second on a quiet machine).
const startTimeout = 30 * time.Second

// Server is a standalone ZooKeeper in a node's namespace.
type Server struct {
	// Addr is "ip:2181", on the node's underlay address.
	Addr string
	// Node is where it runs.
	Node *netsim.Node
	// Process is the server (java).
	Process *netsim.Process
}

// Require skips t unless java and Debian's ZooKeeper are installed.
func Require(t testing.TB) {
	t.Helper()
	netsim.RequireCommands(t, "java")
	if _, err := os.Stat(Jar); err != nil {
		t.Skipf("zktest: needs Debian's zookeeper package (%s); run `make deps`", Jar)
	}
}

// Start runs ZooKeeper on node with its data and log in t.TempDir(),
// waits until it answers, and stops it in t.Cleanup.
func Start(t testing.TB, node *netsim.Node) *Server {
	t.Helper()
	Require(t)
	dir := t.TempDir()
	addr := netip.AddrPortFrom(node.UnderlayIP, Port).String()
	cfg := fmt.Sprintf("tickTime=500\ndataDir=%s\nclientPort=%d\nclientPortAddress=%s\nadmin.enableServer=false\n4lw.commands.whitelist=ruok\n",
		dir, Port, node.UnderlayIP)
	path := filepath.Join(dir, "zoo.cfg")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	p := netsim.StartProcessT(t, node, filepath.Join(dir, "zookeeper.log"),
		"java", "-Xmx128m", "-cp", Jar, "org.apache.zookeeper.server.ZooKeeperServerMain", path)
	s := &Server{Addr: addr, Node: node, Process: p}
	ctx := context.Background()
	if err := netsim.WaitFor(ctx, startTimeout, 100*time.Millisecond, s.ruok); err != nil {
		t.Fatalf("zookeeper on %s: %v\n%s", node.Name, err, netsim.TailFile(p.LogPath, 20))
	}
	return s
}

// ruok asks ZooKeeper's four-letter "ruok".
func (s *Server) ruok() error {
	c, err := s.Dial("tcp", s.Addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("ruok")); err != nil {
		return err
	}
	line, _ := bufio.NewReader(c).ReadString('\n')
	if !strings.HasPrefix(line, "imok") {
		return fmt.Errorf("ruok answered %q", line)
	}
	return nil
}

// Dial connects to address from inside the server's node (a zk.Dialer).
func (s *Server) Dial(_, address string, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return s.Node.DialTCP(ctx, address)
}

// Connect opens a session from the test; it is closed in t.Cleanup.
func (s *Server) Connect(t testing.TB) *zk.Conn {
	t.Helper()
	conn, events, err := zk.Connect([]string{s.Addr}, 10*time.Second, zk.WithDialer(s.Dial), zk.WithLogger(quiet{}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	deadline := time.After(10 * time.Second)
	for {
		select {
		case ev := <-events:
			if ev.State == zk.StateHasSession {
				return conn
			}
		case <-deadline:
			t.Fatalf("zookeeper %s: no session", s.Addr)
		}
	}
}

// MasterInfo is the JSON a Mesos master writes into its json.info_ znode
// (mesos.MasterInfo as JSON, Mesos >= 0.24).
type MasterInfo struct {
	Address  Address `json:"address"`
	Hostname string  `json:"hostname"`
	ID       string  `json:"id"`
	IP       uint32  `json:"ip"`
	PID      string  `json:"pid"`
	Port     int     `json:"port"`
	Version  string  `json:"version"`
}

// Address is MasterInfo's address.
type Address struct {
	Hostname string `json:"hostname"`
	IP       string `json:"ip"`
	Port     int    `json:"port"`
}

// Master returns the MasterInfo of a master at ip:port.
func Master(ip string, port int) MasterInfo {
	var raw uint32
	if a, err := netip.ParseAddr(ip); err == nil && a.Is4() {
		b := a.As4()
		raw = uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24 // little-endian, as on x86
	}
	return MasterInfo{Address: Address{Hostname: ip, IP: ip, Port: port}, Hostname: ip, ID: "master-" + ip,
		IP: raw, PID: fmt.Sprintf("master@%s", net.JoinHostPort(ip, fmt.Sprint(port))), Port: port, Version: "1.11.0"}
}

// Contend makes conn a contender of the election at path, as a Mesos
// master does: the path is created if missing and an ephemeral sequential
// json.info_ node holding info is added. It returns the node's path; it
// vanishes when conn closes (or Delete removes it).
func Contend(conn *zk.Conn, path string, info MasterInfo) (string, error) {
	data, err := json.Marshal(info)
	if err != nil {
		return "", err
	}
	if _, err := conn.Create(path, nil, 0, zk.WorldACL(zk.PermAll)); err != nil && !errors.Is(err, zk.ErrNodeExists) {
		return "", fmt.Errorf("create %s: %w", path, err)
	}
	node, err := conn.Create(path+"/json.info_", data, zk.FlagEphemeral|zk.FlagSequence, zk.WorldACL(zk.PermAll))
	if err != nil {
		return "", fmt.Errorf("create %s/json.info_: %w", path, err)
	}
	return node, nil
}

type quiet struct{}

func (quiet) Printf(string, ...any) {}
