package api

// PathOverlayAgent is the Mesos overlay module's agent endpoint
// (dcos/dcos-mesos-modules overlay/overlay.proto AgentInfo, as the module
// served it on the agent), which overlayd serves on its metrics address
// for DC/OS tooling and checks (test_if_overlay_ok) that read it.
const PathOverlayAgent = "/overlay-agent/overlay"

// Overlay states of OverlayState.Status.
const (
	OverlayStatusOK          = "STATUS_OK"
	OverlayStatusConfiguring = "STATUS_CONFIGURING"
)

// OverlayAgent is the module's AgentInfo: the agent's address and its
// overlays.
type OverlayAgent struct {
	IP       string             `json:"ip"`
	Overlays []AgentOverlayInfo `json:"overlays"`
}

// AgentOverlayInfo is one overlay on this agent.
type AgentOverlayInfo struct {
	Info OverlayInfo `json:"info"`
	// Subnet and Subnet6 are the node's subnets of the overlay.
	Subnet  string `json:"subnet,omitempty"`
	Subnet6 string `json:"subnet6,omitempty"`
	// MesosBridge and DockerBridge are the bridges UCR and Docker
	// containers attach to (dcnet serves both runtimes from one).
	MesosBridge  *OverlayBridge `json:"mesos_bridge,omitempty"`
	DockerBridge *OverlayBridge `json:"docker_bridge,omitempty"`
	Backend      OverlayBackend `json:"backend"`
	State        OverlayState   `json:"state"`
}

// OverlayInfo is the overlay's cluster-wide definition.
type OverlayInfo struct {
	Name    string `json:"name"`
	Subnet  string `json:"subnet,omitempty"`
	Prefix  int    `json:"prefix,omitempty"`
	Subnet6 string `json:"subnet6,omitempty"`
	Prefix6 int    `json:"prefix6,omitempty"`
}

// OverlayBridge is a bridge with its gateway addresses in CIDR form.
type OverlayBridge struct {
	Name string `json:"name"`
	IP   string `json:"ip,omitempty"`
	IP6  string `json:"ip6,omitempty"`
}

// OverlayBackend is the tunnel: VxLAN.
type OverlayBackend struct {
	VxLAN OverlayVxLAN `json:"vxlan"`
}

// OverlayVxLAN is the node's VTEP.
type OverlayVxLAN struct {
	VNI      int    `json:"vni"`
	VTEPName string `json:"vtep_name"`
	VTEPIP   string `json:"vtep_ip,omitempty"`
	VTEPIP6  string `json:"vtep_ip6,omitempty"`
	VTEPMAC  string `json:"vtep_mac,omitempty"`
}

// OverlayState is the overlay's state on the agent: STATUS_OK once its
// node subnets are on the bridge.
type OverlayState struct {
	Status string `json:"status"`
	Error  string `json:"error,omitempty"`
}
