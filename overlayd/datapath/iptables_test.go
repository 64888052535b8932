package datapath

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var testMasq = Masquerade{Ranges: []netip.Prefix{netip.MustParsePrefix("9.0.0.0/8")}}

// masqState is what ensureMasquerade leaves for testMasq in empty tables.
const masqState = `-t filter -N DCNET-FORWARD
-t filter -A FORWARD -m comment --comment "dcnet: overlay masquerade and forwarding" -j DCNET-FORWARD
-t filter -A DCNET-FORWARD -s 9.0.0.0/8 -j ACCEPT
-t filter -A DCNET-FORWARD -d 9.0.0.0/8 -j ACCEPT
-t nat -N DCNET-POSTROUTING
-t nat -A POSTROUTING -m comment --comment "dcnet: overlay masquerade and forwarding" -j DCNET-POSTROUTING
-t nat -A DCNET-POSTROUTING -s 9.0.0.0/8 -d 9.0.0.0/8 -j RETURN
-t nat -A DCNET-POSTROUTING -s 9.0.0.0/8 -j MASQUERADE
`

// mustEnsureMasquerade applies testMasq and reports whether it changed
// anything.
func mustEnsureMasquerade(t *testing.T, ipt *FakeIPTables) bool {
	t.Helper()
	changed, err := ensureMasquerade(ipt, testMasq)
	if err != nil {
		t.Fatalf("ensureMasquerade: %v", err)
	}
	return changed
}

func TestEnsureMasqueradeFreshThenSteady(t *testing.T) {
	ipt := NewFakeIPTables()
	if !mustEnsureMasquerade(t, ipt) {
		t.Error("first ensure on empty tables: changed = false")
	}
	if diff := cmp.Diff(masqState, ipt.String()); diff != "" {
		t.Errorf("tables (-want +got):\n%s", diff)
	}
	ipt.Calls = nil
	if mustEnsureMasquerade(t, ipt) {
		t.Error("second ensure: changed = true")
	}
	// In the steady state one save per table is all a reconcile execs.
	if diff := cmp.Diff([]string{"Save nat", "Save filter"}, ipt.Calls); diff != "" {
		t.Errorf("steady-state calls (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(masqState, ipt.String()); diff != "" {
		t.Errorf("tables after the second ensure (-want +got):\n%s", diff)
	}
}

// TestEnsureMasqueradeRepairs: whatever an operator did to dcnet's chains
// is put back, and rules that are not dcnet's stay where they are.
func TestEnsureMasqueradeRepairs(t *testing.T) {
	const foreign = "-t nat -A POSTROUTING -o eth9 -j MASQUERADE\n"
	for _, tc := range []struct {
		name   string
		damage func(*FakeIPTables) error
		want   string // the tables after the repair
		adopt  bool   // nothing of dcnet's is damaged: no change
	}{
		{"chain flushed", func(f *FakeIPTables) error { return f.ClearChain("nat", ChainMasq) }, masqState, false},
		{"rule added", func(f *FakeIPTables) error { return f.Append("nat", ChainMasq, "-s", "10.0.0.0/8", "-j", "MASQUERADE") }, masqState, false},
		{"rule deleted", func(f *FakeIPTables) error {
			return f.DeleteIfExists("filter", ChainForward, "-d", "9.0.0.0/8", "-j", "ACCEPT")
		}, masqState, false},
		{"rules swapped", func(f *FakeIPTables) error {
			if err := f.DeleteIfExists("nat", ChainMasq, "-s", "9.0.0.0/8", "-j", "MASQUERADE"); err != nil {
				return err
			}
			return f.Insert("nat", ChainMasq, 1, "-s", "9.0.0.0/8", "-j", "MASQUERADE")
		}, masqState, false},
		{"jump deleted", func(f *FakeIPTables) error {
			return f.DeleteIfExists("nat", "POSTROUTING", jumpRule(ChainMasq)...)
		}, masqState, false},
		{"chains deleted", func(f *FakeIPTables) error {
			for _, c := range [][3]string{{"nat", "POSTROUTING", ChainMasq}, {"filter", "FORWARD", ChainForward}} {
				if err := f.DeleteIfExists(c[0], c[1], jumpRule(c[2])...); err != nil {
					return err
				}
				if err := f.ClearAndDeleteChain(c[0], c[2]); err != nil {
					return err
				}
			}
			return nil
		}, masqState, false},
		{"foreign rule before the jump is kept", func(f *FakeIPTables) error {
			return f.Insert("nat", "POSTROUTING", 1, "-o", "eth9", "-j", "MASQUERADE")
		}, strings.Replace(masqState, "-t nat -A POSTROUTING", strings.TrimSuffix(foreign, "\n")+"\n-t nat -A POSTROUTING", 1), true},
		{"jump deleted, foreign rule kept after it", func(f *FakeIPTables) error {
			if err := f.Append("nat", "POSTROUTING", "-o", "eth9", "-j", "MASQUERADE"); err != nil {
				return err
			}
			return f.DeleteIfExists("nat", "POSTROUTING", jumpRule(ChainMasq)...)
		}, strings.Replace(masqState, "-t nat -A DCNET-POSTROUTING -s 9.0.0.0/8 -d", strings.TrimSuffix(foreign, "\n")+"\n-t nat -A DCNET-POSTROUTING -s 9.0.0.0/8 -d", 1), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ipt := NewFakeIPTables()
			mustEnsureMasquerade(t, ipt)
			if err := tc.damage(ipt); err != nil {
				t.Fatalf("damage: %v", err)
			}
			if ipt.String() == masqState {
				t.Fatal("the damage changed nothing: the case tests nothing")
			}
			if changed := mustEnsureMasquerade(t, ipt); changed == tc.adopt {
				t.Errorf("repair: changed = %v, want %v", changed, !tc.adopt)
			}
			if diff := cmp.Diff(tc.want, ipt.String()); diff != "" {
				t.Errorf("tables after the repair (-want +got):\n%s", diff)
			}
			if mustEnsureMasquerade(t, ipt) {
				t.Error("ensure after the repair: changed = true")
			}
		})
	}
}

