package portmap

import (
	"github.com/containernetworking/cni/pkg/skel"
)

// Del removes the container's host ports, then runs the delegate's DEL
// (Mesos' order: a released address must not keep receiving traffic).
// It succeeds twice, without an ADD and without CNI_NETNS.
func (p *Plugin) Del(args *skel.CmdArgs) error {
	conf, err := Parse(args.StdinData)
	if err != nil {
		return err
	}
	p.claim(conf)
	if err := p.uninstall(conf, RecordKey(args.ContainerID, args.IfName)); err != nil {
		return err
	}
	if conf.Chained() {
		return nil
	}
	_, err = p.runDelegate(conf, args, "DEL", nil)
	return err
}

// uninstall deletes the record of key and its elements; when the kernel
// refuses the planned deletes (elements already gone, tables gone after a
// reboot), it deletes whatever elements still carry the record's tag.
func (p *Plugin) uninstall(conf *Config, key string) error {
	op := "del " + key
	st, err := OpenStore(conf.StateDir)
	if err != nil {
		return storeError(op, err)
	}
	defer st.Close()
	return st.Update(func(tx *Tx) error {
		old, ok, err := tx.Record(key)
		if err != nil {
			return storeError(op, err)
		}
		unused, err := tx.DeleteRecord(key)
		if err != nil {
			return storeError(op, err)
		}
		if tx.Empty() {
			if err := p.Kernel.Remove(); err != nil {
				return kernelError(op, err)
			}
			return nil
		}
		known, err := tx.Chains()
		if err != nil {
			return storeError(op, err)
		}
		ch := Changes{Known: known}
		if ok {
			ch.Del = Elements(old)
		}
		if unused != "" {
			ch.DelChains = []string{unused}
		}
		if !ch.Empty() && p.Kernel.Apply(ch) == nil {
			return nil
		}
		if err := p.deleteTagged(key, unused, known); err != nil {
			return kernelError(op, err)
		}
		return nil
	})
}

// deleteTagged deletes the elements tagged key (and the chain unused, if
// any); a missing table has none.
func (p *Plugin) deleteTagged(key, unused string, known []ChainSpec) error {
	have, err := p.Kernel.Elements()
	if err != nil {
		return err
	}
	ch := Changes{Known: known}
	for _, e := range have {
		if e.Tag == key {
			ch.Del = append(ch.Del, e)
		}
	}
	if unused != "" && len(have) > 0 {
		ch.DelChains = []string{unused}
	}
	if ch.Empty() {
		return nil
	}
	if err := p.Kernel.Apply(ch); err != nil && len(ch.DelChains) > 0 {
		ch.DelChains = nil // the chain may be gone already
		return p.Kernel.Apply(ch)
	} else if err != nil {
		return err
	}
	return nil
}
