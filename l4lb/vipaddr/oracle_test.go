package vipaddr

import (
	"bufio"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// otpGolden holds names with the values Erlang/OTP 25.2.3 (Debian 12's
// erlang-base and erlang-crypto) computed for them, one per line:
//
//	<name in hex> <phash2(N, 2^32)> <phash2(N, 254)> <phash2(N, 16777214)> <sha1(N) rem (2^64-1), hex>
//
// written by erlangOracle (DCNET_ERLANG_ROOT=... go test -run
// TestPhash2Erlang -update-otp ./l4lb/vipaddr/) over the first names of
// randomNames.
const otpGolden = "testdata/otp25.txt"

// otpGoldenNames is how many of randomNames the golden file holds.
const otpGoldenNames = 300

// TestPhash2OTP checks Phash2 and the IPv6 offset against the values
// Erlang itself computed (testdata/otp25.txt).
func TestPhash2OTP(t *testing.T) {
	f, err := os.Open(otpGolden)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, want, err := parseOracleLine(sc.Text())
		if err != nil {
			t.Fatalf("%s:%d: %v", otpGolden, n+1, err)
		}
		if got := oracleValues(name); got != want {
			t.Errorf("%q: Go %s, Erlang %s", name, got, want)
		}
		n++
	}
	if n != otpGoldenNames {
		t.Errorf("%s has %d names, want %d", otpGolden, n, otpGoldenNames)
	}
}

// TestPhash2Erlang runs the 10,000 random names of TestPhash2Reference
// through a real Erlang runtime when DCNET_ERLANG_ROOT names its root
// (/usr/lib/erlang, or the usr/lib/erlang of an unpacked erlang-base and
// erlang-crypto .deb) and compares every value with the Go port.
func TestPhash2Erlang(t *testing.T) {
	root := os.Getenv("DCNET_ERLANG_ROOT")
	if root == "" {
		t.Skip("DCNET_ERLANG_ROOT is not set: no Erlang oracle (testdata/otp25.txt holds its values for 300 names)")
	}
	names := randomNames(10000)
	lines, err := erlangOracle(t, root, names)
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != len(names) {
		t.Fatalf("erlang answered %d lines for %d names", len(lines), len(names))
	}
	bad := 0
	for i, l := range lines {
		_, want, err := parseOracleLine(l)
		if err != nil {
			t.Fatal(err)
		}
		if got := oracleValues(names[i]); got != want {
			if bad++; bad < 10 {
				t.Errorf("%q: Go %s, Erlang %s", names[i], got, want)
			}
		}
	}
	t.Logf("%d names: %d mismatches against Erlang at %s", len(names), bad, root)
	if os.Getenv("DCNET_UPDATE_OTP") == "1" && bad == 0 {
		if err := os.WriteFile(otpGolden, []byte(strings.Join(lines[:otpGoldenNames], "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// oracleValues renders what the golden file stores for name, from Go.
func oracleValues(name []byte) string {
	sum := sha1.Sum(name)
	rem := new(big.Int).Rem(new(big.Int).SetBytes(sum[:]), Default6.Qtty())
	return fmt.Sprintf("%d %d %d %x", Phash2(name, 0), Phash2(name, 254), Phash2(name, 16777214), rem)
}

func parseOracleLine(l string) (name []byte, values string, err error) {
	f := strings.Fields(l)
	if len(f) != 5 {
		return nil, "", fmt.Errorf("line %q: want 5 fields", l)
	}
	if f[0] != "-" {
		if name, err = hex.DecodeString(f[0]); err != nil {
			return nil, "", fmt.Errorf("line %q: %v", l, err)
		}
	}
	return name, strings.Join(f[1:], " "), nil
}

// erlangOracle computes the golden values of names with the Erlang runtime
// under root (erlexec run directly, so an unpacked package works).
func erlangOracle(t *testing.T, root string, names [][]byte) ([]string, error) {
	dir := t.TempDir()
	in := filepath.Join(dir, "names")
	var b strings.Builder
	for _, n := range names {
		if len(n) == 0 {
			b.WriteString("-\n")
		} else {
			b.WriteString(hex.EncodeToString(n) + "\n")
		}
	}
	if err := os.WriteFile(in, []byte(b.String()), 0o644); err != nil {
		return nil, err
	}
	erts, err := filepath.Glob(filepath.Join(root, "erts-*", "bin", "erlexec"))
	if err != nil || len(erts) == 0 {
		return nil, fmt.Errorf("no erts-*/bin/erlexec under %s", root)
	}
	script := `{ok, B} = file:read_file(` + strconv.Quote(in) + `),
	  Q = 16#ffffffffffffffff,
	  lists:foreach(fun (<<>>) -> ok; (L) ->
	      N = case L of <<"-">> -> <<>>; _ -> binary:decode_hex(L) end,
	      <<H:160>> = crypto:hash(sha, N),
	      io:format("~s ~b ~b ~b ~.16b~n", [L, erlang:phash2(N, 4294967296), erlang:phash2(N, 254),
	                erlang:phash2(N, 16777214), H rem Q])
	  end, binary:split(B, <<"\n">>, [global])),
	  halt().`
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, erts[0], "-noshell", "-eval", script)
	cmd.Env = append(os.Environ(), "ROOTDIR="+root, "BINDIR="+filepath.Dir(erts[0]), "EMU=beam", "PROGNAME=erl")
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("erlang: %v", err)
	}
	var lines []string
	for l := range strings.SplitSeq(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(l)
		if len(f) == 5 {
			f[4] = strings.ToLower(f[4])
			lines = append(lines, strings.Join(f, " "))
		}
	}
	return lines, nil
}
