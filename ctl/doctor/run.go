package doctor

import (
	"context"
	"time"

	"github.com/dcnet/dcnet/cluster"
	"github.com/dcnet/dcnet/dns/dnsapi"
	"github.com/dcnet/dcnet/l4lb/l4lbapi"
	"github.com/dcnet/dcnet/overlayd/api"
	"github.com/dcnet/dcnet/overlayd/datapath"
)

// Etcd names the store in checks.
const Etcd = "etcd"

// OverlaydAPI is overlayd's local API as the doctor reads it
// (*api.Client).
type OverlaydAPI interface {
	Status(ctx context.Context) (api.Status, error)
	Peers(ctx context.Context) ([]api.Peer, error)
	Attachments(ctx context.Context) ([]api.Attachment, error)
}

// Kernel reads this node's kernel state. Every method only reads.
type Kernel interface {
	// Link returns the device called name, nil when there is none.
	Link(name string) (*Link, error)
	// PeerState returns the per-peer state on the VTEP dev as overlayd
	// reads it (datapath.ReadPeerState).
	PeerState(dev string) (datapath.PeerState, error)
	// NFTTable returns family's dcnet-l4lb table (Present false when
	// there is none).
	NFTTable(family string) (NFTTable, error)
}

// Store reads the cluster store.
type Store interface {
	// Get returns key, nil when absent.
	Get(ctx context.Context, key string) (*KV, error)
	// List returns every key under prefix, sorted.
	List(ctx context.Context, prefix string) ([]KV, error)
	Close() error
}

// L4LBAPI is dcnet-l4lb's HTTP API as the doctor reads it.
type L4LBAPI interface {
	// Details is l4lbapi.PathDetails: the VIPs as the node programs them
	// and the refused IP VIPs.
	Details(ctx context.Context) (l4lbapi.Details, error)
}

// DNSAPI is dcnet-dns as the doctor asks it: its HTTP API and its DNS
// servers.
type DNSAPI interface {
	Records(ctx context.Context) ([]dnsapi.Record, error)
	// Ready asks the DNS server at addr (ip:port) for ReadyName.
	Ready(ctx context.Context, addr string) Answer
}

// Sources are where Run reads the wanted and the observed state.
type Sources struct {
	Overlayd OverlaydAPI
	// OverlaydAt is overlayd's socket, for messages.
	OverlaydAt string
	Kernel     Kernel
	// OpenStore connects to the store; st is overlayd's status (nil when
	// overlayd did not answer), whose StoreEndpoints say where overlayd's
	// store is when no endpoints were given.
	OpenStore func(st *api.Status) (Store, Etcdctl, error)
	// L4LB is the node's dcnet-l4lb at L4LBAt; nil when it does not run
	// on this node (its checks are skipped).
	L4LB   L4LBAPI
	L4LBAt string
	// DNS is the node's dcnet-dns with its HTTP API at DNSAt and its DNS
	// servers at DNSServers; nil when it does not run on this node.
	DNS        DNSAPI
	DNSAt      string
	DNSServers []string
	// Timeout bounds each question to a daemon or the store.
	Timeout time.Duration
}

// DefaultTimeout bounds each question when Sources.Timeout is 0.
const DefaultTimeout = 5 * time.Second

// readyTimeout bounds one ready.spartan question (a local server answers
// in well under a millisecond; a dead one should not hold the run for
// Timeout per address).
const readyTimeout = 2 * time.Second

// runner holds one run's answers, each read once.
type runner struct {
	src Sources
	ctx context.Context
	rep Report
	st  *api.Status
	// peers is overlayd's /v1/peers (peersErr its failure), read once.
	peers    []api.Peer
	peersErr error
	vips     []l4lbapi.VIPInfo
	// vipsOK says vips is dcnet-l4lb's answer.
	vipsOK  bool
	store   Store
	etcdctl Etcdctl
	names   []KV // named VIP records
	namesOK bool
}

// Run compares what every local daemon wants with what the kernel and the
// store hold and returns one check per comparison. A daemon or store that
// does not answer fails its first check; the checks that need it are
// skipped with the reason.
func Run(ctx context.Context, src Sources) Report {
	if src.Timeout <= 0 {
		src.Timeout = DefaultTimeout
	}
	r := &runner{src: src, ctx: ctx}
	r.overlay()
	r.cluster()
	r.l4lb()
	r.dns()
	if r.store != nil {
		r.store.Close()
	}
	return r.rep
}

func (r *runner) add(cs ...Check) { r.rep.Checks = append(r.rep.Checks, cs...) }

func (r *runner) skip(component, reason string, names ...string) {
	for _, n := range names {
		r.add(skipped(component, n, reason))
	}
}

