package cnm

// The JSON bodies of Docker's remote plugin protocol (libnetwork's
// drivers/remote/api and ipams/remote/api), as dockerd sends and reads them.
// Field names are the wire names; unknown fields are ignored on decoding so
// that newer dockerd versions keep working.

// Docker's plugin interface names, announced by /Plugin.Activate.
const (
	ifaceNetwork = "NetworkDriver"
	ifaceIPAM    = "IpamDriver"
)

// Keys dockerd uses in options.
const (
	optGeneric      = "com.docker.network.generic"             // driver options (-o, --driver-opt)
	optMAC          = "com.docker.network.endpoint.macaddress" // IPAM option (RequiresMACAddress)
	optEndpointName = "com.docker.network.endpoint.name"       // IPAM option: the container's name
	optPortMap      = "com.docker.network.portmap"             // endpoint option: published ports
	optAddressType  = "RequestAddressType"                     // IPAM option
	addressGateway  = "com.docker.network.gateway"             // its value for the gateway
	dataGateway     = "com.docker.network.gateway"             // RequestPool answer data: the gateway
)

type activateResponse struct {
	Implements []string
}

type errorResponse struct {
	Err string
}

type empty struct{}

type capabilitiesResponse struct {
	Scope             string
	ConnectivityScope string
}

type ipamData struct {
	AddressSpace string
	Pool         string
	Gateway      string
	AuxAddresses map[string]any
}

type createNetworkRequest struct {
	NetworkID string
	Options   map[string]any
	IPv4Data  []ipamData
	IPv6Data  []ipamData
}

type networkRequest struct {
	NetworkID string
}

type endpointInterface struct {
	Address     string
	AddressIPv6 string
	MacAddress  string
}

type createEndpointRequest struct {
	NetworkID  string
	EndpointID string
	Interface  *endpointInterface
	Options    map[string]any
}

type createEndpointResponse struct {
	Interface *endpointInterface
}

// endpointRequest is the body of DeleteEndpoint, EndpointOperInfo, Leave and
// RevokeExternalConnectivity.
type endpointRequest struct {
	NetworkID  string
	EndpointID string
}

type infoResponse struct {
	Value map[string]any
}

// externalRequest is the body of ProgramExternalConnectivity and
// RevokeExternalConnectivity; Options carries the published ports
// (optPortMap) on Program.
type externalRequest struct {
	NetworkID  string
	EndpointID string
	Options    map[string]any
}

type joinRequest struct {
	NetworkID  string
	EndpointID string
	SandboxKey string
	Options    map[string]any
}

type interfaceName struct {
	SrcName   string
	DstPrefix string
}

type staticRoute struct {
	Destination string
	RouteType   int
	NextHop     string
}

// routeNextHop is libnetwork's types.NEXTHOP: a route via NextHop.
const routeNextHop = 0

type joinResponse struct {
	InterfaceName         interfaceName
	Gateway               string `json:",omitempty"`
	GatewayIPv6           string `json:",omitempty"`
	StaticRoutes          []staticRoute
	DisableGatewayService bool
}

type ipamCapabilities struct {
	RequiresMACAddress    bool
	RequiresRequestReplay bool
}

type addressSpacesResponse struct {
	LocalDefaultAddressSpace  string
	GlobalDefaultAddressSpace string
}

type requestPoolRequest struct {
	AddressSpace string
	Pool         string
	SubPool      string
	Options      map[string]string
	V6           bool
}

type requestPoolResponse struct {
	PoolID string
	Pool   string
	Data   map[string]string
}

type releasePoolRequest struct {
	PoolID string
}

type requestAddressRequest struct {
	PoolID  string
	Address string
	Options map[string]string
}

type requestAddressResponse struct {
	Address string
	Data    map[string]string
}

type releaseAddressRequest struct {
	PoolID  string
	Address string
}

// portBinding is one entry of the com.docker.network.portmap option.
type portBinding struct {
	Proto       int
	IP          string
	Port        int
	HostIP      string
	HostPort    int
	HostPortEnd int
}
