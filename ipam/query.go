package ipam

import (
	"encoding/json"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Get returns the attachment id, and whether it exists.
func (s *Store) Get(id ID) (Attachment, bool, error) {
	if err := validateID(id); err != nil {
		return Attachment{}, false, fmt.Errorf("get attachment %s: %w", id, err)
	}
	var att Attachment
	var found bool
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		att, found, err = getAttachment(tx, id)
		return err
	})
	if err != nil {
		return Attachment{}, false, fmt.Errorf("get attachment %s: %w", id, err)
	}
	return att, found, nil
}

// List returns every attachment, sorted by network, containerID, ifName.
func (s *Store) List() ([]Attachment, error) {
	var atts []Attachment
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketAttachments).ForEach(func(k, v []byte) error {
			a, err := decodeAttachment(k, v)
			atts = append(atts, a)
			return err
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list attachments: %w", err)
	}
	return atts, nil
}

// Count returns the number of attachments.
func (s *Store) Count() (int, error) {
	var n int
	err := s.db.View(func(tx *bolt.Tx) error {
		n = tx.Bucket(bucketAttachments).Stats().KeyN
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("count attachments: %w", err)
	}
	return n, nil
}

// GetMeta returns the value stored under key by PutMeta, and whether there is
// one.
func (s *Store) GetMeta(key string) ([]byte, bool, error) {
	if err := validateMetaKey(key); err != nil {
		return nil, false, fmt.Errorf("get meta: %w", err)
	}
	var value []byte
	err := s.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketMeta).Get([]byte(key)); v != nil {
			value = append([]byte{}, v...) // v is only valid inside tx
		}
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("get meta %q: %w", key, err)
	}
	return value, value != nil, nil
}

// PutMeta stores value under key, durably (committed, fsynced) before it
// returns. The meta values are the daemon's (its lease ID, its leased
// subnets); the allocator never reads them.
func (s *Store) PutMeta(key string, value []byte) error {
	if err := validateMetaKey(key); err != nil {
		return fmt.Errorf("put meta: %w", err)
	}
	value = append([]byte{}, value...) // the caller may reuse value; never nil
	o := &op{prepare: func(tx *bolt.Tx) (func() error, error) {
		return func() error {
			return tx.Bucket(bucketMeta).Put([]byte(key), value)
		}, nil
	}}
	if err := s.do(o); err != nil {
		return fmt.Errorf("put meta %q: %w", key, err)
	}
	return nil
}

// validateMetaKey checks that key can be a bbolt key.
func validateMetaKey(key string) error {
	switch {
	case key == "":
		return errors.New("key is empty")
	case len(key) > bolt.MaxKeySize:
		return fmt.Errorf("key of %d bytes is longer than %d", len(key), bolt.MaxKeySize)
	}
	return nil
}

// getAttachment reads attachment id in tx.
func getAttachment(tx *bolt.Tx, id ID) (Attachment, bool, error) {
	key := attachmentKey(id)
	v := tx.Bucket(bucketAttachments).Get(key)
	if v == nil {
		return Attachment{}, false, nil
	}
	a, err := decodeAttachment(key, v)
	return a, err == nil, err
}

// decodeAttachment decodes the stored attachment value v of key.
func decodeAttachment(key, v []byte) (Attachment, error) {
	var a Attachment
	if err := json.Unmarshal(v, &a); err != nil {
		return Attachment{}, fmt.Errorf("decode attachment %q: %w", key, err)
	}
	return a, nil
}