// ask runs one question bounded by the timeout.
func ask[T any](r *runner, q func(context.Context) (T, error)) (T, error) {
	ctx, cancel := context.WithTimeout(r.ctx, r.src.Timeout)
	defer cancel()
	return q(ctx)
}

func (r *runner) overlay() {
	st, err := ask(r, r.src.Overlayd.Status)
	if err != nil {
		r.add(broken(Overlayd, "status", "overlayd at "+r.src.OverlaydAt, err, "dcnetctl --socket "+r.src.OverlaydAt+" status"))
		r.skip(Overlayd, "overlayd did not answer", "vtep device", "vtep neighbours", "vtep fdb", "vtep routes", "bridges")
		return
	}
	r.st = &st
	r.rep.Node = st.Node
	r.add(CheckStatus(st))
	dev := st.VTEP.Device
	var vtep *Link
	switch {
	case st.VTEP.IP == "":
		r.skip(Overlayd, "overlayd has no VTEP address yet", "vtep device")
	default:
		if vtep, err = r.src.Kernel.Link(dev); err != nil {
			r.add(broken(Overlayd, "vtep device", dev, err, "ip -d link show "+dev))
		} else {
			r.add(CheckVTEP(st, vtep))
		}
	}
	peerChecks := []string{"vtep neighbours", "vtep fdb", "vtep routes"}
	r.peers, r.peersErr = ask(r, r.src.Overlayd.Peers)
	switch {
	case r.peersErr != nil:
		r.add(broken(Overlayd, peerChecks[0], "overlayd's peers", r.peersErr, "dcnetctl peers"))
		r.skip(Overlayd, "overlayd did not list its peers", peerChecks[1:]...)
	case st.PeersUnknown:
		r.skip(Overlayd, "overlayd has not read the cluster's nodes yet", peerChecks...)
	case vtep == nil:
		r.skip(Overlayd, "no VTEP device to read", peerChecks...)
	default:
		have, err := r.src.Kernel.PeerState(dev)
		if err != nil {
			r.add(broken(Overlayd, peerChecks[0], dev, err, "ip neigh show dev "+dev))
			r.skip(Overlayd, "the VTEP could not be read", peerChecks[1:]...)
		} else {
			r.add(CheckPeers(st, r.peers, have)...)
		}
	}
	links := map[string]*Link{}
	for _, n := range st.Networks {
		l, err := r.src.Kernel.Link(n.Bridge)
		if err != nil {
			r.add(broken(Overlayd, "bridges", n.Bridge, err, "ip -d link show "+n.Bridge))
			return
		}
		links[n.Bridge] = l
	}
	r.add(CheckBridges(st.Networks, links))
}

// storeChecks are the checks of overlayd's records in the store.
var storeChecks = []string{"node record", "subnet and VTEP leases", "liveness", "endpoint records", "peers vs node records"}

func (r *runner) cluster() {
	s, etcdctl, err := r.src.OpenStore(r.st)
	if err != nil {
		r.add(broken(Etcd, "reachable", "the cluster store", err, "etcdctl endpoint health"))
		r.skip(Overlayd, "no store", storeChecks...)
		return
	}
	r.etcdctl = etcdctl
	nodes, err := ask(r, func(ctx context.Context) ([]KV, error) { return s.List(ctx, cluster.NodesPrefix) })
	if err != nil {
		s.Close()
		r.add(broken(Etcd, "reachable", "the cluster store", err, string(etcdctl)+" endpoint health"))
		r.skip(Overlayd, "the store did not answer", storeChecks...)
		return
	}
	r.store = s
	r.add(newCheck(Etcd, "reachable", 1, nil))
	if r.st == nil {
		r.skip(Overlayd, "overlayd did not answer", storeChecks...)
		return
	}
	st := *r.st
	get := func(key string) (*KV, error) {
		return ask(r, func(ctx context.Context) (*KV, error) { return s.Get(ctx, key) })
	}
	one := func(name, key string, check func(*KV) Check) *KV {
		kv, err := get(key)
		if err != nil {
			r.add(broken(Overlayd, name, key, err, etcdctl.get(key)))
			return nil
		}
		r.add(check(kv))
		return kv
	}
	one("node record", cluster.NodeKey(st.Node), func(kv *KV) Check { return CheckNodeRecord(st, kv, etcdctl) })
	leases := map[string]KV{}
	for _, k := range LeaseKeys(st) {
		kv, err := get(k)
		if err != nil {
			r.add(broken(Overlayd, "subnet and VTEP leases", k, err, etcdctl.get(k)))
			leases = nil
			break
		}
		if kv != nil {
			leases[k] = *kv
		}
	}
	if leases != nil {
		r.add(CheckLeases(st, leases, etcdctl))
	}
	alive := one("liveness", cluster.AliveKey(st.Node), func(kv *KV) Check { return CheckLiveness(st, kv, etcdctl) })
	var lease int64
	if alive != nil {
		lease = alive.Lease
	}
	atts, err := ask(r, r.src.Overlayd.Attachments)
	prefix := cluster.NodeEndpointsPrefix(st.Node)
	recs, err2 := ask(r, func(ctx context.Context) ([]KV, error) { return s.List(ctx, prefix) })
	switch {
	case err != nil:
		r.add(broken(Overlayd, "endpoint records", "overlayd's attachments", err, "dcnetctl leases"))
	case err2 != nil:
		r.add(broken(Overlayd, "endpoint records", prefix, err2, etcdctl.prefix(prefix)))
	default:
		r.add(CheckEndpoints(st, atts, recs, lease, etcdctl))
	}
	if r.peersErr != nil || st.PeersUnknown {
		r.skip(Overlayd, "overlayd's peers are not known", "peers vs node records")
	} else {
		r.add(CheckStorePeers(st, nodes, r.peers, etcdctl))
	}
}

