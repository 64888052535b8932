// Command probe is the only program of the FROM scratch image that the
// Docker tests and bench/cnm build (CGO_ENABLED=0): a TCP greeter and its
// client, and a no-op for timing container starts.
//
//	probe serve :7000           answer every connection with "hello from <addrs>"
//	probe serve-name NAME :7000 [:7001]
//	                            answer every TCP connection on :7000 and every
//	                            UDP datagram on :7001 (default :7000) with NAME
//	                            (a VIP backend)
//	probe dial IP:PORT          connect (2 s timeout), print the greeting, exit 0
//	probe true                  exit 0
package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"strings"
	"time"
)

const dialTimeout = 2 * time.Second

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: probe serve ADDR | dial ADDR | true")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "true":
	case "serve":
		if err := serve(os.Args[2]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	case "serve-name":
		if len(os.Args) < 4 {
			fmt.Fprintln(os.Stderr, "usage: probe serve-name NAME ADDR")
			os.Exit(2)
		}
		udp := os.Args[3]
		if len(os.Args) > 4 {
			udp = os.Args[4]
		}
		if err := serveName(os.Args[2], os.Args[3], udp); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	case "dial":
		var err error
		for i := 0; i < 5; i++ { // the route may take a moment on a fresh node
			if err = dial(os.Args[2]); err == nil {
				return
			}
			time.Sleep(200 * time.Millisecond)
		}
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	default:
		fmt.Fprintf(os.Stderr, "probe: unknown command %q\n", os.Args[1])
		os.Exit(2)
	}
}

func serve(addr string) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	greeting := "hello from " + strings.Join(localAddrs(), ",") + "\n"
	for {
		c, err := l.Accept()
		if err != nil {
			return err
		}
		c.SetDeadline(time.Now().Add(dialTimeout))
		c.Write([]byte(greeting))
		c.Close()
	}
}

// serveName answers TCP connections on addr and UDP datagrams on udpAddr
// with name.
func serveName(name, addr, udpAddr string) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	pc, err := net.ListenPacket("udp", udpAddr)
	if err != nil {
		return err
	}
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
	for {
		c, err := l.Accept()
		if err != nil {
			return err
		}
		c.Write([]byte(name))
		c.Close()
	}
}

func dial(addr string) error {
	c, err := net.DialTimeout("tcp", addr, dialTimeout)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(dialTimeout))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return fmt.Errorf("read from %s: %w", addr, err)
	}
	fmt.Print(line)
	return nil
}

func localAddrs() []string {
	var out []string
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && !ipn.IP.IsLoopback() && !ipn.IP.IsLinkLocalUnicast() {
			out = append(out, ipn.IP.String())
		}
	}
	return out
}
