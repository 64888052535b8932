package portmap

import (
	"errors"
	"fmt"
	"time"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"

	"github.com/dcnet/dcnet/plugins/result"
)

// Add runs the delegate (Mesos style) or reads prevResult (chained style),
// installs the container's host ports and writes the result in the
// config's version.
func (p *Plugin) Add(args *skel.CmdArgs) error {
	conf, err := Parse(args.StdinData)
	if err != nil {
		return err
	}
	p.claim(conf)
	key := RecordKey(args.ContainerID, args.IfName)
	op := "add " + key
	if conf.Chained() && conf.PrevResult == nil {
		return invalid("%s: no prevResult and no delegate: chain dcnet-portmap after a plugin that gives the container its addresses (a conflist after dcnet), or name that plugin in \"delegate\"", op)
	}
	// Refuse a taken port before the delegate makes anything to undo (in
	// chained style install checks, under the state's lock).
	if !conf.Chained() {
		if err := p.checkFree(conf, key); err != nil {
			return err
		}
	}
	res := conf.PrevResult
	if !conf.Chained() {
		if res, err = p.runDelegate(conf, args, "ADD", nil); err != nil {
			return err
		}
	}
	rec := Record{ContainerID: args.ContainerID, IfName: args.IfName, Config: conf.Name, Chain: conf.Chain,
		Mappings: conf.Mappings, IPs: containerIPs(res), Created: p.now().UTC().Truncate(time.Second)}
	if err := p.install(conf, rec); err != nil {
		if !conf.Chained() {
			if derr := p.undoDelegate(conf, args); derr != nil {
				var e *types.Error
				if errors.As(err, &e) {
					e.Details = "undoing the delegate's ADD failed too: " + derr.Error()
				}
			}
		}
		return err
	}
	return result.Write(p.Stdout, res, conf.CNIVersion)
}

// undoDelegate runs the delegate's DEL after a failed ADD.
func (p *Plugin) undoDelegate(conf *Config, args *skel.CmdArgs) error {
	_, err := p.runDelegate(conf, args, "DEL", nil)
	return err
}

// checkFree fails with CodePortConflict when another container holds one
// of the config's host ports.
func (p *Plugin) checkFree(conf *Config, key string) error {
	if len(conf.Mappings) == 0 {
		return nil
	}
	st, err := OpenStore(conf.StateDir)
	if err != nil {
		return storeError("add "+key, err)
	}
	defer st.Close()
	return st.View(func(tx *Tx) error { return conflicts(tx, conf.Mappings, key) })
}

// conflicts names the first mapping whose host port another record holds.
func conflicts(tx *Tx, ms []Mapping, key string) error {
	for _, m := range ms {
		holder, ok := tx.Holder(m.Host())
		if !ok || holder == key {
			continue
		}
		msg := fmt.Sprintf("host port %s (mapping %s) is already mapped by container %s", m.Host(), m, holder)
		if r, ok, _ := tx.Record(holder); ok {
			msg = fmt.Sprintf("host port %s (mapping %s) is already mapped by container %s interface %s of network %q since %s",
				m.Host(), m, r.ContainerID, r.IfName, r.Config, r.Created.Format(time.RFC3339))
		}
		return types.NewError(CodePortConflict, msg+"; pick another host port or remove that container", "")
	}
	return nil
}

