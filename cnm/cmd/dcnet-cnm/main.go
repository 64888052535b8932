// Command dcnet-cnm is dcnet's Docker remote network and IPAM driver: one
// socket, /run/docker/plugins/dcnet.sock, serving both interfaces, backed
// by overlayd. Start it before dockerd and stop it after (see
// conf/dcnet-cnm.service).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/dcnet/dcnet/cnm"
	"github.com/dcnet/dcnet/internal/logging"
	"github.com/dcnet/dcnet/overlayd/api"
)

var version = "dev"

func main() {
	socket := flag.String("socket", "/run/docker/plugins/dcnet.sock", "plugin socket; dockerd finds the plugin by its name (dcnet)")
	overlayd := flag.String("overlayd-socket", api.DefaultSocket, "overlayd's API socket (empty: the default)")
	stateDir := flag.String("state-dir", "/var/lib/dcnet/cnm", "directory of the driver's state ("+cnm.StateFile+")")
	sweep := flag.Duration("sweep-interval", 0, "how often leaked addresses are looked for (0: the default, 1m)")
	forget := flag.String("forget-network", "", "delete this Docker network ID from the state and exit (for a network dockerd removed while dcnet-cnm was down)")
	portmap := flag.String("portmap", cnm.FindPortmap(), "dcnet-portmap binary that publishes `docker run -p` host ports (\"\": -p is refused)")
	portmapState := flag.String("portmap-state-dir", "", "dcnet-portmap's state directory (default its own, /var/lib/dcnet/portmap, shared with the CNI runtimes so a host port has one holder)")
	logLevel := flag.String("log-level", "info", "debug, info, warn or error")
	showVersion := flag.Bool("version", false, "print the version and exit")
	flag.Parse()
	if *showVersion {
		fmt.Println(version)
		return
	}
	log, err := logging.New(*logLevel)
	if err != nil {
		fmt.Fprintf(os.Stderr, "dcnet-cnm: %v\n", err)
		os.Exit(2)
	}

	state, err := cnm.OpenState(*stateDir)
	if err != nil {
		fmt.Fprintf(os.Stderr, "dcnet-cnm: %v\n", err)
		os.Exit(1)
	}
	defer state.Close()
	if *forget != "" {
		found, err := state.ForgetNetwork(*forget)
		switch {
		case err != nil:
			fmt.Fprintf(os.Stderr, "dcnet-cnm: forget network %s: %v\n", *forget, err)
			os.Exit(1)
		case !found:
			fmt.Printf("network %s is not in %s\n", *forget, *stateDir)
		default:
			fmt.Printf("network %s forgotten\n", *forget)
		}
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	l, err := cnm.Listen(*socket)
	if err != nil {
		log.Error("dcnet-cnm failed", "err", err)
		os.Exit(1)
	}
	defer os.Remove(*socket)
	d := cnm.New(state, api.NewClient(*overlayd), cnm.Netlink{}, log)
	if *portmap != "" {
		d.WithPorts(cnm.PortmapExec{Binary: *portmap, StateDir: *portmapState})
	}
	log.Info("dcnet-cnm serving", "socket", *socket, "overlayd", *overlayd, "state", *stateDir, "portmap", *portmap, "version", version)
	if err := d.Serve(ctx, l, *sweep); err != nil {
		log.Error("dcnet-cnm failed", "err", err)
		os.Exit(1)
	}
}
