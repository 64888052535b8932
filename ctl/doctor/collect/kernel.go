package collect

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"

	"github.com/dcnet/dcnet/ctl/doctor"
)

var _ doctor.Kernel = (*Kernel)(nil)

// Kernel is the kernel of the network namespace dcnetctl runs in.
type Kernel struct {
	// NFT is the nft binary ("nft": looked up in PATH).
	NFT string
	// Timeout bounds one nft run (DefaultNFTTimeout when 0).
	Timeout time.Duration
}

// DefaultNFTTimeout bounds one `nft -j list table`.
const DefaultNFTTimeout = 30 * time.Second

// NFTTable implements doctor.Kernel with `nft -j list table <family>
// dcnet-l4lb`; a table that does not exist is not an error.
func (k *Kernel) NFTTable(family string) (doctor.NFTTable, error) {
	bin := k.NFT
	if bin == "" {
		bin = "nft"
	}
	timeout := k.Timeout
	if timeout <= 0 {
		timeout = DefaultNFTTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-j", "list", "table", family, doctor.L4LBTable)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee) && strings.Contains(stderr.String(), "No such file or directory"):
		return doctor.NFTTable{Family: family}, nil
	case errors.Is(err, exec.ErrNotFound):
		return doctor.NFTTable{}, fmt.Errorf("%s not found: install nftables to check dcnet-l4lb's tables", bin)
	case err != nil:
		return doctor.NFTTable{}, fmt.Errorf("%s -j list table %s %s: %w: %s", bin, family, doctor.L4LBTable, err, strings.TrimSpace(stderr.String()))
	}
	return doctor.ParseNFT(family, stdout.Bytes())
}