func TestEnsureMasqueradeIPv6AndNothing(t *testing.T) {
	ipt := NewFakeIPTables()
	if changed, err := ensureMasquerade(ipt, Masquerade{IPv6: true}); changed || err != nil || len(ipt.Calls) != 0 {
		t.Errorf("no ranges: changed %v, err %v, calls %v; want nothing done", changed, err, ipt.Calls)
	}
	if _, err := ensureMasquerade(ipt, Masquerade{IPv6: true, Ranges: []netip.Prefix{netip.MustParsePrefix("fd01:b::/64")}}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"-t nat -A DCNET-POSTROUTING -s fd01:b::/64 -d fd01:b::/64 -j RETURN\n", "-t filter -A DCNET-FORWARD -d fd01:b::/64 -j ACCEPT\n"} {
		if !strings.Contains(ipt.String(), want) {
			t.Errorf("tables lack %q:\n%s", want, ipt)
		}
	}
}

func TestEnsureMasqueradeErrors(t *testing.T) {
	boom := errors.New("boom")
	for _, tc := range []struct {
		method, want string
	}{
		{"ChainExists", "check chain nat/DCNET-POSTROUTING: boom"},
		{"NewChain", "create chain nat/DCNET-POSTROUTING: boom"},
		{"List", "list chain nat/DCNET-POSTROUTING: boom"},
		{"ClearChain", "clear chain nat/DCNET-POSTROUTING: boom"},
		{"Append", `add rule "-s 9.0.0.0/8 -d 9.0.0.0/8 -j RETURN" to nat/DCNET-POSTROUTING: boom`},
		{"Exists", "check jump nat/POSTROUTING -> DCNET-POSTROUTING: boom"},
		{"Insert", "add jump nat/POSTROUTING -> DCNET-POSTROUTING: boom"},
	} {
		ipt := NewFakeIPTables()
		ipt.Fail = map[string]error{tc.method: boom}
		_, err := ensureMasquerade(ipt, testMasq)
		if err == nil || err.Error() != tc.want || !errors.Is(err, boom) {
			t.Errorf("%s failing: err = %v, want %q", tc.method, err, tc.want)
		}
	}
	// A failing iptables-save only costs the fast path.
	ipt := NewFakeIPTables()
	ipt.Fail = map[string]error{"Save": boom}
	if !mustEnsureMasquerade(t, ipt) || ipt.String() != masqState {
		t.Errorf("without iptables-save: tables\n%s", ipt)
	}
}

func TestEnsureNoTrack(t *testing.T) {
	v := VTEP{Name: "vtep1024", Port: 64000, NoTrack: true}
	const want = `-t raw -N DCNET-VXLAN-NOTRACK
-t raw -A PREROUTING -m comment --comment "dcnet: overlay masquerade and forwarding" -j DCNET-VXLAN-NOTRACK
-t raw -A OUTPUT -m comment --comment "dcnet: overlay masquerade and forwarding" -j DCNET-VXLAN-NOTRACK
-t raw -A DCNET-VXLAN-NOTRACK -p udp -m udp --dport 64000 -j CT --notrack
`
	ipt := NewFakeIPTables()
	ensure := func(v VTEP) bool {
		t.Helper()
		changed, err := ensureNoTrack(ipt, v)
		if err != nil {
			t.Fatal(err)
		}
		return changed
	}
	if !ensure(v) || ensure(v) {
		t.Error("on: want a change, then none")
	}
	if diff := cmp.Diff(want, ipt.String()); diff != "" {
		t.Errorf("tables (-want +got):\n%s", diff)
	}
	v.NoTrack = false
	if !ensure(v) || ensure(v) {
		t.Error("off: want a change, then none")
	}
	if got := ipt.String(); got != "" {
		t.Errorf("off: tables still hold\n%s", got)
	}
	// A jump that is not dcnet's keeps the chain alive: a clear error.
	v.NoTrack = true
	ensure(v)
	if err := ipt.Append("raw", "OUTPUT", "-j", ChainNoTrack); err != nil {
		t.Fatal(err)
	}
	v.NoTrack = false
	if _, err := ensureNoTrack(ipt, v); err == nil || !strings.Contains(err.Error(), "delete chain raw/DCNET-VXLAN-NOTRACK") {
		t.Errorf("remove with a foreign jump: err = %v", err)
	}
}

// TestFakeIPTablesSave: the fake's dump is what chainInSync reads.
func TestFakeIPTablesSave(t *testing.T) {
	ipt := NewFakeIPTables()
	mustEnsureMasquerade(t, ipt)
	saved, err := ipt.Save("nat")
	if err != nil {
		t.Fatal(err)
	}
	nat, _ := MasqueradeRules(testMasq)
	if !chainInSync(saved, ChainMasq, nat, []string{"POSTROUTING"}) {
		t.Errorf("not in sync:\n%s", saved)
	}
	if chainInSync(saved, ChainMasq, nat[:1], []string{"POSTROUTING"}) || chainInSync(saved, ChainMasq, nat, []string{"OUTPUT"}) {
		t.Errorf("in sync with rules or jumps it does not have:\n%s", saved)
	}
	if err := ipt.Append("nat", "POSTROUTING", "-j", "NO-SUCH-CHAIN"); err == nil {
		t.Error("a jump to a missing chain: no error")
	}
	if _, err := ipt.Save("security"); err == nil {
		t.Error("an unknown table: no error")
	}
}
