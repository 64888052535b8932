#!/usr/bin/env bash
# demo.sh: a dcnet cluster in network namespaces on this machine. Three
# masters run a three-member etcd cluster (Debian's etcd-server), three
# agents run overlayd against it, containers on every agent are attached
# with cnitool and the dcnet CNI plugin (IPv4 on overlay dcos, IPv6 on
# dcos6), reach each other across nodes over VxLAN and an outside host
# through masquerade; dcnet-l4lb load-balances the named VIP /web:80 over
# backends on two nodes from a client on a third, and keeps answering when a
# backend goes away; dcnet-dns on every agent answers the VIP's, the
# tasks' (from Mesos-DNS mode on the masters, fed a saved Mesos state) and
# the node's names on 198.51.100.1; then a master is killed and the overlay keeps
# working.
# Everything it makes is removed at the end, also on failure. Nothing
# touches the host's own network namespace.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=$PWD/bin
P=dcnet-demo                 # prefix of every namespace this script makes
TMP=$(mktemp -d /tmp/dcnet-demo.XXXXXX)
FABRIC=$P-fabric
MASTERS=(m1 m2 m3)
AGENTS=(a1 a2 a3)
declare -A UNDERLAY=([m1]=198.18.0.1 [m2]=198.18.0.2 [m3]=198.18.0.3 [a1]=198.18.0.11 [a2]=198.18.0.12 [a3]=198.18.0.13 [outside]=198.19.255.254)
declare -A PID IP4 IP6
ORDER=() # names in PID, in start order: stopped in reverse (etcd last)
WAIT_TRIES=150               # x 0.1 s
ENDPOINTS=http://198.18.0.1:2379,http://198.18.0.2:2379,http://198.18.0.3:2379

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }
ctl() { "$BIN/dcnetctl" --socket "$TMP/$1/run/overlayd.sock" "${@:2}"; }
cni() { # cni AGENT COMMAND NETWORK CONTAINER [IFNAME]
	ip netns exec "$P-$1" env CNI_PATH="$BIN" NETCONFPATH="$TMP/$1/cni" CNI_IFNAME="${5:-eth0}" \
		"$BIN/cnitool" "$2" "$3" "/run/netns/$P-$4"
}

# started NAME PID records a process to stop at cleanup.
started() { PID[$1]=$2; ORDER+=("$1"); }

stop_pid() {
	kill -TERM "$1" 2>/dev/null || return 0
	for ((i = 0; i < WAIT_TRIES; i++)); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
	kill -KILL "$1" 2>/dev/null || true
}

