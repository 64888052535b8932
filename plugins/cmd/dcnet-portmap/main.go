// Command dcnet-portmap is the dcnet host-port CNI plugin: host port ->
// container port DNAT in nftables, as Mesos' mesos-cni-port-mapper (a
// "delegate" config) or as a CNI chained plugin with the portMappings
// capability.
package main

import (
	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/version"

	"github.com/dcnet/dcnet/plugins/portmap"
)

func main() {
	skel.PluginMainFuncs(portmap.New().Funcs(), version.All, "CNI plugin dcnet-portmap: host ports of containers (nftables; Mesos port-mapper and chained styles)")
}
