package doctor

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sort"
	"strconv"
	"strings"
)

// NFTTable is one family's dcnet-l4lb table as `nft -j list table`
// shows it, reduced to what the checks compare.
type NFTTable struct {
	// Family is "ip" or "ip6".
	Family string
	// Present is false when the table does not exist.
	Present bool
	// Chains by name.
	Chains map[string]NFTChain
	// Maps are the names of the table's maps.
	Maps map[string]bool
	// VIPs are the elements of map vips: VIP -> verdict ("jump lb-2").
	VIPs map[VIPKey]string
	// Backends are the elements of map backends: slot -> backend.
	Backends map[SlotKey]netip.AddrPort
	// Bad lists elements of vips or backends that did not parse.
	Bad []string
}

// NFTChain is one chain: its base-chain type and hook (empty for a
// regular chain) and each rule summarised as the words of its
// statements that the checks look for ("vmap @vips", "numgen inc mod 2"
// (an offset other than 0 is added), "map @backends", "dnat", "fib", "masquerade", "reject").
type NFTChain struct {
	Type  string
	Hook  string
	Rules []string
}

// VIPKey is a key of the vips map: address, protocol name and port.
type VIPKey struct {
	Addr  netip.Addr
	Proto string
	Port  uint16
}

// String renders k as nft prints it: 11.0.0.1 . tcp . 80.
func (k VIPKey) String() string { return fmt.Sprintf("%s . %s . %d", k.Addr, k.Proto, k.Port) }

// SlotKey is a key of the backends map: a VIP and a slot number.
type SlotKey struct {
	VIPKey
	Slot uint32
}

// String renders k as nft prints it, the slot in decimal.
func (k SlotKey) String() string { return fmt.Sprintf("%s . %d", k.VIPKey, k.Slot) }

// maxNFTInput bounds the nft output ParseNFT accepts (10,000 VIPs of
// three backends are about 2 MB).
const maxNFTInput = 256 << 20