cleanup() {
	set +e
	step "cleanup"
	local k who
	for ((k = ${#ORDER[@]} - 1; k >= 0; k--)); do
		who=${ORDER[$k]}
		[ -n "${PID[$who]:-}" ] || continue # stopped on purpose earlier
		stop_pid "${PID[$who]}" && echo "stopped $who (pid ${PID[$who]})"
	done
	for ns in $(ip netns list | awk '{print $1}' | grep "^$P-a.-" || true); do
		for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
	done
	for ns in $(ip netns list | awk '{print $1}' | grep "^$P-"); do ip netns del "$ns"; done
	echo "deleted every $P-* namespace"
	rm -rf "$TMP"
}
trap cleanup EXIT

[ "$(id -u)" -eq 0 ] || { echo "demo: run as root (it creates network namespaces)" >&2; exit 1; }
for b in overlayd dcnet dcnetctl cnitool dcnet-l4lb dcnet-dns; do
	[ -x "$BIN/$b" ] || { echo "demo: $BIN/$b missing: run 'make demo' (it builds first)" >&2; exit 1; }
done
command -v etcd >/dev/null || { echo "demo: etcd missing: run 'make demo' (scripts/deps.sh installs etcd-server)" >&2; exit 1; }
for ns in $(ip netns list | awk '{print $1}' | grep "^$P-" || true); do ip netns del "$ns"; done

step "1. underlay: a switch (netns $FABRIC) with masters, agents and an outside host on 198.18.0.0/15"
ip netns add "$FABRIC"
ip -n "$FABRIC" link add fabric0 type bridge
ip -n "$FABRIC" link set fabric0 up
for who in "${MASTERS[@]}" "${AGENTS[@]}" outside; do
	ip netns add "$P-$who"
	ip -n "$P-$who" link set lo up
	ip link add "up-$who" netns "$FABRIC" type veth peer name eth0 netns "$P-$who"
	ip -n "$FABRIC" link set "up-$who" master fabric0 up
	ip -n "$P-$who" addr add "${UNDERLAY[$who]}/15" dev eth0
	ip -n "$P-$who" link set eth0 up
	printf '  %-8s %s\n' "$who" "${UNDERLAY[$who]}"
done

step "2. masters: a three-member etcd cluster"
cluster=""
for m in "${MASTERS[@]}"; do cluster+="${cluster:+,}$m=http://${UNDERLAY[$m]}:2380"; done
for m in "${MASTERS[@]}"; do
	mkdir -p "$TMP/$m"
	ip netns exec "$P-$m" etcd --name "$m" --data-dir "$TMP/$m/etcd" \
		--listen-client-urls "http://${UNDERLAY[$m]}:2379" --advertise-client-urls "http://${UNDERLAY[$m]}:2379" \
		--listen-peer-urls "http://${UNDERLAY[$m]}:2380" --initial-advertise-peer-urls "http://${UNDERLAY[$m]}:2380" \
		--initial-cluster "$cluster" --initial-cluster-token dcnet-demo --log-level warn >"$TMP/$m/etcd.log" 2>&1 &
	started $m $!
done
for ((i = 0; i < WAIT_TRIES; i++)); do
	ip netns exec "$P-m1" etcdctl --endpoints "$ENDPOINTS" endpoint health >/dev/null 2>&1 && break
	sleep 0.1
done
run ip netns exec "$P-m1" etcdctl --endpoints "$ENDPOINTS" member list

step "3. agents: overlayd on each, pointed at the masters (conf/overlayd.json: dcos 9.0.0.0/8, dcos6 fd01:b::/64)"
for a in "${AGENTS[@]}"; do
	mkdir -p "$TMP/$a/cni"
	ip netns exec "$P-$a" "$BIN/overlayd" --config conf/overlayd.json --node-name "$a" --underlay-ip "${UNDERLAY[$a]}" \
		--etcd-endpoints "$ENDPOINTS" --run-dir "$TMP/$a/run" --state-dir "$TMP/$a/state" >"$TMP/$a/overlayd.log" 2>&1 &
	started $a $!
	for net in dcos dcos6; do
		echo "{\"cniVersion\":\"1.1.0\",\"name\":\"$net\",\"plugins\":[{\"type\":\"dcnet\",\"socket\":\"$TMP/$a/run/overlayd.sock\"}]}" >"$TMP/$a/cni/$net.conflist"
	done
done
for a in "${AGENTS[@]}"; do
	for ((i = 0; i < WAIT_TRIES; i++)); do
		# converged: two peers known and their routes in the kernel
		[ "$(ctl "$a" -o json peers 2>/dev/null | jq length 2>/dev/null)" = "2" ] &&
			[ "$(ip -n "$P-$a" route show dev vtep1024 2>/dev/null | grep -c onlink)" = "2" ] && break
		kill -0 "${PID[$a]}" 2>/dev/null || { cat "$TMP/$a/overlayd.log"; exit 1; }
		sleep 0.1
	done
done
run ctl a1 nodes
run ctl a1 peers
run ip -n "$P-a1" -d link show vtep1024
run ip -n "$P-a1" neigh show dev vtep1024
run bridge -n "$P-a1" fdb show dev vtep1024
run ip -n "$P-a1" route show dev vtep1024

step "4. a container on every agent: eth0 on dcos (IPv4), eth1 on dcos6 (IPv6)"
for a in "${AGENTS[@]}"; do
	ip netns add "$P-$a-web"
	IP4[$a]=$(cni "$a" add dcos "$a-web" eth0 | jq -r '.ips[0].address' | cut -d/ -f1)
	IP6[$a]=$(cni "$a" add dcos6 "$a-web" eth1 | jq -r '.ips[0].address' | cut -d/ -f1)
	echo "  $a-web: ${IP4[$a]} ${IP6[$a]} (mtu $(ip netns exec "$P-$a-web" cat /sys/class/net/eth0/mtu))"
done

reach() { # reach FROM-AGENT TO-ADDRESS LABEL
	printf '$ ip netns exec %s ping -c1 %s   (%s) ... ' "$P-$1-web" "$2" "$3"
	if ip netns exec "$P-$1-web" ping -c1 -W2 "$2" >/dev/null; then echo ok; else echo FAILED; return 1; fi
}
step "5. containers reach each other across nodes over VxLAN (IPv4 and IPv6)"
for pair in "a1 a2" "a2 a3" "a3 a1"; do
	set -- $pair
	reach "$1" "${IP4[$2]}" "$1 -> $2"
	reach "$1" "${IP6[$2]}" "$1 -> $2"
done
printf '$ ip netns exec %s curl -s http://[%s]:8080/  (TCP across nodes) ... ' "$P-a1-web" "${IP6[a2]}"
printf 'HTTP/1.0 200 OK\r\n\r\nhello from a2-web over the IPv6 overlay\n' | ip netns exec "$P-a2-web" timeout 5 nc -6 -N -l 8080 >/dev/null 2>&1 &
started nc $!
sleep 0.3
ip netns exec "$P-a1-web" curl -s -m 3 "http://[${IP6[a2]}]:8080/" || echo FAILED
wait "${PID[nc]}" 2>/dev/null || true
unset 'PID[nc]'

step "6. a container reaches the outside host through masquerade"
reach a1 198.19.255.254 "a1-web -> outside"
run ip netns exec "$P-a1" iptables -t nat -S DCNET-POSTROUTING

step "7. endpoint records in the cluster store"
sleep 0.3
run ctl a3 endpoints

step "8. a named VIP: dcnet-l4lb on every agent, /web:80 served by containers on a2 and a3"
for a in "${AGENTS[@]}"; do
	ip netns exec "$P-$a" "$BIN/dcnet-l4lb" --etcd-endpoints "$ENDPOINTS" --node-name "$a" >"$TMP/$a/l4lb.log" 2>&1 &
	started l4lb-$a $!
	echo "{\"cniVersion\":\"1.1.0\",\"name\":\"web\",\"plugins\":[{\"type\":\"dcnet\",\"network\":\"dcos\",\"socket\":\"$TMP/$a/run/overlayd.sock\",\"args\":{\"labels\":[{\"key\":\"VIP_0\",\"value\":\"/web:80\"}]}}]}" >"$TMP/$a/cni/web.conflist"
done
SERVE_ROUNDS=500             # requests one backend answers at most
for a in a2 a3; do
	ip netns add "$P-$a-backend"
	printf '$ cnitool add web (label VIP_0=/web:80) on %s ... ' "$a"
	cni "$a" add web "$a-backend" | jq -r '.ips[0].address'
	ip netns exec "$P-$a-backend" bash -c "for ((i = 0; i < $SERVE_ROUNDS; i++)); do printf 'HTTP/1.0 200 OK\r\n\r\nanswered by the backend on $a\n' | nc -4 -N -l 80 >/dev/null 2>&1; done" &
	started web-$a $!
done
VIP=""
for ((i = 0; i < WAIT_TRIES; i++)); do
	VIP=$(ip netns exec "$P-a1" curl -s -m 1 http://127.0.0.1:62083/v1/dcnet/vips 2>/dev/null |
		jq -r '.vips[] | select(.name == "web.marathon.l4lb.thisdcos.directory" and (.address | contains(".")) and ([.backend[] | select(.active)] | length) == 2) | .address' 2>/dev/null | head -1)
	[ -n "$VIP" ] && break
	sleep 0.1
done
[ -n "$VIP" ] || { echo "demo: the VIP did not show up on a1"; cat "$TMP/a1/l4lb.log"; exit 1; }
run ip netns exec "$P-a1" "$BIN/dcnetctl" vips
run ip netns exec "$P-a1" nft list map ip dcnet-l4lb vips
requests() { # requests N: N requests from a1-web to the VIP, counted by answer
	local n=$1 ok=0 fail=0 out
	declare -A by
	for ((i = 0; i < n; i++)); do
		if out=$(ip netns exec "$P-a1-web" curl -s -m 2 "http://$VIP/"); then ok=$((ok + 1)); by[$out]=$((${by[$out]:-0} + 1)); else fail=$((fail + 1)); fi
	done
	for k in "${!by[@]}"; do echo "  ${by[$k]} x $k"; done
	echo "  $ok answered, $fail failed"
	[ "$fail" -eq 0 ]
}
echo "\$ ip netns exec $P-a1-web curl http://$VIP/   (web.marathon.l4lb.thisdcos.directory, 20 requests from a1)"
requests 20

step "9. DNS: Mesos-DNS on every master, dcnet-dns on every agent (198.51.100.1-3 on link spartan)"
# There is no Mesos here: the masters read a saved /master/state describing
# the web tasks on a2 and a3 (their real container IPs) instead of polling
# http://<master>:5050/master/state, and publish the task names to etcd.
# Both run DC/OS's own configuration files (conf/dns: Mesos-DNS's
# mesos-dns.json, dcos-dns's dcos-dns.json); flags override them: the
# state file stands in for ZooKeeper and the masters, the outside host for
# the upstream resolvers.
mesos_state() { # mesos_state > FILE: marathon's task "web" on a2 and a3
	local tasks="" sep="" a ip
	for a in a2 a3; do
		ip=$(ip -n "$P-$a-backend" -4 -o addr show eth0 | awk '{print $4}' | cut -d/ -f1)
		tasks+="$sep{\"id\":\"web.$a\",\"name\":\"web\",\"framework_id\":\"fw-marathon\",\"slave_id\":\"agent-$a\",\"state\":\"TASK_RUNNING\",\"resources\":{\"ports\":\"[80-80]\"},\"statuses\":[{\"state\":\"TASK_RUNNING\",\"timestamp\":1,\"container_status\":{\"network_infos\":[{\"name\":\"dcos\",\"ip_addresses\":[{\"protocol\":\"IPv4\",\"ip_address\":\"$ip\"}]}]}}]}"
		sep=,
	done
	local agents="" m
	sep=""
	for a in "${AGENTS[@]}"; do agents+="$sep{\"id\":\"agent-$a\",\"hostname\":\"${UNDERLAY[$a]}\",\"pid\":\"slave(1)@${UNDERLAY[$a]}:5051\"}"; sep=,; done
	m=${UNDERLAY[m1]}
	echo "{\"id\":\"demo-master\",\"pid\":\"master@$m:5050\",\"hostname\":\"$m\",\"leader\":\"master@$m:5050\",\"leader_info\":{\"id\":\"demo-master\",\"pid\":\"master@$m:5050\",\"port\":5050,\"hostname\":\"$m\"},\"frameworks\":[{\"id\":\"fw-marathon\",\"name\":\"marathon\",\"hostname\":\"$m\",\"pid\":\"scheduler@$m:8080\",\"active\":true,\"tasks\":[$tasks]}],\"slaves\":[$agents]}" | jq .
}
mesos_state >"$TMP/master-state.json"
for m in "${MASTERS[@]}"; do
	ip netns exec "$P-$m" "$BIN/dcnet-dns" --mode mesos-dns --config conf/dns/mesos-dns.json \
		--mesos-state-file "$TMP/master-state.json" --refresh 1s \
		--etcd-endpoints "$ENDPOINTS" --upstream "${UNDERLAY[outside]}" >"$TMP/dns-$m.log" 2>&1 &
	started mesos-dns-$m $!
done
for a in "${AGENTS[@]}"; do
	ip netns exec "$P-$a" "$BIN/dcnet-dns" --config conf/dns/dcos-dns.json --node-ip "${UNDERLAY[$a]}" --etcd-endpoints "$ENDPOINTS" \
		--mesos-dns "${UNDERLAY[m1]}" --mesos-dns "${UNDERLAY[m2]}" --mesos-dns "${UNDERLAY[m3]}" \
		--upstream "${UNDERLAY[outside]}" --mesos-dns-refresh 2s >"$TMP/$a/dns.log" 2>&1 &
	started dns-$a $!
done
for a in "${AGENTS[@]}"; do
	for ((i = 0; i < WAIT_TRIES; i++)); do
		[ "$(ip netns exec "$P-$a-web" dig +short +time=1 +tries=1 @198.51.100.1 ready.spartan 2>/dev/null)" = "127.0.0.1" ] && break
		sleep 0.1
	done
done
run ip -n "$P-a2" -br addr show spartan
for a in "${AGENTS[@]}"; do # mesos.thisdcos.directory: read from the masters' /v1/axfr
	for ((i = 0; i < WAIT_TRIES; i++)); do
		[ -n "$(ip netns exec "$P-$a-web" dig +short +time=1 +tries=1 @198.51.100.1 web.marathon.mesos.thisdcos.directory 2>/dev/null)" ] && break
		sleep 0.1
	done
done
for a in "${AGENTS[@]}"; do
	for name in web.marathon.l4lb.thisdcos.directory thisnode.thisdcos.directory web.marathon.containerip.dcos.thisdcos.directory web.marathon.mesos \
		web.marathon.mesos.thisdcos.directory zk-1.zk; do
		printf '$ ip netns exec %s dig +short @198.51.100.1 %s ... %s\n' "$P-$a-web" "$name" \
			"$(ip netns exec "$P-$a-web" dig +short +time=2 +tries=1 @198.51.100.1 "$name" | tr '\n' ' ')"
	done
done
for ((i = 0; i < WAIT_TRIES; i++)); do
	[ -n "$(ip netns exec "$P-m1" curl -s -m 1 http://127.0.0.1:8123/v1/hosts/leader.mesos | jq -r '.[0].ip // empty' 2>/dev/null)" ] && break
	sleep 0.1
done
run ip netns exec "$P-m1" curl -s http://127.0.0.1:8123/v1/hosts/web.marathon.mesos
echo
# The three masters elected one of them to publish the task names: the
# oldest candidate key (first by create revision) is the publisher.
run ip netns exec "$P-m1" etcdctl --endpoints "$ENDPOINTS" get --prefix /dcnet/v1/dns/publisher/ \
	--sort-by=CREATE --order=ASCEND --print-value-only
run ip netns exec "$P-a2-web" dig +noall +answer @198.51.100.1 SRV _web._tcp.marathon.mesos
# An agent's own address answers the cluster names to other nodes, but
# forwards nothing for them: no open resolver on the underlay.
printf '$ ip netns exec %s dig @%s zk-1.zk ... %s\n' "$P-a2" "${UNDERLAY[a1]}" \
	"$(ip netns exec "$P-a2" dig +short +time=2 +tries=1 "@${UNDERLAY[a1]}" zk-1.zk | tr '\n' ' ')"
printf '$ ip netns exec %s dig @%s example.com ... %s\n' "$P-a2" "${UNDERLAY[a1]}" \
	"$(ip netns exec "$P-a2" dig +time=2 +tries=1 "@${UNDERLAY[a1]}" example.com | grep -o 'status: [A-Z]*')"
printf '$ ip netns exec %s curl http://web.marathon.l4lb.thisdcos.directory/   (resolved with dig @198.51.100.1) ... ' "$P-a3-web"
addr=$(ip netns exec "$P-a3-web" dig +short +time=2 +tries=1 @198.51.100.1 web.marathon.l4lb.thisdcos.directory | head -1)
ip netns exec "$P-a3-web" curl -s -m 3 --resolve "web.marathon.l4lb.thisdcos.directory:80:$addr" http://web.marathon.l4lb.thisdcos.directory/ || echo FAILED

step "10. the backend on a3 goes away (its container is deleted, as when its task is killed): no request fails"
cni a3 del web a3-backend
sleep 0.2
kill "${PID[web-a3]}" 2>/dev/null; for pid in $(ip netns pids "$P-a3-backend"); do kill "$pid" 2>/dev/null; done
echo "\$ ip netns exec $P-a1-web curl http://$VIP/   (20 more requests)"
requests 20

step "11. kill -9 master m1: the etcd cluster keeps quorum, the overlay keeps working"
kill -KILL "${PID[m1]}"
wait "${PID[m1]}" 2>/dev/null || true # reap it quietly
unset 'PID[m1]'
echo "killed etcd on m1"
ip netns add "$P-a2-db"
printf '$ cnitool add dcos (new container on a2 with m1 down) ... '
IP4[db]=$(cni a2 add dcos a2-db | jq -r '.ips[0].address' | cut -d/ -f1) && echo "${IP4[db]}"
reach a1 "${IP4[db]}" "a1-web -> a2-db"
reach a3 "${IP4[a1]}" "a3-web -> a1-web"
run ctl a2 status
echo
echo "demo: done"
