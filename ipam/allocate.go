package ipam

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/netip"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// Allocate returns the attachment for req.ID, allocating one
// address from every range of pool on first use. Idempotent: a second call
// with the same ID returns the stored attachment unchanged (created=false),
// even if labels differ, except that a withdrawn one is published again
// (its Withdrawn flag is cleared: the runtime adds it back). The attachment (with req's Runtime, Labels,
// PortMappings, and Created=now) is durable (committed, fsynced) before it
// returns. Either every range yields an address or none is kept; a range
// without a free address makes the error wrap ErrExhausted.
func (s *Store) Allocate(pool Pool, req Request) (att Attachment, created bool, err error) {
	id := req.ID
	if err := validateID(id); err != nil {
		return Attachment{}, false, fmt.Errorf("allocate attachment %s: %w", id, err)
	}
	if err := pool.validate(id); err != nil {
		return Attachment{}, false, fmt.Errorf("allocate attachment %s: %w", id, err)
	}
	hosts := make([]hostRange, len(pool.Ranges))
	for i, r := range pool.Ranges {
		hosts[i] = r.hosts()
	}
	fresh := Attachment{
		ID:           id,
		Config:       req.Config,
		Runtime:      req.Runtime,
		Labels:       maps.Clone(req.Labels),
		PortMappings: slices.Clone(req.PortMappings),
		Created:      s.now().UTC().Round(0),
		Withdrawn:    req.Unpublished,
	}
	// Match what a JSON round trip through the store gives back.
	if len(fresh.Labels) == 0 {
		fresh.Labels = nil
	}
	if len(fresh.PortMappings) == 0 {
		fresh.PortMappings = nil
	}
	o := &op{prepare: func(tx *bolt.Tx) (func() error, error) {
		created = false
		old, found, err := getAttachment(tx, id)
		if err != nil || (found && (!old.Withdrawn || req.Unpublished)) {
			att = old
			return nil, err
		}
		if found {
			old.Withdrawn = false
			return putAttachment(tx, old, &att)
		}
		return allocate(tx, hosts, fresh, &att, &created)
	}}
	if err := s.do(o); err != nil {
		return Attachment{}, false, fmt.Errorf("allocate attachment %s: %w", id, err)
	}
	return att, created, nil
}

// allocate picks a free address in every range of hosts for the new
// attachment fresh and returns the writes that store it, which set *att and
// *created. It writes nothing itself.
func allocate(tx *bolt.Tx, hosts []hostRange, fresh Attachment, att *Attachment, created *bool) (func() error, error) {
	network := fresh.Network
	addrs, cursors := tx.Bucket(bucketAddresses), tx.Bucket(bucketCursors)
	picked := make([]netip.Addr, len(hosts))
	fresh.IPs = make([]IP, len(hosts))
	for i, h := range hosts {
		var cursor netip.Addr
		if v := cursors.Get(cursorKey(network, h.Subnet)); v != nil {
			cursor, _ = netip.ParseAddr(string(v)) // a bad cursor only restarts the search
		}
		found := findFree(addrs, network, h, cursor)
		if !found.addr.IsValid() {
			return nil, h.exhausted(network, found)
		}
		picked[i] = found.addr
		fresh.IPs[i] = IP{
			Address: netip.PrefixFrom(found.addr, h.Subnet.Bits()).String(),
			Gateway: h.Gateway.String(),
		}
	}
	value, err := json.Marshal(fresh)
	if err != nil {
		return nil, fmt.Errorf("encode attachment: %w", err)
	}
	key := attachmentKey(fresh.ID)
	return func() error {
		for i, h := range hosts {
			if err := addrs.Put(addressKey(network, picked[i]), key); err != nil {
				return fmt.Errorf("store address %s: %w", picked[i], err)
			}
			if err := cursors.Put(cursorKey(network, h.Subnet), []byte(picked[i].String())); err != nil {
				return fmt.Errorf("store cursor of subnet %s: %w", h.Subnet, err)
			}
		}
		if err := tx.Bucket(bucketAttachments).Put(key, value); err != nil {
			return fmt.Errorf("store attachment: %w", err)
		}
		*att, *created = fresh, true
		return nil
	}, nil
}

// Withdraw marks the attachment as being removed (see
// Attachment.Withdrawn); withdrawn=false (no error) when it does not
// exist. Idempotent, durable before it returns.
func (s *Store) Withdraw(id ID) (att Attachment, withdrawn bool, err error) {
	if err := validateID(id); err != nil {
		return Attachment{}, false, fmt.Errorf("withdraw attachment %s: %w", id, err)
	}
	o := &op{prepare: func(tx *bolt.Tx) (func() error, error) {
		att, withdrawn = Attachment{}, false
		old, found, err := getAttachment(tx, id)
		if err != nil || !found {
			return nil, err
		}
		withdrawn = true
		if old.Withdrawn {
			att = old
			return nil, nil
		}
		old.Withdrawn = true
		return putAttachment(tx, old, &att)
	}}
	if err := s.do(o); err != nil {
		return Attachment{}, false, fmt.Errorf("withdraw attachment %s: %w", id, err)
	}
	return att, withdrawn, nil
}