// ParseNFT reads the output of `nft -j list table <family> dcnet-l4lb`.
// An element it cannot read is listed in Bad rather than failing the
// whole table; output that is not nft's JSON document is an error.
func ParseNFT(family string, data []byte) (NFTTable, error) {
	t := NFTTable{Family: family, Chains: map[string]NFTChain{}, Maps: map[string]bool{},
		VIPs: map[VIPKey]string{}, Backends: map[SlotKey]netip.AddrPort{}}
	if len(data) > maxNFTInput {
		return t, fmt.Errorf("nft output of %d bytes: more than %d", len(data), maxNFTInput)
	}
	var doc struct {
		NFTables []map[string]json.RawMessage `json:"nftables"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return t, fmt.Errorf("nft -j output: %w", err)
	}
	if doc.NFTables == nil {
		return t, errors.New(`nft -j output: no "nftables" list`)
	}
	for _, obj := range doc.NFTables {
		for kind, raw := range obj {
			if err := t.add(kind, raw); err != nil {
				return t, fmt.Errorf("nft -j output: %s: %w", kind, err)
			}
		}
	}
	sort.Strings(t.Bad)
	return t, nil
}

func (t *NFTTable) add(kind string, raw json.RawMessage) error {
	switch kind {
	case "table":
		t.Present = true
	case "chain":
		var c struct{ Name, Type, Hook string }
		if err := json.Unmarshal(raw, &c); err != nil {
			return err
		}
		ch := t.Chains[c.Name]
		ch.Type, ch.Hook = c.Type, c.Hook
		t.Chains[c.Name] = ch
	case "rule":
		var r struct {
			Chain string
			Expr  []any
		}
		if err := json.Unmarshal(raw, &r); err != nil {
			return err
		}
		ch := t.Chains[r.Chain]
		ch.Rules = append(ch.Rules, strings.Join(ruleWords(r.Expr, nil), " "))
		t.Chains[r.Chain] = ch
	case "map":
		var m struct {
			Name string
			Elem []json.RawMessage
		}
		if err := json.Unmarshal(raw, &m); err != nil {
			return err
		}
		t.Maps[m.Name] = true
		for _, e := range m.Elem {
			t.addElem(m.Name, e)
		}
	}
	return nil
}

// addElem reads one map element, [key, value], into VIPs or Backends.
func (t *NFTTable) addElem(mapName string, raw json.RawMessage) {
	if mapName != "vips" && mapName != "backends" {
		return
	}
	var kv []any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if dec.Decode(&kv) != nil || len(kv) != 2 {
		t.Bad = append(t.Bad, mapName+": "+string(raw))
		return
	}
	key := concat(unwrapElem(kv[0]))
	ok := false
	if mapName == "vips" {
		var k VIPKey
		if k, ok = vipKey(key); ok {
			t.VIPs[k] = verdict(kv[1])
		}
	} else if len(key) == 4 {
		k, kok := vipKey(key[:3])
		slot, err := strconv.ParseUint(scalar(key[3]), 0, 32)
		b := backend(concat(kv[1]))
		if ok = kok && err == nil && b.IsValid(); ok {
			t.Backends[SlotKey{k, uint32(slot)}] = b
		}
	}
	if !ok {
		t.Bad = append(t.Bad, mapName+": "+string(raw))
	}
}

// unwrapElem returns the value of an element with attributes
// ({"elem": {"val": ...}}), or v itself.
func unwrapElem(v any) any {
	if m, ok := v.(map[string]any); ok {
		if e, ok := m["elem"].(map[string]any); ok {
			return e["val"]
		}
	}
	return v
}

// concat returns the parts of {"concat": [...]}, or v alone.
func concat(v any) []any {
	if m, ok := v.(map[string]any); ok {
		if c, ok := m["concat"].([]any); ok {
			return c
		}
	}
	return []any{v}
}

// scalar renders a JSON string or number as text ("" for anything else).
func scalar(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	}
	return ""
}

// IP protocol numbers nft may print instead of names.
var protoNames = map[string]string{"6": "tcp", "17": "udp"}

func vipKey(parts []any) (VIPKey, bool) {
	if len(parts) != 3 {
		return VIPKey{}, false
	}
	a, err := netip.ParseAddr(scalar(parts[0]))
	proto := scalar(parts[1])
	if n, ok := protoNames[proto]; ok {
		proto = n
	}
	port, ok := portNumber(proto, scalar(parts[2]))
	return VIPKey{Addr: a.Unmap(), Proto: proto, Port: port}, err == nil && ok && proto != ""
}

// portNumber reads a port that nft printed as a number or a service name.
func portNumber(proto, s string) (uint16, bool) {
	if n, err := strconv.ParseUint(s, 10, 16); err == nil {
		return uint16(n), true
	}
	if n, err := net.LookupPort(proto, s); err == nil && s != "" {
		return uint16(n), true
	}
	return 0, false
}

func backend(parts []any) netip.AddrPort {
	if len(parts) != 2 {
		return netip.AddrPort{}
	}
	a, err := netip.ParseAddr(scalar(parts[0]))
	p, ok := portNumber("tcp", scalar(parts[1]))
	if err != nil || !ok {
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(a.Unmap(), p)
}

// verdict renders a map value such as {"jump": {"target": "lb-2"}} as
// nft prints it ("jump lb-2").
func verdict(v any) string {
	m, ok := v.(map[string]any)
	if !ok {
		return scalar(v)
	}
	for k, x := range m {
		if t, ok := x.(map[string]any); ok {
			if target := scalar(t["target"]); target != "" {
				return k + " " + target
			}
		}
		return k
	}
	return ""
}

// ruleWords collects, depth first, the words of the statements the
// skeleton check looks for.
func ruleWords(v any, out []string) []string {
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			out = ruleWords(e, out)
		}
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			val := x[k]
			switch k {
			case "vmap", "map":
				if m, ok := val.(map[string]any); ok {
					out = ruleWords(m["key"], out)
					out = append(out, k+" "+fmt.Sprint(m["data"]))
					continue
				}
			case "numgen":
				if m, ok := val.(map[string]any); ok {
					w := fmt.Sprintf("numgen %v mod %v", m["mode"], m["mod"])
					if off, ok := m["offset"].(float64); ok && off != 0 {
						w += fmt.Sprintf(" offset %v", off)
					}
					out = append(out, w)
					continue
				}
			case "dnat", "fib", "masquerade", "reject":
				out = append(out, k)
			}
			out = ruleWords(val, out)
		}
	}
	return out
}
