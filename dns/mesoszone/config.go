package mesoszone

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/dcnet/dcnet/dns/poll"
	"github.com/dcnet/dcnet/dns/records"
)

// Config says where the Mesos master state comes from and how it becomes
// records. It names no state (Enabled is false) unless Masters or
// StateFile is set. A zero duration means that field's default, as the
// dcnet-dns flag that fills it does; negative durations are invalid.
type Config struct {
	// Masters are the Mesos masters, "http://ip:5050" ("ip:port" means
	// http; --mesos-master). The poller follows the leader.
	Masters []string
	// StateFile is a saved /master/state document read instead of masters
	// (--mesos-state-file).
	StateFile string
	// Refresh is the time between two reads of the state (--refresh); 0
	// means poll.DefaultInterval.
	Refresh time.Duration
	// Subscribe, with Masters, holds the operator API's SUBSCRIBE stream
	// to the leading master and reads the state at each event, not only
	// every Refresh (--mesos-subscribe).
	Subscribe bool
	// Timeout bounds one request to a master (--mesos-timeout); 0 means
	// poll.DefaultTimeout.
	Timeout time.Duration
	// Records are the generator's settings (domain, IP sources, label
	// rules, the masters of masterN.mesos).
	Records records.Config
}

// DefaultConfig is Config with every default and no state named.
func DefaultConfig() Config {
	return Config{Refresh: poll.DefaultInterval, Subscribe: true, Timeout: poll.DefaultTimeout, Records: records.DefaultConfig()}
}

// Enabled reports whether the Config names a state to poll.
func (c Config) Enabled() bool { return c.StateFile != "" || len(c.Masters) > 0 }

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

// Validate checks every field and names the first wrong one with its
// value and what is allowed.
func (c Config) Validate() error {
	if c.StateFile != "" && len(c.Masters) > 0 {
		return errors.New("--mesos-state-file and --mesos-master: give one of them")
	}
	for _, m := range c.Masters {
		if _, err := poll.ParseMasterURL(m); err != nil {
			return err
		}
	}
	if c.Refresh < 0 {
		return fmt.Errorf("refresh %s: must not be negative (0: the default %s)", c.Refresh, poll.DefaultInterval)
	}
	if c.Timeout < 0 {
		return fmt.Errorf("mesos timeout %s: must not be negative (0: the default %s)", c.Timeout, poll.DefaultTimeout)
	}
	return c.Records.Validate()
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
