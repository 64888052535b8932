// Command dcnet-ipam is the dcnet IPAM CNI plugin: addresses from overlayd
// for main plugins such as the reference bridge.
package main

import (
	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/version"

	"github.com/dcnet/dcnet/plugins/dcnetipam"
)

func main() {
	skel.PluginMainFuncs(dcnetipam.New().Funcs(), version.All, "CNI plugin dcnet-ipam: IPAM backed by overlayd")
}
