package mesoszone

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/dcnet/dcnet/dns/poll"
	"github.com/dcnet/dcnet/dns/zkleader"
)

// localMaster is asked when only Zk is configured, until ZooKeeper names
// the masters.
const localMaster = "127.0.0.1:5050"

// Source polls the Mesos state a Config names into a Sink.
type Source struct {
	cfg    Config
	poller *poll.Poller
	sink   *Sink
	log    *slog.Logger
	// fetcher is the masters' fetcher; nil for a state file.
	fetcher *poll.HTTPFetcher
	// zk follows the leader election; nil without Config.Zk.
	zk *zkleader.Detector
	// noLeader receives every ZooKeeper report, whether it names a
	// leader, for the detection timeout.
	noLeader chan bool
}

// NewSource returns the poller of the state cfg names, feeding sink; nil
// (and no error) when cfg names none. It reads the TLS files cfg names.
func NewSource(cfg Config, sink *Sink, log *slog.Logger) (*Source, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if !cfg.Enabled() {
		return nil, nil
	}
	cfg = cfg.WithDefaults()
	s := &Source{cfg: cfg, sink: sink, log: log}
	var f poll.Fetcher
	if cfg.StateFile != "" {
		f = poll.FileFetcher{Path: cfg.StateFile}
	} else {
		client, err := cfg.httpClient()
		if err != nil {
			return nil, err
		}
		masters := cfg.masterURLs()
		if len(masters) == 0 {
			// Zk alone: the master on this host until ZooKeeper names
			// the leader (Mesos-DNS runs on the masters).
			masters = cfg.withScheme([]string{localMaster})
		}
		hf, err := poll.NewHTTPFetcher(masters, cfg.Timeout, client)
		if err != nil {
			return nil, err
		}
		f, s.fetcher = hf, hf
	}
	if cfg.Zk != "" {
		u, err := zkleader.ParseURL(cfg.Zk)
		if err != nil {
			return nil, err
		}
		s.noLeader = make(chan bool, 1)
		s.zk = &zkleader.Detector{URL: u, OnChange: s.onMasters, Log: log}
	}
	s.poller = &poll.Poller{Fetcher: f, Interval: cfg.Refresh, OnState: sink.Apply, OnUnchanged: sink.Publish, Log: log}
	return s, nil
}

// httpClient is the client of the masters: TLS as configured, HTTP Basic
// credentials on every request.
func (c Config) httpClient() (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if c.CAFile != "" || c.CertFile != "" {
		tc := &tls.Config{MinVersion: tls.VersionTLS12}
		if c.CAFile != "" {
			pem, err := os.ReadFile(c.CAFile)
			if err != nil {
				return nil, fmt.Errorf("mesos CA certificate: %w", err)
			}
			tc.RootCAs = x509.NewCertPool()
			if !tc.RootCAs.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("mesos CA certificate %s: no PEM certificate in it", c.CAFile)
			}
		}
		if c.CertFile != "" {
			cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
			if err != nil {
				return nil, fmt.Errorf("mesos client certificate: %w", err)
			}
			tc.Certificates = []tls.Certificate{cert}
		}
		tr.TLSClientConfig = tc
	}
	var rt http.RoundTripper = tr
	if c.Principal != "" {
		rt = basicAuth{next: tr, user: c.Principal, password: c.Secret}
	}
	return &http.Client{Transport: rt}, nil
}

// basicAuth adds HTTP Basic credentials to every request.
type basicAuth struct {
	next           http.RoundTripper
	user, password string
}

func (b basicAuth) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.SetBasicAuth(b.user, b.password)
	return b.next.RoundTrip(req)
}

// onMasters is the ZooKeeper detector's report: the leader and the other
// contenders are asked first, in that order, and make masterN, as in
// Mesos-DNS; without a leader the configured masters are asked (and name
// masterN) again. The next poll regenerates even an unchanged state and
// runs at once.
func (s *Source) onMasters(m zkleader.Masters) {
	select {
	case <-s.noLeader:
	default:
	}
	s.noLeader <- m.Leader == ""
	fetch, names := s.cfg.masterURLs(), s.cfg.MasterAddrs()
	if m.Leader != "" {
		fetch, names = s.cfg.withScheme(m.All), m.All
		s.log.Info("zookeeper: leading mesos master", "zk", s.zk.URL.String(), "leader", m.Leader, "masters", m.All)
	} else {
		s.log.Warn("zookeeper: no leading mesos master, asking the configured masters", "zk", s.zk.URL.String(), "masters", s.cfg.Masters)
	}
	if len(fetch) > 0 {
		if err := s.fetcher.SetMasters(fetch); err != nil {
			s.log.Warn("zookeeper: masters not usable", "masters", fetch, "err", err)
		}
	}
	s.sink.SetMasters(names)
	s.poller.Forget()
	s.poller.Kick()
}

// Poll reads the state once and hands it to the sink.
func (s *Source) Poll(ctx context.Context) error { return s.poller.Poll(ctx) }

// Prime is the first poll: a state file that cannot be read is returned
// (as a bad configuration file would be); masters that do not answer yet
// are only logged, Run asks them again.
func (s *Source) Prime(ctx context.Context) error {
	if s.zk != nil && len(s.cfg.Masters) == 0 {
		return nil // nothing to ask before ZooKeeper names a master
	}
	err := s.Poll(ctx)
	if err != nil && s.cfg.StateFile != "" {
		return err
	}
	if err != nil {
		s.log.Warn("mesos state: first poll failed, retrying", "err", err)
	}
	return nil
}

// Run keeps polling until ctx ends, every Refresh (the first one Refresh
// after Prime), with Subscribe and masters at each event of the SUBSCRIBE
// stream, and with Zk at each change of the leader. It returns nil when
// ctx ends, and an error when ZooKeeper named no leader for ZkTimeout (as
// Mesos-DNS exits then).
func (s *Source) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if s.fetcher != nil && s.cfg.Subscribe {
		sub := &poll.Subscriber{Fetcher: s.fetcher, OnEvent: func(string) { s.poller.Kick() }, Log: s.log}
		go sub.Run(ctx)
	}
	polled := make(chan struct{})
	go func() { defer close(polled); s.poller.RunAfter(ctx, s.cfg.Refresh) }()
	defer func() { cancel(); <-polled }()
	if s.zk == nil {
		<-ctx.Done()
		return nil
	}
	go s.zk.Run(ctx)
	return s.watchLeader(ctx)
}

// watchLeader returns an error once ZooKeeper named no leader (since the
// start, or since its last report of one) for ZkTimeout; nil when ctx
// ends. A zero ZkTimeout waits forever.
func (s *Source) watchLeader(ctx context.Context) error {
	if s.cfg.ZkTimeout <= 0 {
		<-ctx.Done()
		return nil
	}
	t := time.NewTimer(s.cfg.ZkTimeout)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case none := <-s.noLeader:
			t.Stop()
			if none {
				t.Reset(s.cfg.ZkTimeout)
			}
		case <-t.C:
			return fmt.Errorf("zookeeper %s named no leading mesos master for %s (zk detection timeout)", s.zk.URL.String(), s.cfg.ZkTimeout)
		}
	}
}
