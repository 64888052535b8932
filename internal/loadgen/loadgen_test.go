package loadgen

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestCountsAnswersAndFailures(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1)%4 == 0 {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("b1"))
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	for _, ka := range []bool{false, true} {
		n.Store(0)
		res, err := Run(context.Background(), Config{Addr: addr, Requests: 400, Workers: 4, KeepAlive: ka})
		if err != nil {
			t.Fatal(err)
		}
		if res.Requests != 400 || res.Kinds[KindOK] != 300 || res.Kinds[Kind5xx] != 100 || res.Status[503] != 100 || res.Failed() != 100 || res.Bodies["b1"] != 300 {
			t.Errorf("keep-alive %v: %v %v", ka, res, res.Kinds)
		}
		if res.Percentile(50) <= 0 || res.Percentile(99) < res.Percentile(50) {
			t.Errorf("percentiles p50 %v p99 %v", res.Percentile(50), res.Percentile(99))
		}
	}
}

func TestRefusedAndTCP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("tcp-backend"))
			c.Close()
		}
	}()
	res, _ := Run(context.Background(), Config{Addr: addr, TCP: true, Requests: 50})
	if res.Kinds[KindOK] != 50 || res.Bodies["tcp-backend"] != 50 {
		t.Errorf("tcp: %v %v", res, res.Bodies)
	}
	ln.Close()
	res, _ = Run(context.Background(), Config{Addr: addr, TCP: true, Requests: 5})
	if res.Kinds[KindRefused] != 5 || res.Failed() != 5 {
		t.Errorf("closed port: %v %v", res, res.Errors)
	}
}

// TestKeepAliveIdleCloseRetried: a server that closes an idle keep-alive
// connection makes the next request go again on a new connection, counted
// as retried and not failed.
func TestKeepAliveIdleCloseRetried(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("x")) }))
	srv.Config.IdleTimeout = 20 * time.Millisecond
	srv.Start()
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	w := &worker{cfg: Config{Addr: addr, Host: addr, Path: "/", KeepAlive: true, Timeout: time.Second, Dial: (&net.Dialer{}).DialContext}}
	defer w.close()
	if o := w.do(context.Background()); o.kind != KindOK {
		t.Fatalf("first: %+v", o)
	}
	time.Sleep(100 * time.Millisecond) // the server closes the idle connection
	o := w.do(context.Background())
	if o.kind != KindOK || o.retried != 1 {
		t.Errorf("after idle close: %+v, want ok after one retry", o)
	}
}

func TestPercentileNearestRank(t *testing.T) {
	r := &Result{}
	for i := 1; i <= 10; i++ {
		r.latencies = append(r.latencies, time.Duration(i)*time.Millisecond)
	}
	for p, want := range map[float64]time.Duration{50: 5 * time.Millisecond, 90: 9 * time.Millisecond, 99: 10 * time.Millisecond, 100: 10 * time.Millisecond, 10: time.Millisecond} {
		if got := r.Percentile(p); got != want {
			t.Errorf("p%v = %v, want %v", p, got, want)
		}
	}
}
