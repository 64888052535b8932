package benchkit

import (
	"context"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// CommitChunked commits ops in transactions of at most per operations
// (etcd refuses more than its --max-txn-ops, 128 by default), each bounded
// by timeout, and stops at the first error.
func CommitChunked(ctx context.Context, cli *clientv3.Client, ops []clientv3.Op, per int, timeout time.Duration) error {
	for len(ops) > 0 {
		n := min(len(ops), per)
		cctx, cancel := context.WithTimeout(ctx, timeout)
		_, err := cli.Txn(cctx).Then(ops[:n]...).Commit()
		cancel()
		if err != nil {
			return err
		}
		ops = ops[n:]
	}
	return nil
}
