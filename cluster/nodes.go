package cluster

import (
	"context"
	"fmt"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// NodeStates reads every node record and liveness key at one revision and
// joins them (WithLiveness). A record that does not decode is listed by
// its key's name only, so a damaged record still shows up.
func (s *Store) NodeStates(ctx context.Context) ([]NodeState, error) {
	ctx, cancel := OpContext(ctx)
	defer cancel()
	recs, err := s.Client.Get(ctx, NodesPrefix, clientv3.WithPrefix())
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", NodesPrefix, err)
	}
	alive, err := s.Client.Get(ctx, AlivePrefix, clientv3.WithPrefix(), clientv3.WithKeysOnly(), clientv3.WithRev(recs.Header.Revision))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", AlivePrefix, err)
	}
	nodes := make([]Node, 0, len(recs.Kvs))
	for _, kv := range recs.Kvs {
		n, ok := DecodeNode(KV{Key: string(kv.Key), Value: kv.Value})
		if !ok {
			n = Node{Name: strings.TrimPrefix(string(kv.Key), NodesPrefix)}
		}
		nodes = append(nodes, n)
	}
	keys := make([]KV, len(alive.Kvs))
	for i, kv := range alive.Kvs {
		keys[i] = KV{Key: string(kv.Key)}
	}
	return WithLiveness(nodes, keys), nil
}
