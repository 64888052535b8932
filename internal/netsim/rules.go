package netsim

import (
	"context"
	"fmt"
)

// Rules returns a namespace's `nft list ruleset`, `iptables-save` and
// `ip6tables-save`, normalised as the host guard normalises them (no
// counters), for a test that checks it left no rule behind. A missing
// iptables-save is skipped; a failing nft is an error.
func (n Namespace) Rules(ctx context.Context) ([]string, error) {
	nft, err := n.Run(ctx, "nft", "list", "ruleset")
	if err != nil {
		return nil, fmt.Errorf("rules of %s: %w", n.NSName, err)
	}
	out := NormaliseNft(nft)
	for _, save := range []string{"iptables-save", "ip6tables-save"} {
		if s, err := n.Run(ctx, save); err == nil {
			out = append(out, NormaliseIptables(s)...)
		}
	}
	return out, nil
}
