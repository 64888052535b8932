package main

import (
	"context"
	"flag"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/dcnet/dcnet/internal/marathontest"
	"github.com/dcnet/dcnet/l7lb/daemon"
	"github.com/dcnet/dcnet/l7lb/l7lbapi"
)

func parseArgs(t *testing.T, args ...string) flags {
	t.Helper()
	fs := flag.NewFlagSet("dcnet-l7lb", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	f, err := parse(fs, args)
	if err != nil {
		t.Fatalf("parse %v: %v", args, err)
	}
	return f
}

func TestOptionsErrors(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--pool", "web"}, "--pool needs the cluster store"},
		{[]string{"--marathon", "ftp://m1"}, "--marathon: marathon URL"},
		{[]string{"--http-bind", "80"}, "--http-bind \"80\""},
		{[]string{"--pool", "web", "--etcd-endpoints", "http://127.0.0.1:1", "--mesos-master", "::::"}, "--mesos-master"},
		{[]string{"--etcd-endpoints", "http://127.0.0.1:1", "--pool", "Web_1"}, "--pool: pool name"},
	} {
		_, closeStore, err := options(parseArgs(t, tc.args...), log)
		closeStore()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err %v, want %q", tc.args, err, tc.want)
		}
	}
	f := parseArgs(t)
	opts, closeStore, err := options(f, log)
	defer closeStore()
	if err != nil {
		t.Fatal(err)
	}
	opts.Applier = &daemon.LogApplier{}
	if _, err := daemon.New(opts); err == nil || !strings.Contains(err.Error(), "needs a Marathon") {
		t.Errorf("no --marathon: %v", err)
	}
	if _, _, err := newApplier(haproxyOptions{Applier: "nope"}, log); err == nil || !strings.Contains(err.Error(), "[haproxy log]") {
		t.Errorf("unknown applier: %v", err)
	}
}

// TestWired: the flags of a Marathon-LB instance wire a daemon that
// serves the fake Marathon's apps in its status.
func TestWired(t *testing.T) {
	m, err := marathontest.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	m.PutApp(marathontest.AppSpec{ID: "/web", ServicePorts: []int{10000}, Instances: 2,
		Labels: map[string]string{"HAPROXY_GROUP": "internal", "HAPROXY_0_VHOST": "web.example.com"}})
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	f := parseArgs(t, "--marathon", m.URL, "--group", "internal", "--http-addr", addr, "--state-dir", t.TempDir(), "--https-bind", "", "--applier", "log")
	log := slog.New(slog.DiscardHandler)
	opts, closeStore, err := options(f, log)
	defer closeStore()
	if err != nil {
		t.Fatal(err)
	}
	var stopApplier func()
	if opts.Applier, stopApplier, err = newApplier(f.haproxy, log); err != nil {
		t.Fatal(err)
	}
	defer stopApplier()
	d, err := daemon.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	defer func() { cancel(); <-done }()
	c := l7lbapi.NewClient(addr, nil)
	deadline := time.Now().Add(5 * time.Second)
	for {
		st, err := c.Status(context.Background())
		if err == nil && len(st.Backends) == 1 && st.Backends[0].Servers == 2 {
			if st.Groups[0] != "internal" || st.Frontends[0].Name != "marathon_http_in" {
				t.Errorf("status %+v", st)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("status: %+v %v", st, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
