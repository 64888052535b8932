// Package cnm is dcnet-cnm, Docker's remote network driver and IPAM driver
// for the dcnet overlay: one process, one socket
// (/run/docker/plugins/dcnet.sock) whose /Plugin.Activate announces both
// NetworkDriver and IpamDriver, local scope. Containers of a Docker network
// on the dcnet driver get addresses from overlayd's pool of the node subnet
// (the one the CNI plugin uses), a veth on the overlay's node bridge
// (m-dcos), and an endpoint record with their labels for l4lb and dns.
//
//	docker network create -d dcnet --ipam-driver dcnet --subnet 9.0.3.0/24 \
//	    [-o dcnet.overlay=dcos] [--ipv6 --subnet fd01:b::3:0:0:0/80] dcos
//
// scripts/create-dcos-network.sh does this with the node subnet read from
// overlayd. An IPv6-only overlay (DC/OS's dcos6) takes
//
//	docker network create -d dcnet --ipam-driver dcnet --ipam-opt dcnet.overlay=dcos6 \
//	    -o dcnet.overlay=dcos6 --ipv6 --subnet fd01:b::3:0:0:0/80 dcos6
//
// (NETWORK=dcos6 OVERLAY=dcos6 IPV4=0 IPV6=1 scripts/create-dcos-network.sh):
// dockerd before 27 asks for an IPv4 pool all the same, and gets a
// placeholder that gives containers no IPv4 route (noipv4.go). --subnet is required: dockerd checks a pool it did not name
// against the routes of its netns, finds the node bridge's route and asks
// again forever; the driver refuses such a request with the subnet to pass.
//
// # Wire protocol
//
// The request and answer bodies are libnetwork's remote API (wire.go), served
// by one mux (server.go). The helpers of github.com/docker/go-plugins-helpers
// cannot serve both interfaces on one socket (each handler registers its own
// /Plugin.Activate naming one interface) and answer a body that is no JSON
// with a plain-text 400, so they are not used. Every failure is a 500 with
// {"Err": "dcnet: ..."}, which dockerd shows as "NetworkDriver.CreateNetwork:
// dcnet: ...".
//
// # Pools
//
// A pool is an overlay's node subnet of one family; its ID is
// dcnet:<overlay>:4 or dcnet:<overlay>:6, so the ID alone says what to serve
// (a state lost with dockerd still holding pool IDs works). RequestPool is
// idempotent and reference-counted per pool ID (persisted); the overlay is
// the one whose node subnet --subnet names, or --ipam-opt dcnet.overlay. A
// --subnet that overlaps a node subnet without being it is refused, and
// CreateNetwork refuses a second Docker network on an overlay that already
// carries one (naming it, with `dcnet-cnm --forget-network ID` for a network
// dockerd deleted while the plugin was down). The gateway is the node
// bridge's address: RequestPool returns it in its data, and a gateway
// RequestAddress (RequestAddressType=com.docker.network.gateway) returns it
// without allocating.
//
// # Attachment IDs: addresses before endpoints
//
// dockerd asks IPAM for an address before the endpoint exists, so the
// address is allocated in overlayd under a provisional attachment ID and
// re-keyed when the endpoint is created:
//
//	RequestAddress  Allocate {overlay, cnm-<MAC>, docker}, Config docker:<overlay>, Runtime docker, Unpublished
//	CreateEndpoint  Update   {overlay, cnm-<MAC>, docker} -> {overlay, <endpoint ID>, docker} + labels
//	Join            Publish  once the veth exists: the endpoint record appears
//	Leave           Withdraw before the veth goes (overlayd waits for every dcnet-l4lb)
//	DeleteEndpoint  Withdraw (again, at once), the veth goes; the address stays allocated
//	ReleaseAddress  Release  the attachment that holds the address
//
// The IPAM driver declares RequiresMACAddress, so dockerd names the
// endpoint's MAC address in every RequestAddress: the IPv4 and IPv6 requests
// of one endpoint (dual-stack overlay) land on one attachment (Allocate is
// idempotent per ID), and Join gives the container end that MAC. Without a
// MAC the provisional ID is random. The Config docker:<overlay> cannot be a
// CNI configuration name (CNI names have no ':'), so CNI GC never releases
// Docker's addresses.
//
// The driver's state maps each handed-out address to its attachment, so
// ReleaseAddress releases exactly the attachment that holds that address (a
// dual-stack attachment's two addresses go together; the second release
// finds nothing, which is fine). The address is not released at
// DeleteEndpoint: dockerd's ReleaseAddress follows, and releasing earlier
// would let a concurrent RequestAddress get the address back before that
// ReleaseAddress, which would then free the new owner's.
//
// # State
//
// A bbolt file (--state-dir/cnm.db), written before every answer: networks
// (Docker ID -> overlay, labels, pools), endpoints (ID -> attachments,
// addresses, MAC, labels, joined), pools (ID -> refs) and addresses
// (overlay + address -> attachment, endpoint). dockerd replays nothing after
// its own or the plugin's restart, so a restart-policy container may call
// CreateEndpoint and Join on a network the state does not have: the network
// is adopted from the overlay whose node subnet holds the endpoint's address,
// and an address the state does not know is looked up in overlayd's
// attachments.
//
// Sweep (at start and every minute) releases what a crash leaked: overlayd
// attachments with a docker:* Config that the state does not know (the
// plugin died between overlayd's answer and its own write, so dockerd got no
// address), and addresses no endpoint has held for two minutes (dockerd
// died between RequestAddress and CreateEndpoint, or between DeleteEndpoint
// and ReleaseAddress).
//
// # Join and Leave
//
// Join creates a veth pair in the node netns (dcnet-cnm runs there): dcv<12
// chars of the endpoint ID> on the overlay's bridge with hairpin mode, the
// overlay MTU on both ends, and dct<...> left for dockerd, which moves it
// into the container, renames it eth<n> and sets the address. The answer
// names the bridge as Gateway (and GatewayIPv6) and sets
// DisableGatewayService, so dockerd adds no docker_gwbridge. Leave and
// DeleteEndpoint delete the pair (idempotently), so dockerd's rollback of a
// failed Join (Leave + DeleteEndpoint + ReleaseAddress on a half-built
// endpoint) leaves nothing behind. The driver never calls the Docker API.
//
// # Options and labels
//
// Network options (-o) must be known: dcnet.overlay, dcnet.task,
// dcnet.framework, dcnet.label.<key>, VIP_<n>/vip_<n>; anything else, or a
// malformed value, fails CreateNetwork with an error naming the option.
// Endpoint options (--network name=dcos,driver-opt=K=V, docker network
// connect --driver-opt K=V) take the same keys (dockerd's own
// com.docker.network.* keys are ignored). VIP labels pass through as they
// are (the docker CLI lower-cases --network driver-opt keys: vip_0); dcnet.task
// and dcnet.framework become DCNET_TASK and DCNET_FRAMEWORK; dcnet.label.K
// becomes K. Network labels apply to every endpoint, endpoint labels win.
// DCNET_TASK defaults to the container's name when dockerd sends it (its
// IPAM option com.docker.network.endpoint.name, dockerd 25 and later).
// Published ports (com.docker.network.portmap) become the record's port
// mappings.
package cnm