// install records rec and programs its elements, in one state transaction
// that is rolled back if the kernel refuses.
func (p *Plugin) install(conf *Config, rec Record) error {
	op := "add " + rec.Key()
	if len(rec.Mappings) > 0 && len(rec.IPs) == 0 {
		return types.NewError(types.ErrInternal, fmt.Sprintf("%s: the container has no address to map host ports to", op), "")
	}
	st, err := OpenStore(conf.StateDir)
	if err != nil {
		return storeError(op, err)
	}
	defer st.Close()
	spec := ChainSpec{Name: conf.Chain, Excludes: conf.ExcludeDevices, Localhost: conf.Localhost}
	return st.Update(func(tx *Tx) error {
		if err := conflicts(tx, rec.Mappings, rec.Key()); err != nil {
			return err
		}
		old, hadOld, err := tx.Record(rec.Key())
		if err != nil {
			return storeError(op, err)
		}
		if len(rec.Mappings) == 0 && !hadOld {
			return nil // nothing to map, nothing to undo
		}
		known, err := tx.Chains()
		if err != nil {
			return storeError(op, err)
		}
		intact, err := p.Kernel.Intact(known)
		if err != nil {
			return kernelError(op, err)
		}
		changed, err := tx.EnsureChain(spec)
		if err != nil {
			return storeError(op, err)
		}
		unused, err := tx.PutRecord(rec)
		if err != nil {
			return storeError(op, err)
		}
		if !intact {
			if len(known) > 0 {
				p.note("%s: tables %s missing or damaged: rebuilding them from the state", op, TableName)
			}
			if err := p.rebuild(tx); err != nil {
				return kernelError(op, err)
			}
		} else if err := p.applyRecord(tx, old, hadOld, rec, spec, changed, unused); err != nil {
			return kernelError(op, err)
		}
		if conf.Localhost {
			if err := p.localnet(rec); err != nil {
				return kernelError(op, err)
			}
		}
		return nil
	})
}

// applyRecord programs the difference between the old record and rec; if
// the kernel refuses (an element changed by hand, or left by an earlier
// crash), it reconciles every element against the state instead.
func (p *Plugin) applyRecord(tx *Tx, old Record, hadOld bool, rec Record, spec ChainSpec, changed bool, unused string) error {
	// Every element of rec is added (an identical one is left as it is, so
	// a repeated ADD restores its own hand-deleted elements); the old
	// record's elements that rec does not have as they are go first.
	ch := Changes{Add: Elements(rec)}
	if hadOld {
		_, ch.Del = Diff(Elements(rec), Elements(old))
	}
	if changed {
		ch.Chains = []ChainSpec{spec}
	}
	if unused != "" {
		ch.DelChains = []string{unused}
	}
	if changed || unused != "" {
		known, err := tx.Chains()
		if err != nil {
			return err
		}
		ch.Known = known
	}
	if ch.Empty() {
		return nil
	}
	if err := p.Kernel.Apply(ch); err != nil {
		p.note("add %s: %v: reconciling every element", rec.Key(), err)
		return p.reconcile(tx)
	}
	return nil
}

// rebuild replaces the tables with the state's chains and elements.
func (p *Plugin) rebuild(tx *Tx) error {
	recs, err := tx.Records()
	if err != nil {
		return err
	}
	chains, err := tx.Chains()
	if err != nil {
		return err
	}
	return p.Kernel.Rebuild(chains, AllElements(recs))
}

// reconcile makes the kernel's elements exactly the state's (chains
// rewritten too); it rebuilds when the tables are damaged, and removes
// them when the state has no record.
func (p *Plugin) reconcile(tx *Tx) error {
	recs, err := tx.Records()
	if err != nil {
		return err
	}
	chains, err := tx.Chains()
	if err != nil {
		return err
	}
	if len(recs) == 0 {
		return p.Kernel.Remove()
	}
	intact, err := p.Kernel.Intact(chains)
	if err != nil {
		return err
	}
	if !intact {
		return p.Kernel.Rebuild(chains, AllElements(recs))
	}
	have, err := p.Kernel.Elements()
	if err != nil {
		return err
	}
	add, del := Diff(AllElements(recs), have)
	if len(add) == 0 && len(del) == 0 {
		return nil
	}
	return p.Kernel.Apply(Changes{Chains: chains, Add: add, Del: del, Known: chains})
}

// localnet lets 127.0.0.1 be translated to the container's IPv4 address.
func (p *Plugin) localnet(rec Record) error {
	for _, a := range rec.IPs {
		if a.Is4() {
			return p.Kernel.RouteLocalnet(a.String())
		}
	}
	return nil
}