// Publish clears the attachment's Withdrawn flag (its interface exists
// now); published=false (no error) when it does not exist. Idempotent,
// durable before it returns.
func (s *Store) Publish(id ID) (att Attachment, published bool, err error) {
	if err := validateID(id); err != nil {
		return Attachment{}, false, fmt.Errorf("publish attachment %s: %w", id, err)
	}
	o := &op{prepare: func(tx *bolt.Tx) (func() error, error) {
		att, published = Attachment{}, false
		old, found, err := getAttachment(tx, id)
		if err != nil || !found {
			return nil, err
		}
		published = true
		if !old.Withdrawn {
			att = old
			return nil, nil
		}
		old.Withdrawn = false
		return putAttachment(tx, old, &att)
	}}
	if err := s.do(o); err != nil {
		return Attachment{}, false, fmt.Errorf("publish attachment %s: %w", id, err)
	}
	return att, published, nil
}

// putAttachment returns the write that stores a under its key and sets
// *out.
func putAttachment(tx *bolt.Tx, a Attachment, out *Attachment) (func() error, error) {
	value, err := json.Marshal(a)
	if err != nil {
		return nil, fmt.Errorf("encode attachment: %w", err)
	}
	return func() error {
		if err := tx.Bucket(bucketAttachments).Put(attachmentKey(a.ID), value); err != nil {
			return fmt.Errorf("store attachment %s: %w", a.ID, err)
		}
		*out = a
		return nil
	}, nil
}

// Release removes the attachment and frees its addresses; released=false (no
// error) when it does not exist. Safe to call repeatedly.
func (s *Store) Release(id ID) (att Attachment, released bool, err error) {
	if err := validateID(id); err != nil {
		return Attachment{}, false, fmt.Errorf("release attachment %s: %w", id, err)
	}
	o := &op{prepare: func(tx *bolt.Tx) (func() error, error) {
		att, released = Attachment{}, false
		old, found, err := getAttachment(tx, id)
		if err != nil || !found {
			return nil, err
		}
		return func() error {
			if err := remove(tx, old); err != nil {
				return err
			}
			att, released = old, true
			return nil
		}, nil
	}}
	if err := s.do(o); err != nil {
		return Attachment{}, false, fmt.Errorf("release attachment %s: %w", id, err)
	}
	return att, released, nil
}

// GC releases every attachment of network whose ID is not in valid, returning
// what it released (in List order). IDs of other networks in valid are ignored.
func (s *Store) GC(network, config string, valid []ID) ([]Attachment, error) {
	if network == "" {
		return nil, fmt.Errorf("gc: network is empty")
	}
	if config == "" {
		config = network
	}
	keep := make(map[ID]bool, len(valid))
	for _, id := range valid {
		keep[id] = true
	}
	var released []Attachment
	o := &op{prepare: func(tx *bolt.Tx) (func() error, error) {
		released = nil
		var stale []Attachment
		prefix := []byte(network + "\x00")
		c := tx.Bucket(bucketAttachments).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			a, err := decodeAttachment(k, v)
			if err != nil {
				return nil, err
			}
			if !keep[a.ID] && a.ConfigName() == config {
				stale = append(stale, a)
			}
		}
		if len(stale) == 0 {
			return nil, nil
		}
		return func() error {
			for _, a := range stale {
				if err := remove(tx, a); err != nil {
					return err
				}
			}
			released = stale
			return nil
		}, nil
	}}
	if err := s.do(o); err != nil {
		return nil, fmt.Errorf("gc network %s: %w", network, err)
	}
	return released, nil
}

// remove deletes att and the addresses it holds.
func remove(tx *bolt.Tx, att Attachment) error {
	key := attachmentKey(att.ID)
	addrs := tx.Bucket(bucketAddresses)
	for _, ip := range att.IPs {
		p, err := netip.ParsePrefix(ip.Address)
		if err != nil {
			continue // never stored under an address key
		}
		ak := addressKey(att.Network, p.Addr())
		if !bytes.Equal(addrs.Get(ak), key) {
			continue // not (or no longer) this attachment's
		}
		if err := addrs.Delete(ak); err != nil {
			return fmt.Errorf("free address %s of attachment %s: %w", p.Addr(), att.ID, err)
		}
	}
	if err := tx.Bucket(bucketAttachments).Delete(key); err != nil {
		return fmt.Errorf("delete attachment %s: %w", att.ID, err)
	}
	return nil
}
