package ipam

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"
)

func TestOpenCreatesParentDir(t *testing.T) {
	path := filepath.Join(t.TempDir(), "var", "lib", "dcnet", "ipam.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := os.Stat(path); err != nil {
		t.Errorf("state file not created: %v", err)
	}
}

func TestOpenLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ipam.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, err = open(path, &bolt.Options{Timeout: 10 * time.Millisecond})
	want := "state file " + path + " is in use by another process (is another overlayd running with the same --state-dir?)"
	if err == nil || err.Error() != want {
		t.Errorf("second open: %v, want %q", err, want)
	}
}

func TestOpenRejectsUnknownLayout(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ipam.db")
	db, err := bolt.Open(path, stateFileMode, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket(bucketIPAM)
		if err != nil {
			return err
		}
		return b.Put(versionKey, []byte("99"))
	})
	if err := errors.Join(err, db.Close()); err != nil {
		t.Fatal(err)
	}
	_, err = Open(path)
	if err == nil || !strings.Contains(err.Error(), `layout version "99", this build understands "1"`) {
		t.Errorf("Open of a newer layout: %v, want a version error", err)
	}
}

func TestReopenKeepsState(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ipam.db")
	p := pool("dcos", testSubnet4, testSubnet6)
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	mustAllocate(t, s, p, req("dcos", "a"))
	b := mustAllocate(t, s, p, req("dcos", "b"))
	if _, _, err := s.Release(b.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.PutMeta("lease", []byte("42")); err != nil {
		t.Fatal(err)
	}
	before, err := s.List()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	after, err := s.List()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(before, after); diff != "" {
		t.Errorf("attachments after reopen (-before +after):\n%s", diff)
	}
	if v, ok, err := s.GetMeta("lease"); err != nil || !ok || string(v) != "42" {
		t.Errorf("GetMeta(lease) after reopen = %q, %v, %v; want 42", v, ok, err)
	}
	// The cursors survived: c gets the addresses after b's, not b's again.
	got := addrs(t, mustAllocate(t, s, p, req("dcos", "c")))
	if diff := cmp.Diff([]string{"9.0.3.4", "fd01:b::3:0:0:4"}, got); diff != "" {
		t.Errorf("addresses after reopen (-want +got):\n%s", diff)
	}
}

func TestMeta(t *testing.T) {
	s := openTest(t, true)
	if v, ok, err := s.GetMeta("lease"); err != nil || ok || v != nil {
		t.Errorf("GetMeta of a missing key = %q, %v, %v; want nothing", v, ok, err)
	}
	value := []byte("subnet 9.0.3.0/24")
	for _, put := range [][]byte{[]byte("old"), value, {}} {
		if err := s.PutMeta("lease", put); err != nil {
			t.Fatal(err)
		}
		got, ok, err := s.GetMeta("lease")
		if err != nil || !ok || !bytes.Equal(got, put) {
			t.Errorf("GetMeta after PutMeta(%q) = %q, %v, %v", put, got, ok, err)
		}
	}
	if err := s.PutMeta("", value); err == nil || err.Error() != "put meta: key is empty" {
		t.Errorf("PutMeta with empty key: %v", err)
	}
	if _, _, err := s.GetMeta(""); err == nil {
		t.Error("GetMeta with empty key succeeded, want error")
	}
	if n, _ := s.Count(); n != 0 {
		t.Errorf("meta values counted as attachments: Count() = %d", n)
	}
}

func TestClosedStore(t *testing.T) {
	s := openTest(t, true)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, _, err := s.Allocate(pool("dcos", testSubnet4), req("dcos", "c1")); !errors.Is(err, errClosed) {
		t.Errorf("Allocate after Close: %v, want %v", err, errClosed)
	}
	if err := s.PutMeta("k", nil); !errors.Is(err, errClosed) {
		t.Errorf("PutMeta after Close: %v, want %v", err, errClosed)
	}
	if _, err := s.List(); err == nil {
		t.Error("List after Close succeeded, want error")
	}
}

// TestBatchWriteFailureIsolated runs a batch whose middle op fails after
// writing: the batch is redone op by op, so the others succeed and nothing of
// the failed op remains.
func TestBatchWriteFailureIsolated(t *testing.T) {
	s := openTest(t, true)
	put := func(key string, fail bool) *op {
		return &op{prepare: func(tx *bolt.Tx) (func() error, error) {
			return func() error {
				if err := tx.Bucket(bucketMeta).Put([]byte(key), []byte("v")); err != nil {
					return err
				}
				if fail {
					return errors.New("disk on fire")
				}
				return nil
			}, nil
		}}
	}
	refuse := &op{prepare: func(*bolt.Tx) (func() error, error) { return nil, errors.New("invalid") }}
	batch := []*op{put("a", false), put("bad", true), refuse, put("c", false)}
	s.apply(batch)

	var got []string
	for _, o := range batch {
		got = append(got, errString(o.err))
	}
	want := []string{"", "write state file " + s.path + ": disk on fire", "invalid", ""}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("op errors (-want +got):\n%s", diff)
	}
	for key, want := range map[string]bool{"a": true, "bad": false, "c": true} {
		if _, ok, err := s.GetMeta(key); err != nil || ok != want {
			t.Errorf("GetMeta(%s) found=%v err=%v, want found=%v", key, ok, err, want)
		}
	}
}

// errString is err's message, or "" for nil.
func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
