package vipaccess

import (
	"fmt"
	"sort"
	"strings"
	"sync"
)

// FakeKernel records links in memory; String prints them.
type FakeKernel struct {
	mu    sync.Mutex
	links map[string]Link // by node end
	// SetupErr, when set, makes Setup fail (creating nothing).
	SetupErr error
}

var _ Kernel = (*FakeKernel)(nil)

// Setup implements Kernel.
func (k *FakeKernel) Setup(l Link) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.SetupErr != nil {
		return k.SetupErr
	}
	if k.links == nil {
		k.links = map[string]Link{}
	}
	if _, dup := k.links[l.Host]; dup {
		return fmt.Errorf("link %s exists", l.Host)
	}
	k.links[l.Host] = l
	return nil
}

// Teardown implements Kernel.
func (k *FakeKernel) Teardown(_, _, host string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.links, host)
	return nil
}

// Verify implements Kernel.
func (k *FakeKernel) Verify(_, _, host string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if _, ok := k.links[host]; !ok {
		return fmt.Errorf("node end %s: link not found", host)
	}
	return nil
}

// String prints one line per link: "vipaXXXXXXXX <-> netns spartan 198.51.100.10 fd01:d::... routes ...".
func (k *FakeKernel) String() string {
	k.mu.Lock()
	defer k.mu.Unlock()
	var lines []string
	for _, l := range k.links {
		var rs []string
		for _, r := range l.Routes {
			s := r.Dst.String()
			if r.Metric != 0 {
				s += fmt.Sprintf(" metric %d", r.Metric)
			}
			rs = append(rs, s)
		}
		a6 := "-"
		if l.Addr6.IsValid() {
			a6 = l.Addr6.String()
		}
		lines = append(lines, fmt.Sprintf("%s <-> %s %s %s %s routes %s", l.Host, l.NetNS, l.IfName, l.Addr4, a6, strings.Join(rs, ", ")))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}
