package dnsapi

// MesosConfig is Mesos-DNS's configuration document, field for field as
// mesosphere/mesos-dns records.Config (e888ef4) encodes it: the shape of
// its config.json (which dcnet-dns --mode mesos-dns --config reads, field
// names matched without regard to letter case as Go's encoding/json
// matches them) and of /v1/config (what is in force).
type MesosConfig struct {
	// RefreshSeconds is the time between two reads of the Mesos state.
	RefreshSeconds int
	// Port is the DNS port.
	Port int
	// Timeout bounds a forwarded question, seconds.
	Timeout int
	// StateTimeoutSeconds bounds a request to a Mesos master.
	StateTimeoutSeconds int
	// ZkDetectionTimeout is how long Zk may report no leader before the
	// server stops, seconds; 0: forever.
	ZkDetectionTimeout int
	// HTTPPort is the HTTP API's port.
	HTTPPort int `json:"HttpPort"`
	// TTL of every record.
	TTL int32
	// SRVRecordDefaultWeight is the weight of every SRV record.
	SRVRecordDefaultWeight uint16
	// SOASerial is the zone's serial (set at each reload).
	SOASerial uint32
	// SOARefresh, SOARetry, SOAExpire and SOAMinttl are the SOA timers.
	SOARefresh, SOARetry, SOAExpire, SOAMinttl uint32
	// SOAMname is the primary name server; it also gets A/AAAA records of
	// the listener.
	SOAMname string
	// SOARname is the responsible mailbox ("root.ns1.mesos" or
	// "root@ns1.mesos").
	SOARname string
	// Masters are the Mesos masters, "ip:port"; the fallback when Zk has no
	// leader, and the masterN order.
	Masters []string
	// ZoneResolvers are zones forwarded to servers of their own.
	ZoneResolvers map[string][]string
	// Resolvers are the upstream resolvers, "ip[:port]"; empty: those of
	// /etc/resolv.conf.
	Resolvers []string
	// IPSources are where task addresses come from, in priority order.
	IPSources []string
	// Zk is the ZooKeeper URL of the masters' leader election,
	// "zk://host:2181,.../mesos".
	Zk string
	// Domain is the zone ("mesos").
	Domain string
	// File is the configuration file read.
	File string
	// Listener is the DNS listen address (0.0.0.0: every address).
	Listener string
	// HTTPListener is the HTTP API's listen address.
	HTTPListener string
	// RecurseOn sets RA in the zone's answers.
	RecurseOn bool
	// DNSOn serves DNS.
	DNSOn bool `json:"DnsOn"`
	// HTTPOn serves the HTTP API.
	HTTPOn bool `json:"HttpOn"`
	// ExternalOn forwards names outside the zone.
	ExternalOn bool
	// EnforceRFC952 selects RFC 952 labels (24 characters, no leading
	// digits) instead of RFC 1123's.
	EnforceRFC952 bool
	// SetTruncateBit sets TC on answers cut to fit UDP.
	SetTruncateBit bool
	// EnumerationOn serves /v1/axfr (and Mesos-DNS's /v1/enumerate).
	EnumerationOn bool
	// MesosHTTPSOn talks to the masters over HTTPS.
	MesosHTTPSOn bool
	// CACertFile verifies the masters' certificates.
	CACertFile string
	// CertFile and KeyFile are the client certificate.
	CertFile, KeyFile string
	// MesosCredentials are the HTTP Basic credentials for the masters.
	MesosCredentials MesosCredentials
	// IAMConfigFile is DC/OS Enterprise's IAM configuration.
	IAMConfigFile string
	// MesosAuthentication is "" (none), "basic" or "iam".
	MesosAuthentication string
}

// MesosCredentials are HTTP Basic credentials (Mesos-DNS basic.Credentials).
type MesosCredentials struct {
	// Principal is the user.
	Principal string
	// Secret is the password; /v1/config answers it masked.
	Secret string
}

// Mesos-DNS's MesosAuthentication values.
const (
	MesosAuthNone  = ""
	MesosAuthBasic = "basic"
	MesosAuthIAM   = "iam"
)

// DefaultMesosConfig is Mesos-DNS's defaults (records.NewConfig): what a
// config.json leaves out.
func DefaultMesosConfig() MesosConfig {
	return MesosConfig{
		ZkDetectionTimeout:     30,
		RefreshSeconds:         60,
		TTL:                    60,
		SRVRecordDefaultWeight: 1,
		Domain:                 "mesos",
		Port:                   53,
		Timeout:                5,
		StateTimeoutSeconds:    300,
		SOARname:               "root.ns1.mesos",
		SOAMname:               "ns1.mesos",
		SOARefresh:             60,
		SOARetry:               600,
		SOAExpire:              86400,
		SOAMinttl:              60,
		ZoneResolvers:          map[string][]string{},
		Resolvers:              []string{"8.8.8.8"},
		Listener:               "0.0.0.0",
		HTTPListener:           "0.0.0.0",
		HTTPPort:               8123,
		DNSOn:                  true,
		HTTPOn:                 true,
		ExternalOn:             true,
		SetTruncateBit:         true,
		RecurseOn:              true,
		IPSources:              []string{"netinfo", "mesos", "host"},
		EnumerationOn:          true,
	}
}
