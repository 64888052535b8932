#!/usr/bin/env bash
# deps.sh installs what the demo, the tests and the benchmarks need: Debian
# packages through apt-get (cnitool and the reference CNI plugins are
# built by `make build` from the versions pinned in go.mod). Idempotent: when all is
# there it touches nothing. It starts no service: daemons in the packages
# (etcd, dockerd, containerd, unbound, haproxy, knotd, ZooKeeper's java) are kept from starting by a
# policy-rc.d during the install, and any that started anyway is stopped by
# its PID.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
	iproute2 iptables nftables iputils-ping iperf3 dnsutils ethtool
	etcd-server etcd-client containernetworking-plugins
	jq curl ca-certificates procps psmisc netcat-openbsd
	docker.io dnsperf unbound
	# dcnet-l7lb's data plane (Debian 12: HAProxy 2.6) and an HTTP load generator
	haproxy wrk
	# podman 4.3 with its CNI backend, runc and a static busybox rootfs: a real CNI client for dcnet-portmap's tests
	podman runc busybox-static
	# ZooKeeper for Mesos-DNS mode's leader detection test (run only in a
	# namespace, data dir in the test's temp dir; the package alone starts
	# no service, zookeeperd would)
	zookeeper
	# Knot DNS, an authoritative anchor of bench/dns
	knot
)
# java: a ZooKeeper the install might start runs as java
DAEMONS=(etcd dockerd containerd unbound haproxy knotd java)
POLICY_RC=/usr/sbin/policy-rc.d
STOP_WAIT_SECONDS=10
policy_saved="" # "" nothing to restore, "none" no policy before, else a backup file

step() { echo "deps: $*"; }

installed() {
	[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]
}

daemon_pids() {
	local d
	for d in "${DAEMONS[@]}"; do
		pgrep -x "$d" 2>/dev/null || true
	done | sort
}

# stop_pid sends SIGTERM, waits a bounded time, then SIGKILL.
stop_pid() {
	local pid=$1 i
	kill -TERM "$pid" 2>/dev/null || return 0
	for ((i = 0; i < STOP_WAIT_SECONDS * 10; i++)); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
}

# restore_policy puts back the policy-rc.d that was there before, or none.
# Safe to call repeatedly.
restore_policy() {
	case "$policy_saved" in
	"") return 0 ;;
	none) rm -f "$POLICY_RC" ;;
	*) cp -p "$policy_saved" "$POLICY_RC" && rm -f "$policy_saved" ;;
	esac
	policy_saved=""
}

install_packages() {
	local missing=() p
	for p in "${PACKAGES[@]}"; do
		installed "$p" || missing+=("$p")
	done
	if [ ${#missing[@]} -eq 0 ]; then
		step "packages: all ${#PACKAGES[@]} installed"
		return
	fi
	if [ "$(id -u)" -ne 0 ]; then
		echo "deps: missing packages ${missing[*]}: run as root" >&2
		exit 1
	fi

	local log before
	log=$(mktemp "${TMPDIR:-/tmp}/dcnet-deps.XXXXXX.log")
	if [ -e "$POLICY_RC" ]; then
		policy_saved=$(mktemp)
		cp -p "$POLICY_RC" "$policy_saved"
	else
		policy_saved=none
	fi
	# Put the host's policy-rc.d back however the install ends.
	trap restore_policy EXIT
	trap 'restore_policy; exit 130' INT TERM
	printf '#!/bin/sh\n# dcnet scripts/deps.sh: start no service while installing.\nexit 101\n' >"$POLICY_RC"
	chmod 755 "$POLICY_RC"
	before=$(daemon_pids)

	export DEBIAN_FRONTEND=noninteractive
	step "apt-get update (log $log)"
	if ! apt-get update -q >>"$log" 2>&1; then
		tail -n 20 "$log" >&2
		exit 1
	fi
	step "apt-get install ${missing[*]}"
	if ! apt-get install -y -q --no-install-recommends \
		-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
		"${missing[@]}" >>"$log" 2>&1; then
		tail -n 20 "$log" >&2
		exit 1
	fi

	restore_policy
	trap - EXIT INT TERM
	step "policy-rc.d restored"

	local pid
	for pid in $(comm -13 <(echo "$before") <(daemon_pids)); do
		step "stopping $(ps -o comm= -p "$pid" 2>/dev/null || echo daemon) pid $pid started by the install"
		stop_pid "$pid"
	done
	rm -f "$log"
}

install_packages
step "done"
