// Command dcnet is the dcnet CNI plugin: a veth pair from the container to
// the node bridge of a dcnet overlay, addresses from overlayd.
package main

import (
	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/version"

	"github.com/dcnet/dcnet/plugins/dcnet"
)

func main() {
	skel.PluginMainFuncs(dcnet.New().Funcs(), version.All, "CNI plugin dcnet: container interfaces on dcnet overlays (addresses from overlayd)")
}
