package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/dcnet/dcnet/internal/benchkit"
)

// The Mesos port mapper's kernel API, as port_mapper.cpp's scripts drive
// it, in a chain of its own: ADD checks for the chain, then per mapping
// `iptables -w -t nat -C <rule> || iptables -w -t nat -A <rule>`; DEL
// lists the chain and deletes the tagged rules through sed. The rules are
// its: `-p tcp -m tcp --dport P -j DNAT --to-destination IP:P -m comment
// --comment "container_id: ID"`.
const (
	mesosChain = "M-BENCH"
	mesosRuns  = 25
	cmdTimeout = 2 * time.Minute
)

func mesosRule(port int, id string) string {
	return fmt.Sprintf(`%s -p tcp -m tcp --dport %d -j DNAT --to-destination 10.66.0.2:%d -m comment --comment "container_id: %s"`,
		mesosChain, port, port, id)
}

// mesosScripts are the ADD and DEL shell scripts for container id with
// host ports base and base+1.
func mesosScripts(id string, base int) (add, del string) {
	add = "iptables -w -t nat --list " + mesosChain + " >/dev/null\n"
	for _, p := range []int{base, base + 1} {
		r := mesosRule(p, id)
		add += fmt.Sprintf("(iptables -w -t nat -C %s 2>/dev/null || iptables -w -t nat -A %s)\n", r, r)
	}
	del = fmt.Sprintf(`iptables -w -t nat -S %s | sed "/container_id: %s\"/ s/-A/iptables -w -t nat -D/e" >/dev/null`, mesosChain, id)
	return add, del
}

// mesosChainUp creates the Mesos chain on bn with loaded rules of other
// containers (loaded through iptables-restore).
func (e *env) mesosChainUp(ctx context.Context, bn *benchNode, loaded int) error {
	if _, err := e.sh(ctx, bn, fmt.Sprintf("iptables -w -t nat -N %s && iptables -w -t nat -A PREROUTING -m addrtype --dst-type LOCAL -j %s", mesosChain, mesosChain)); err != nil {
		return err
	}
	if loaded == 0 {
		return nil
	}
	var b strings.Builder
	b.WriteString("*nat\n")
	for i := range loaded {
		fmt.Fprintf(&b, "-A %s\n", mesosRule(loadBase+i, fmt.Sprintf("load-%d", i/2)))
	}
	b.WriteString("COMMIT\n")
	path := filepath.Join(bn.Dir, "mesos-load.rules")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		return err
	}
	_, err := e.sh(ctx, bn, "iptables-restore --noflush "+path)
	return err
}

// mesosChainDown removes the chain.
func (e *env) mesosChainDown(ctx context.Context, bn *benchNode) error {
	_, err := e.sh(ctx, bn, fmt.Sprintf("iptables -w -t nat -D PREROUTING -m addrtype --dst-type LOCAL -j %s; iptables -w -t nat -F %s; iptables -w -t nat -X %s",
		mesosChain, mesosChain, mesosChain))
	return err
}

// mesosRound runs the Mesos ADD and DEL scripts once on bn.
func (e *env) mesosRound(ctx context.Context, bn *benchNode, i int) (add, del time.Duration, err error) {
	a, d := mesosScripts(fmt.Sprintf("m-%d", i), measuredBase+2*i)
	if add, err = e.sh(ctx, bn, a); err != nil {
		return 0, 0, err
	}
	del, err = e.sh(ctx, bn, d)
	return add, del, err
}

// sh runs a script in bn's netns and returns how long it took.
func (e *env) sh(ctx context.Context, bn *benchNode, script string) (time.Duration, error) {
	start := time.Now()
	_, err := benchkit.RunIn(ctx, cmdTimeout, bn.Namespace, nil, "sh", "-c", script)
	return time.Since(start), err
}