// vipNames reads the named VIP records once; false when the store is
// not there or failed (the failure is reported under component and
// name).
func (r *runner) vipNames(component, name string) bool {
	if r.namesOK {
		return true
	}
	if r.store == nil {
		r.skip(component, "no store", name)
		return false
	}
	names, err := ask(r, func(ctx context.Context) ([]KV, error) { return r.store.List(ctx, cluster.VIPNamesPrefix) })
	if err != nil {
		r.add(broken(component, name, cluster.VIPNamesPrefix, err, r.etcdctl.prefix(cluster.VIPNamesPrefix)))
		return false
	}
	r.names, r.namesOK = names, true
	return true
}

func (r *runner) l4lb() {
	tables := []string{"nft table ip " + L4LBTable, "nft table ip6 " + L4LBTable, "vip names"}
	if r.src.L4LB == nil {
		r.skip(L4LB, "not on this node", append([]string{"reachable", "vip addresses"}, tables...)...)
		return
	}
	det, err := ask(r, r.src.L4LB.Details)
	if err != nil {
		r.add(broken(L4LB, "reachable", "dcnet-l4lb at "+r.src.L4LBAt, err, "curl -s http://"+r.src.L4LBAt+l4lbapi.PathDetails))
		r.skip(L4LB, "dcnet-l4lb did not answer", append([]string{"vip addresses"}, tables...)...)
		return
	}
	vips := det.VIPs
	r.vips, r.vipsOK = vips, true
	r.add(newCheck(L4LB, "reachable", len(vips), nil))
	r.add(CheckRefused(det.Refused))
	for i, fam := range NFTFamilies {
		t, err := r.src.Kernel.NFTTable(fam)
		if err != nil {
			r.add(broken(L4LB, tables[i], "table "+fam+" "+L4LBTable, err, "nft list table "+fam+" "+L4LBTable))
			continue
		}
		r.add(CheckTable(fam, vips, t))
	}
	if r.vipNames(L4LB, "vip names") {
		r.add(CheckVIPNames(vips, r.names, r.etcdctl))
	}
}

func (r *runner) dns() {
	zones := []string{"l4lb.thisdcos.directory", "dcos.thisdcos.directory"}
	if r.src.DNS == nil {
		r.skip(DNS, "not on this node", append(append([]string{"reachable"}, zones...), "ready.spartan")...)
		return
	}
	server := ""
	if len(r.src.DNSServers) > 0 {
		server = r.src.DNSServers[0]
	}
	records, err := ask(r, r.src.DNS.Records)
	switch {
	case err != nil:
		r.add(broken(DNS, "reachable", "dcnet-dns at "+r.src.DNSAt, err, "curl -s http://"+r.src.DNSAt+dnsapi.PathRecords))
		r.skip(DNS, "dcnet-dns did not answer", zones...)
	default:
		r.add(newCheck(DNS, "reachable", len(records), nil))
		if r.vipNames(DNS, zones[0]) {
			r.add(CheckVIPZone(records, r.names, r.vips, r.vipsOK, server, r.etcdctl))
		}
		if r.store == nil {
			r.skip(DNS, "no store", zones[1])
		} else if tasks, err := ask(r, func(ctx context.Context) ([]KV, error) { return r.store.List(ctx, cluster.TaskNamesPrefix) }); err != nil {
			r.add(broken(DNS, zones[1], cluster.TaskNamesPrefix, err, r.etcdctl.prefix(cluster.TaskNamesPrefix)))
		} else {
			r.add(CheckTaskZone(records, tasks, server, r.etcdctl))
		}
	}
	var answers []Answer
	for _, s := range r.src.DNSServers {
		ctx, cancel := context.WithTimeout(r.ctx, min(r.src.Timeout, readyTimeout))
		answers = append(answers, r.src.DNS.Ready(ctx, s))
		cancel()
	}
	r.add(CheckReady(answers))
}
