// Command dcnet-vipaccess is the dcnet-vipaccess CNI plugin: a link to the
// node for VIPs and dcnet-dns, for containers on networks without a route
// to them (dcos-cni's dcos-l4lb role).
package main

import (
	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/version"

	"github.com/dcnet/dcnet/plugins/vipaccess"
)

func main() {
	skel.PluginMainFuncs(vipaccess.New().Funcs(), version.All, "CNI plugin dcnet-vipaccess: VIPs and DNS for containers on other networks")
}
