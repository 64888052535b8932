package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"os"
	"strconv"

	"github.com/dcnet/dcnet/cluster"
	"github.com/dcnet/dcnet/dns/dnsapi"
	"github.com/dcnet/dcnet/dns/httpapi"
	"github.com/dcnet/dcnet/dns/records"
	"github.com/dcnet/dcnet/dns/server"
	"github.com/dcnet/dcnet/dns/taskzone"
)

// runMesosDNS runs Mesos-DNS mode until ctx ends: the mesos. zone from
// the polled state, other names forwarded, Mesos-DNS's HTTP API, and the
// task names published to etcd when endpoints are given.
func runMesosDNS(ctx context.Context, log *slog.Logger, o options) error {
	if o.stateFile == "" && len(o.masters) == 0 {
		return configError{errors.New("mesos-dns mode needs --mesos-master URL (repeatable) or --mesos-state-file PATH")}
	}
	cfg := records.DefaultConfig()
	cfg.Masters = masterAddrs(o.masters)
	sink := &mesosState{log: log, cfg: cfg, mesos: server.NewRecordSetZone(server.MesosZone, nil), ctx: ctx}
	if len(o.etcd) > 0 {
		store, err := cluster.Connect(cluster.Options{Endpoints: o.etcd})
		if err != nil {
			return configError{err}
		}
		defer store.Close()
		// Several masters poll the same state; only the elected one writes,
		// so an older state on one master cannot undo a newer one's names.
		sink.pub = taskzone.NewPublisher(taskzone.EtcdStore{Store: store})
		el := &taskzone.Elector{Client: store.Client, ID: publisherID(o), Log: log, OnElected: sink.publish}
		sink.pub.Leader = el.Leader
		ectx, ecancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); el.Run(ectx) }()
		defer func() { ecancel(); <-done }()
	}
	p, err := newPoller(o, log, sink)
	if err != nil {
		return err
	}
	w, err := newHandler(log, o, []server.Lister{sink.mesos})
	if err != nil {
		return configError{err}
	}
	if err := startPolling(ctx, log, o, p); err != nil {
		return err
	}
	if o.httpAddr != "" {
		api := httpapi.NewMesos(version, mesosConfig(o, cfg), sink, w.metrics.HTTPHandler(), httpapi.New(version, nil, w.zones...))
		if err := serveHTTP(ctx, log, o.httpAddr, api.Handler()); err != nil {
			return err
		}
	}
	return server.RunWith(ctx, o.listen, w.handler, w.listen, func() {
		log.Info("dcnet-dns: serving", "mode", modeMesosDNS, "listen", o.listen.String(), "http", o.httpAddr,
			"masters", o.masters.String(), "state_file", o.stateFile, "refresh", o.refresh)
	})
}

// publisherID names this master in the task-name publisher election: its
// host name, first global unicast address (masters share a host name in
// network namespaces, and often a wildcard listen address), pid and
// addresses.
func publisherID(o options) string {
	host, err := os.Hostname()
	if err != nil {
		host = "unknown-host"
	}
	ip := "no-address"
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && n.IP.IsGlobalUnicast() {
				ip = n.IP.String()
				break
			}
		}
	}
	return fmt.Sprintf("%s %s pid %d dns %s http %s", host, ip, os.Getpid(), o.listen.String(), o.httpAddr)
}

// mesosConfig is /v1/config: the flags in Mesos-DNS's terms.
func mesosConfig(o options, cfg records.Config) dnsapi.MesosConfig {
	soa := server.SOA(server.MesosZone)
	c := dnsapi.MesosConfig{
		Masters:        cfg.Masters,
		RefreshSeconds: int(math.Ceil(o.refresh.Seconds())),
		TTL:            server.TTL,
		Domain:         cfg.Domain,
		Resolvers:      o.upstreams,
		Timeout:        int(math.Ceil(o.timeout.Seconds())),
		SOAMname:       soa.Ns,
		SOARname:       soa.Mbox,
		SOARefresh:     soa.Refresh,
		SOARetry:       soa.Retry,
		SOAExpire:      soa.Expire,
		SOAMinttl:      soa.Minttl,
		RecurseOn:      true,
		DNSOn:          true,
		HTTPOn:         o.httpAddr != "",
		ExternalOn:     true,
		EnforceRFC952:  cfg.EnforceRFC952,
		IPSources:      cfg.IPSources,
	}
	if c.Masters == nil {
		c.Masters = []string{}
	}
	if len(o.listen) > 0 {
		if host, port, err := net.SplitHostPort(o.listen[0]); err == nil {
			c.Listener = host
			c.Port, _ = strconv.Atoi(port)
		}
	}
	if _, port, err := net.SplitHostPort(o.httpAddr); err == nil {
		c.HTTPPort, _ = strconv.Atoi(port)
	}
	return c
}
