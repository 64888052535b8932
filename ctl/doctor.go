package ctl

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/dcnet/dcnet/cluster"
	"github.com/dcnet/dcnet/ctl/doctor"
	"github.com/dcnet/dcnet/ctl/doctor/collect"
	"github.com/dcnet/dcnet/dns/dnsapi"
	"github.com/dcnet/dcnet/overlayd/api"
)

// doctorConfig is what doctor takes from dcnetctl's global flags.
type doctorConfig struct {
	socket, l4lb, dns string
	etcd              cluster.Options
	timeout           time.Duration
	json              bool
}

// runDoctor runs `dcnetctl doctor [flags]` and returns the exit code: 0
// when every check passed, 1 when one failed, 2 for bad usage.
func runDoctor(ctx context.Context, cfg doctorConfig, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("dcnetctl doctor", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", cfg.json, "print the report as JSON")
	verbose := fs.Bool("verbose", false, "list the checks that passed too")
	listen := fs.String("dns-listen", strings.Join(dnsAddrs(dnsapi.DefaultListen()), ","),
		"comma-separated addresses dcnet-dns answers DNS on (ip or ip:port); empty: do not ask")
	fs.Usage = func() {
		fmt.Fprint(stderr, "usage: dcnetctl [global flags] doctor [--json] [--verbose] [--dns-listen ADDRS]\n"+
			"(global --l4lb \"\" or --dns \"\": that daemon does not run on this node; its checks are skipped)\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return 2
	}
	src := doctor.Sources{
		Overlayd: api.NewClient(cfg.socket), OverlaydAt: cfg.socket,
		Kernel: &collect.Kernel{},
		OpenStore: func(st *api.Status) (doctor.Store, doctor.Etcdctl, error) {
			return collect.Open(cfg.etcd, st)
		},
		Timeout: cfg.timeout,
	}
	if cfg.l4lb != "" {
		src.L4LB, src.L4LBAt = &collect.L4LB{Addr: cfg.l4lb}, cfg.l4lb
	}
	if cfg.dns != "" {
		src.DNS, src.DNSAt = &collect.DNS{Addr: cfg.dns}, cfg.dns
		for _, a := range strings.Split(*listen, ",") {
			if a = strings.TrimSpace(a); a != "" {
				src.DNSServers = append(src.DNSServers, collect.DNSServer(a))
			}
		}
	}
	rep := doctor.Run(ctx, src)
	if *asJSON {
		if err := rep.WriteJSON(stdout); err != nil {
			fmt.Fprintf(stderr, "dcnetctl doctor: %v\n", err)
			return 1
		}
	} else {
		rep.WriteText(stdout, *verbose)
	}
	if !rep.OK() {
		return 1
	}
	return 0
}

// dnsAddrs drops the default port from ip:53 addresses, for the flag's
// default.
func dnsAddrs(as []string) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = strings.TrimSuffix(a, ":53")
	}
	return out
}
