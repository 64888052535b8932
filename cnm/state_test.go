package cnm

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/dcnet/dcnet/overlayd/api"
	"github.com/google/go-cmp/cmp"
)

func removeState(dir string) error { return os.Remove(filepath.Join(dir, StateFile)) }

func TestStatePersists(t *testing.T) {
	dir := t.TempDir()
	st, err := OpenState(dir)
	if err != nil {
		t.Fatal(err)
	}
	n := Network{ID: "n1", Overlay: "dcos", Labels: map[string]string{"a": "b"}, Pools: []string{"9.0.1.0/24"}}
	ep := Endpoint{ID: "e1", NetworkID: "n1", Overlay: "dcos", Attachments: []api.AttachmentID{{Network: "dcos", ContainerID: "e1", IfName: "docker"}},
		Addresses: []string{"9.0.1.2/24"}, Joined: true}
	p := Pool{ID: poolID("dcos", false), Overlay: "dcos", Subnet: "9.0.1.0/24", Refs: 2}
	a := Address{Overlay: "dcos", Address: "9.0.1.2/24", Attachment: ep.Attachments[0], Endpoint: "e1"}
	if err := st.apply(put(bucketNetworks, n.ID, n), put(bucketEndpoints, ep.ID, ep), put(bucketPools, p.ID, p),
		put(bucketAddresses, addressKey(a.Overlay, a.Address), a)); err != nil {
		t.Fatal(err)
	}
	defer func(d time.Duration) { openTimeout = d }(openTimeout)
	openTimeout = 50 * time.Millisecond
	if _, err := OpenState(dir); err == nil {
		t.Fatal("a second open of a locked state succeeded")
	}
	st.Close()
	st, err = OpenState(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	gn, _, _ := st.Network("n1")
	ge, _, _ := st.Endpoint("e1")
	gp, _, _ := st.Pool(p.ID)
	ga, _, _ := st.Address("dcos", "9.0.1.2/24")
	if d := cmp.Diff([]any{n, ep, p, a}, []any{gn, ge, gp, ga}); d != "" {
		t.Fatalf("after reopen (-want +got):\n%s", d)
	}
	if found, err := st.ForgetNetwork("n1"); !found || err != nil {
		t.Fatalf("forget: %v %v", found, err)
	}
	if _, found, _ := st.Endpoint("e1"); found {
		t.Fatal("endpoint of a forgotten network kept")
	}
}
