#!/usr/bin/env bash
# demo.sh: one dcnet node in network namespaces on this machine. It starts
# overlayd (embedded etcd), attaches three containers with cnitool and the
# dcnet CNI plugin, shows them reaching each other and an "outside" host
# through masquerade, then removes everything it made (also on failure).
# Nothing touches the host's own network namespace.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=$PWD/bin
P=dcnet-demo                 # prefix of every namespace this script makes
TMP=$(mktemp -d /tmp/dcnet-demo.XXXXXX)
NODE=$P-node1
OUTSIDE=$P-outside
FABRIC=$P-fabric
CONTAINERS=(web-1 web-2 db-1)
OVERLAYD_PID=""
WAIT_TRIES=100               # x 0.1 s

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }
in_node() { ip netns exec "$NODE" "$@"; }

cleanup() {
	set +e
	step "cleanup"
	if [ -n "$OVERLAYD_PID" ]; then
		for c in "${CONTAINERS[@]}"; do
			[ -e "/run/netns/$P-$c" ] && in_node env CNI_PATH="$BIN" NETCONFPATH="$TMP/cni" "$BIN/cnitool" del dcos "/run/netns/$P-$c" >/dev/null 2>&1
		done
		kill -TERM "$OVERLAYD_PID" 2>/dev/null
		for ((i = 0; i < WAIT_TRIES; i++)); do kill -0 "$OVERLAYD_PID" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$OVERLAYD_PID" 2>/dev/null
		echo "stopped overlayd (pid $OVERLAYD_PID)"
	fi
	for ns in $(ip netns list | awk '{print $1}' | grep "^$P-"); do ip netns del "$ns" && echo "deleted netns $ns"; done
	rm -rf "$TMP"
}
trap cleanup EXIT

[ "$(id -u)" -eq 0 ] || { echo "demo: run as root (it creates network namespaces)" >&2; exit 1; }
for b in overlayd dcnet dcnetctl cnitool; do
	[ -x "$BIN/$b" ] || { echo "demo: $BIN/$b missing: run 'make demo' (it builds first)" >&2; exit 1; }
done
if ip netns list | grep -q "^$P-"; then
	echo "demo: removing namespaces left by an earlier run"
	for ns in $(ip netns list | awk '{print $1}' | grep "^$P-"); do ip netns del "$ns"; done
fi

step "1. underlay: a switch (netns $FABRIC), node1 198.18.0.1 and an outside host 198.19.255.254"
ip netns add "$FABRIC"
ip -n "$FABRIC" link add fabric0 type bridge
ip -n "$FABRIC" link set fabric0 up
attach() { # attach NS DEV ADDR
	ip netns add "$1"
	ip -n "$1" link set lo up
	ip link add "$P-$2" netns "$FABRIC" type veth peer name eth0 netns "$1"
	ip -n "$FABRIC" link set "$P-$2" master fabric0 up
	ip -n "$1" addr add "$3" dev eth0
	ip -n "$1" link set eth0 up
}
attach "$NODE" n1 198.18.0.1/15
attach "$OUTSIDE" out 198.19.255.254/15
run ip -n "$NODE" -br addr show eth0

step "2. overlayd on node1 (embedded etcd, state in $TMP/node1)"
mkdir -p "$TMP/node1"
in_node "$BIN/overlayd" --config conf/overlayd.json --node-name node1 --underlay-ip 198.18.0.1 \
	--run-dir "$TMP/node1/run" --state-dir "$TMP/node1/state" >"$TMP/node1/overlayd.log" 2>&1 &
OVERLAYD_PID=$!
echo "overlayd pid $OVERLAYD_PID, log $TMP/node1/overlayd.log"
SOCK=$TMP/node1/run/overlayd.sock
for ((i = 0; i < WAIT_TRIES; i++)); do
	"$BIN/dcnetctl" --socket "$SOCK" networks 2>/dev/null | grep -q '9\.0\.' && break
	kill -0 "$OVERLAYD_PID" 2>/dev/null || { cat "$TMP/node1/overlayd.log"; exit 1; }
	sleep 0.1
done
run "$BIN/dcnetctl" --socket "$SOCK" status
run ip -n "$NODE" -br addr show m-dcos
run ip netns exec "$NODE" iptables -t nat -S DCNET-POSTROUTING

step "3. three containers attached with cnitool + the dcnet CNI plugin"
mkdir -p "$TMP/cni"
cat >"$TMP/cni/10-dcos.conflist" <<JSON
{"cniVersion": "1.1.0", "name": "dcos",
 "plugins": [{"type": "dcnet", "socket": "$SOCK", "args": {"labels": [{"key": "VIP_0", "value": "/web:80"}]}}]}
JSON
declare -A IP
for c in "${CONTAINERS[@]}"; do
	ip netns add "$P-$c"
	printf '$ ip netns exec %s cnitool add dcos /run/netns/%s\n' "$NODE" "$P-$c"
	in_node env CNI_PATH="$BIN" NETCONFPATH="$TMP/cni" "$BIN/cnitool" add dcos "/run/netns/$P-$c" >"$TMP/$c.json"
	IP[$c]=$(jq -r '.ips[0].address' "$TMP/$c.json" | cut -d/ -f1)
	echo "  $c -> ${IP[$c]} (mtu $(ip netns exec "$P-$c" cat /sys/class/net/eth0/mtu))"
done
run "$BIN/dcnetctl" --socket "$SOCK" leases

step "4. containers reach each other over the node bridge"
for pair in "web-1 web-2" "web-2 db-1" "db-1 web-1"; do
	set -- $pair
	printf '$ ip netns exec %s ping -c1 %s   (%s -> %s) ... ' "$P-$1" "${IP[$2]}" "$1" "$2"
	ip netns exec "$P-$1" ping -c1 -W2 "${IP[$2]}" >/dev/null && echo ok
done

step "5. a container reaches the outside host through masquerade"
printf '$ ip netns exec %s ping -c1 198.19.255.254 ... ' "$P-web-1"
ip netns exec "$P-web-1" ping -c1 -W2 198.19.255.254 >/dev/null && echo ok
run ip netns exec "$NODE" iptables -t nat -L DCNET-POSTROUTING -v -n

step "6. endpoint records in the cluster store (labels included)"
sleep 0.3
run "$BIN/dcnetctl" --socket "$SOCK" endpoints

step "7. DEL releases; leases go back to zero"
for c in "${CONTAINERS[@]}"; do
	in_node env CNI_PATH="$BIN" NETCONFPATH="$TMP/cni" "$BIN/cnitool" del dcos "/run/netns/$P-$c"
done
run "$BIN/dcnetctl" --socket "$SOCK" leases
echo
echo "demo: done"
