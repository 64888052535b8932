package ipam

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// ErrNotFound says that an attachment to update exists under neither its old
// nor its new ID.
var ErrNotFound = errors.New("no such attachment")

// Update replaces the labels and port mappings of attachment id and, when
// to is set and differs from id, re-keys it to to (same network; addresses,
// Config, Runtime and Created are kept). Idempotent: when id is gone but to
// exists (the re-key already happened), the labels are applied to to. It
// returns the updated attachment; an error wrapping ErrNotFound when neither
// exists, or an error when to is taken by another attachment. Durable before
// it returns.
func (s *Store) Update(id, to ID, labels map[string]string, pms []PortMapping) (Attachment, error) {
	if to == (ID{}) {
		to = id
	}
	for _, x := range []ID{id, to} {
		if err := validateID(x); err != nil {
			return Attachment{}, fmt.Errorf("update attachment %s: %w", id, err)
		}
	}
	if to.Network != id.Network {
		return Attachment{}, fmt.Errorf("update attachment %s: cannot move it to network %s", id, to.Network)
	}
	labels, pms = maps.Clone(labels), slices.Clone(pms)
	if len(labels) == 0 {
		labels = nil
	}
	if len(pms) == 0 {
		pms = nil
	}
	var att Attachment
	o := &op{prepare: func(tx *bolt.Tx) (func() error, error) {
		old, found, err := getAttachment(tx, id)
		if err != nil {
			return nil, err
		}
		if !found {
			if old, found, err = getAttachment(tx, to); err != nil {
				return nil, err
			}
			if !found {
				return nil, fmt.Errorf("%w %s (nor %s)", ErrNotFound, id, to)
			}
		} else if to != id {
			if _, taken, err := getAttachment(tx, to); err != nil || taken {
				if err == nil {
					err = fmt.Errorf("attachment %s already exists", to)
				}
				return nil, err
			}
		}
		fromKey := attachmentKey(old.ID)
		next := old
		next.ID, next.Labels, next.PortMappings = to, labels, pms
		value, err := json.Marshal(next)
		if err != nil {
			return nil, fmt.Errorf("encode attachment: %w", err)
		}
		return func() error {
			return rekey(tx, fromKey, next, value, &att)
		}, nil
	}}
	if err := s.do(o); err != nil {
		return Attachment{}, fmt.Errorf("update attachment %s: %w", id, err)
	}
	return att, nil
}

// rekey stores next (encoded as value) in place of the attachment stored
// under fromKey, pointing its addresses at the new key.
func rekey(tx *bolt.Tx, fromKey []byte, next Attachment, value []byte, att *Attachment) error {
	toKey := attachmentKey(next.ID)
	atts, addrs := tx.Bucket(bucketAttachments), tx.Bucket(bucketAddresses)
	if !bytes.Equal(fromKey, toKey) {
		for _, ip := range next.IPs {
			p, err := netip.ParsePrefix(ip.Address)
			if err != nil {
				continue
			}
			ak := addressKey(next.Network, p.Addr())
			if !bytes.Equal(addrs.Get(ak), fromKey) {
				continue
			}
			if err := addrs.Put(ak, toKey); err != nil {
				return fmt.Errorf("move address %s to %s: %w", p.Addr(), next.ID, err)
			}
		}
		if err := atts.Delete(fromKey); err != nil {
			return fmt.Errorf("delete old key of %s: %w", next.ID, err)
		}
	}
	if err := atts.Put(toKey, value); err != nil {
		return fmt.Errorf("store attachment %s: %w", next.ID, err)
	}
	*att = next
	return nil
}
