#!/usr/bin/env bash
# create-dcos-network.sh: create the Docker network `dcos` on this node, as
# DC/OS did, on the dcnet driver: the node's subnet of the overlay comes from
# overlayd, addresses come from the same pool as the CNI plugin's, and the
# containers sit on the same bridge. Idempotent: a network of that name on
# the dcnet driver is left alone; one on another driver is an error.
#
#   scripts/create-dcos-network.sh                 # network dcos on overlay dcos
#   NETWORK=dcos6 OVERLAY=dcos6 IPV6=1 scripts/create-dcos-network.sh
#
# Environment: NETWORK (default dcos), OVERLAY (default dcos), IPV6 (1: also
# the overlay's IPv6 node subnet; the overlay must be dual-stack, or
# IPv6-only with IPV4=0: dockerd before 27 still asks for an IPv4 pool and
# dcnet-cnm answers a placeholder that gives containers no IPv4 route),
# IPV4 (default 1), DOCKER (default docker),
# DOCKER_HOST, DCNETCTL (default dcnetctl), OVERLAYD_SOCKET (default
# /run/dcnet/overlayd.sock). Needs jq.
set -euo pipefail

NETWORK=${NETWORK:-dcos}
OVERLAY=${OVERLAY:-dcos}
IPV4=${IPV4:-1}
IPV6=${IPV6:-0}
DOCKER=${DOCKER:-docker}
DCNETCTL=${DCNETCTL:-dcnetctl}
OVERLAYD_SOCKET=${OVERLAYD_SOCKET:-/run/dcnet/overlayd.sock}

die() { echo "create-dcos-network: $*" >&2; exit 1; }

if driver=$($DOCKER network inspect -f '{{.Driver}}' "$NETWORK" 2>/dev/null); then
	[[ $driver == dcnet ]] || die "network $NETWORK exists with driver $driver, not dcnet: remove it first (docker network rm $NETWORK)"
	echo "network $NETWORK already exists on dcnet"
	exit 0
fi

networks=$($DCNETCTL --socket "$OVERLAYD_SOCKET" -o json networks) || die "cannot ask overlayd (is it running? socket $OVERLAYD_SOCKET)"
subnet=$(jq -r --arg o "$OVERLAY" '.[] | select(.name == $o) | .nodeSubnet // empty' <<<"$networks")
subnet6=$(jq -r --arg o "$OVERLAY" '.[] | select(.name == $o) | .nodeSubnet6 // empty' <<<"$networks")
jq -e --arg o "$OVERLAY" 'any(.[]; .name == $o)' <<<"$networks" >/dev/null ||
	die "overlay $OVERLAY is not configured in overlayd (have: $(jq -r '[.[].name] | join(", ")' <<<"$networks"))"

args=(network create --driver dcnet --ipam-driver dcnet -o "dcnet.overlay=$OVERLAY" --ipam-opt "dcnet.overlay=$OVERLAY")
if [[ $IPV4 == 1 ]]; then
	[[ -n $subnet ]] || die "overlay $OVERLAY has no IPv4 node subnet yet (is the cluster store reachable?)"
	args+=(--subnet "$subnet")
fi
if [[ $IPV6 == 1 ]]; then
	[[ -n $subnet6 ]] || die "overlay $OVERLAY has no IPv6 node subnet"
	args+=(--ipv6 --subnet "$subnet6")
fi
$DOCKER "${args[@]}" "$NETWORK" >/dev/null
echo "network $NETWORK created on overlay $OVERLAY (${subnet}${subnet6:+ $subnet6})"
