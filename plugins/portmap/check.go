package portmap

import (
	"fmt"
	"slices"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"
	"github.com/containernetworking/cni/pkg/version"
)

// Check runs the delegate's CHECK (Mesos style), then verifies that the
// state holds the config's mappings for the container and repairs the
// kernel from the state: a deleted element, chain or table comes back.
func (p *Plugin) Check(args *skel.CmdArgs) error {
	conf, err := Parse(args.StdinData)
	if err != nil {
		return err
	}
	p.claim(conf)
	key := RecordKey(args.ContainerID, args.IfName)
	op := "check " + key
	if !conf.Chained() && supports(conf.DelegateVersion, "0.4.0") {
		if _, err := p.runDelegate(conf, args, "CHECK", p.delegateWithPrev(conf)); err != nil {
			return err
		}
	}
	st, err := OpenStore(conf.StateDir)
	if err != nil {
		return storeError(op, err)
	}
	defer st.Close()
	return st.Update(func(tx *Tx) error {
		rec, ok, err := tx.Record(key)
		if err != nil {
			return storeError(op, err)
		}
		if !ok {
			if len(conf.Mappings) == 0 {
				return nil
			}
			return types.NewError(types.ErrUnknownContainer, fmt.Sprintf("%s: no host ports recorded for the container (was ADD run?)", op), "")
		}
		if !sameMappings(rec.Mappings, conf.Mappings) {
			return types.NewError(types.ErrInternal, fmt.Sprintf("%s: the container maps %v, the config asks for %v", op, rec.Mappings, conf.Mappings), "")
		}
		if conf.PrevResult != nil {
			if ips := containerIPs(conf.PrevResult); !slices.Equal(ips, rec.IPs) {
				return types.NewError(types.ErrInternal, fmt.Sprintf("%s: prevResult has addresses %v, the host ports go to %v", op, ips, rec.IPs), "")
			}
		}
		if err := p.reconcile(tx); err != nil {
			return kernelError(op, err)
		}
		return nil
	})
}

// delegateWithPrev is the delegate's config with the runtime's prevResult
// (its CHECK compares it with what it set up).
func (p *Plugin) delegateWithPrev(conf *Config) []byte {
	if conf.PrevResult == nil {
		return conf.Delegate
	}
	b, err := withPrevResult(conf.Delegate, conf.PrevResult, conf.DelegateVersion)
	if err != nil {
		return conf.Delegate
	}
	return b
}

// GC removes the mappings of this config's containers that the runtime
// does not list in cni.dev/valid-attachments, then reconciles the kernel
// with the state; the delegate's GC follows (Mesos style).
func (p *Plugin) GC(args *skel.CmdArgs) error {
	conf, err := Parse(args.StdinData)
	if err != nil {
		return err
	}
	p.claim(conf)
	op := "gc " + conf.Name
	st, err := OpenStore(conf.StateDir)
	if err != nil {
		return storeError(op, err)
	}
	err = st.Update(func(tx *Tx) error {
		recs, err := tx.Records()
		if err != nil {
			return storeError(op, err)
		}
		for _, r := range recs {
			if r.Config != conf.Name || slices.ContainsFunc(conf.ValidAttachments, func(a types.GCAttachment) bool {
				return a.ContainerID == r.ContainerID && a.IfName == r.IfName
			}) {
				continue
			}
			p.note("%s: container %s is gone: removing its host ports %v", op, r.Key(), r.Mappings)
			if _, err := tx.DeleteRecord(r.Key()); err != nil {
				return storeError(op, err)
			}
		}
		if err := p.reconcile(tx); err != nil {
			return kernelError(op, err)
		}
		return nil
	})
	st.Close()
	if err != nil || conf.Chained() || !supports(conf.DelegateVersion, "1.1.0") {
		return err
	}
	_, err = p.runDelegate(conf, args, "GC", nil)
	return err
}

// Status reports whether the state and nftables are usable (code 50 when
// not), then asks the delegate (Mesos style).
func (p *Plugin) Status(args *skel.CmdArgs) error {
	conf, err := Parse(args.StdinData)
	if err != nil {
		return err
	}
	p.claim(conf)
	st, err := OpenStore(conf.StateDir)
	if err != nil {
		return types.NewError(types.ErrPluginNotAvailable, fmt.Sprintf("status: %v", err), "")
	}
	st.Close()
	if _, err := p.Kernel.Elements(); err != nil {
		return types.NewError(types.ErrPluginNotAvailable, fmt.Sprintf("status: nftables: %v", err), "")
	}
	if conf.Chained() || !supports(conf.DelegateVersion, "1.1.0") {
		return nil
	}
	_, err = p.runDelegate(conf, args, "STATUS", nil)
	return err
}

// supports reports whether spec version v is at least min.
func supports(v, min string) bool {
	ok, err := version.GreaterThanOrEqualTo(v, min)
	return err == nil && ok
}

func sameMappings(a, b []Mapping) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	less := func(x, y Mapping) int { return compareMapping(x, y) }
	slices.SortFunc(a, less)
	slices.SortFunc(b, less)
	return slices.Equal(a, b)
}

func compareMapping(x, y Mapping) int {
	switch {
	case x.Protocol != y.Protocol:
		if x.Protocol < y.Protocol {
			return -1
		}
		return 1
	case x.HostPort != y.HostPort:
		return int(x.HostPort) - int(y.HostPort)
	}
	return int(x.ContainerPort) - int(y.ContainerPort)
}
