package model

// ConfigReader is implemented by an Applier that can show the
// haproxy.cfg it last made HAProxy run; dcnet-l7lb serves it at
// Marathon-LB's /_haproxy_getconfig. Optional: the daemon checks for it
// with a type assertion.
type ConfigReader interface {
	// HAProxyConfig returns the running configuration file's contents.
	HAProxyConfig() ([]byte, error)
}
