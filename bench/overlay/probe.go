package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"time"

	cnins "github.com/containernetworking/plugins/pkg/ns"
	"github.com/dcnet/dcnet/internal/netsim"
	"github.com/dcnet/dcnet/overlayd/datapath"
	"github.com/vishvananda/netlink"
)

// scraper reads overlayd's Prometheus endpoint inside a node netns.
type scraper struct {
	url    string
	client *http.Client
}

func newScraper(e *env, ns netsim.Namespace, addr string) *scraper {
	dial := ns.DialTCP
	tr := &http.Transport{
		DialContext:         func(ctx context.Context, _, a string) (net.Conn, error) { return dial(ctx, a) },
		MaxIdleConnsPerHost: 1,
	}
	e.OnClose(func() error { tr.CloseIdleConnections(); return nil })
	return &scraper{url: "http://" + addr + "/metrics", client: &http.Client{Transport: tr, Timeout: apiTimeout}}
}

// scrape returns every unlabelled sample by metric name.
func (s *scraper) scrape(ctx context.Context) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", s.url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("scrape %s: %s", s.url, resp.Status)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), " ")
		if !ok || strings.HasPrefix(name, "#") || strings.Contains(name, "{") {
			continue
		}
		if v, err := strconv.ParseFloat(strings.TrimSpace(val), 64); err == nil {
			out[name] = v
		}
	}
	return out, sc.Err()
}

// measureBreakdown times, inside the scale node's netns and with the same
// calls overlayd makes in every reconcile, the read of the VTEP's peer
// state (netlink dumps of neighbours, FDB and routes) and the read-only
// iptables checks of EnsureMasquerade. Nothing is written.
func measureBreakdown(res *scaleResult, nd *node) error {
	return nd.Do(func(cnins.NetNS) error {
		link, err := netlink.LinkByName(vtepName)
		if err != nil {
			return fmt.Errorf("%s: %w", vtepName, err)
		}
		for range breakdownSamples {
			start := time.Now()
			st, err := datapath.ReadPeerState(link)
			res.ReadPeerState = append(res.ReadPeerState, time.Since(start))
			if err != nil {
				return err
			}
			if len(st.FDB) != res.Peers {
				return fmt.Errorf("read %d FDB entries, want %d", len(st.FDB), res.Peers)
			}
		}
		for range breakdownSamples {
			start := time.Now()
			execs := 0
			// What a steady-state reconcile execs for the masquerade chains
			// (datapath.ensureChain): one iptables-save per table and family.
			for _, bin := range []string{"iptables-save", "ip6tables-save"} {
				for _, c := range [][2]string{{"nat", datapath.ChainMasq}, {"filter", datapath.ChainForward}} {
					out, err := exec.Command(bin, "-t", c[0]).Output()
					if err != nil {
						return fmt.Errorf("%s -t %s: %w", bin, c[0], err)
					}
					if !strings.Contains(string(out), ":"+c[1]+" ") {
						return fmt.Errorf("%s -t %s: chain %s missing", bin, c[0], c[1])
					}
					execs++
				}
			}
			res.Iptables = append(res.Iptables, time.Since(start))
			res.IptablesExecs = execs
		}
		return nil
	})
}
