package mesoszone

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/dcnet/dcnet/dns/poll"
	"github.com/dcnet/dcnet/dns/records"
	"github.com/dcnet/dcnet/dns/zkleader"
)

// Config says where the Mesos master state comes from and how it becomes
// records. It names no state (Enabled is false) unless Masters, Zk or
// StateFile is set. A zero duration means that field's default, as the
// dcnet-dns flag that fills it does; negative durations are invalid.
type Config struct {
	// Masters are the Mesos masters, "http://ip:5050" ("ip:port" means
	// http, https with HTTPS; --mesos-master). The poller follows the
	// leader. With Zk they are the fallback while ZooKeeper names none.
	Masters []string
	// Zk is the ZooKeeper URL of the masters' leader election,
	// "zk://10.0.0.1:2181,.../mesos" (Mesos-DNS's "zk"): the leader it names
	// is polled first and, with the other contenders, makes masterN.
	Zk string
	// ZkTimeout is how long Zk may name no leader before Source.Run
	// fails (Mesos-DNS's ZkDetectionTimeout: it exits); 0 means forever.
	ZkTimeout time.Duration
	// StateFile is a saved /master/state document read instead of masters
	// (--mesos-state-file).
	StateFile string
	// Refresh is the time between two reads of the state (--refresh); 0
	// means poll.DefaultInterval.
	Refresh time.Duration
	// Subscribe, with masters, holds the operator API's SUBSCRIBE stream
	// to the leading master and reads the state at each event, not only
	// every Refresh (--mesos-subscribe).
	Subscribe bool
	// Timeout bounds one request to a master (--mesos-timeout); 0 means
	// poll.DefaultTimeout.
	Timeout time.Duration
	// HTTPS makes masters given as "ip:port" (and those ZooKeeper names)
	// https (Mesos-DNS's MesosHTTPSOn).
	HTTPS bool
	// CAFile verifies the masters' certificates; CertFile and KeyFile are
	// a client certificate (both or neither).
	CAFile, CertFile, KeyFile string
	// Principal and Secret are HTTP Basic credentials sent to the masters
	// (Mesos-DNS's MesosCredentials with MesosAuthentication "basic").
	Principal, Secret string
	// Listener is the host the name server answers on: Records.SOAMname
	// gets its addresses ("0.0.0.0" or "::": every non-loopback address of
	// the host, read at each poll, as Mesos-DNS does); "" none.
	Listener string
	// Records are the generator's settings (domain, IP sources, label
	// rules, the masters of masterN.mesos).
	Records records.Config
}

// DefaultConfig is Config with every default and no state named.
func DefaultConfig() Config {
	return Config{Refresh: poll.DefaultInterval, Subscribe: true, Timeout: poll.DefaultTimeout, Records: records.DefaultConfig()}
}

// Enabled reports whether the Config names a state to poll.
func (c Config) Enabled() bool { return c.StateFile != "" || len(c.Masters) > 0 || c.Zk != "" }

// WithDefaults returns c with its zero durations set to their defaults:
// what is in force.
func (c Config) WithDefaults() Config {
	if c.Refresh == 0 {
		c.Refresh = poll.DefaultInterval
	}
	if c.Timeout == 0 {
		c.Timeout = poll.DefaultTimeout
	}
	return c
}

// UseStateFile reads the state from path instead of the masters and
// ZooKeeper, keeping the masters' addresses for masterN.mesos when
// Records.Masters names none (dcnet-dns --config with
// --mesos-state-file).
func (c *Config) UseStateFile(path string) {
	if len(c.Records.Masters) == 0 {
		c.Records.Masters = c.MasterAddrs()
	}
	c.StateFile, c.Masters, c.Zk = path, nil, ""
}

// Validate checks every field and names the first wrong one with its
// value and what is allowed.
func (c Config) Validate() error {
	if c.StateFile != "" && (len(c.Masters) > 0 || c.Zk != "") {
		return errors.New("--mesos-state-file and --mesos-master (or zk): give one of them")
	}
	for _, m := range c.masterURLs() {
		if _, err := poll.ParseMasterURL(m); err != nil {
			return err
		}
	}
	if c.Zk != "" {
		if _, err := zkleader.ParseURL(c.Zk); err != nil {
			return err
		}
	}
	if c.Refresh < 0 {
		return fmt.Errorf("refresh %s: must not be negative (0: the default %s)", c.Refresh, poll.DefaultInterval)
	}
	if c.Timeout < 0 {
		return fmt.Errorf("mesos timeout %s: must not be negative (0: the default %s)", c.Timeout, poll.DefaultTimeout)
	}
	if c.ZkTimeout < 0 {
		return fmt.Errorf("zk detection timeout %s: must not be negative (0: forever)", c.ZkTimeout)
	}
	if (c.CertFile == "") != (c.KeyFile == "") {
		return fmt.Errorf("mesos client certificate %q and key %q: give both or neither", c.CertFile, c.KeyFile)
	}
	if c.Secret != "" && c.Principal == "" {
		return errors.New("mesos credentials: a secret without a principal")
	}
	if c.Listener != "" {
		if _, err := netip.ParseAddr(c.Listener); err != nil {
			return fmt.Errorf("listener %q: want an IP address: %w", c.Listener, err)
		}
	}
	return c.Records.Validate()
}

// masterURLs are Masters with the scheme HTTPS asks for on "ip:port".
func (c Config) masterURLs() []string { return c.withScheme(c.Masters) }

// withScheme prefixes https:// to masters without a scheme when HTTPS is
// set.
func (c Config) withScheme(masters []string) []string {
	out := make([]string, len(masters))
	for i, m := range masters {
		if c.HTTPS && !strings.Contains(m, "://") {
			m = "https://" + m
		}
		out[i] = m
	}
	return out
}

// MasterAddrs are the Masters given as ip:port, in order, for
// masterN.mesos (masters named by host name are left out).
func (c Config) MasterAddrs() []string {
	var out []string
	for _, m := range c.Masters {
		u, err := poll.ParseMasterURL(m)
		if err != nil {
			continue
		}
		if ap, err := netip.ParseAddrPort(u.Host); err == nil {
			out = append(out, ap.String())
		}
	}
	return out
}
