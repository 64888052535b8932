// Package vipaddr derives named VIP addresses the way DC/OS's dcos-net did
// (dcos_l4lb_lashup_vip_listener.erl), so that a cluster moved from DC/OS
// keeps its VIP addresses and hand-picked IP VIPs rarely collide with a
// named one. It is pure: dcnet-l4lb claims the address it proposes through
// an etcd compare-and-swap (package daemon).
//
// # The derivation
//
// A named VIP <label> of framework <fw> is hashed as the Erlang binary
// Name = to_name([Label, FwName]), the two sanitised DNS fragments joined
// by '.': "/foo" of framework "bar" is <<"foo.bar">>, the DNS name without
// ".l4lb.thisdcos.directory" (Term). With Min and Max the range's first and
// last address and Qtty = Max - Min:
//
//	IPv4: Min + erlang:phash2(Name, Qtty)   11.0.0.0 + phash2(Name, 16777214)
//	IPv6: Min + (sha1(Name) as a 160-bit integer) rem Qtty
//	                                        fd01:c:: + sha1(Name) rem (2^64 - 1)
//
// On a collision the next address is tried (Next: +1, Max wraps to Min),
// at most Qtty times. dcos-net's own test vectors hold with its test range
// 11.0.0.0-11.0.0.254 (Qtty 254): foo.bar -> 11.0.0.37, baz.qux ->
// 11.0.0.39, and with the default IPv6 range qux.ipv6 ->
// fd01:c::6d6d:9c64:fd19:f251.
//
// # phash2
//
// Phash2 is erlang:phash2/2 for a binary, ported from erts' make_hash2
// (erts/emulator/beam/utils.c): a byte-aligned binary of n > 0 bytes hashes
// to block_hash(bytes, n, HCONST_13) (Bob Jenkins' lookup2 with the golden
// ratio as a and b), the empty binary to HCONST_13, and phash2/2 reduces
// the 32-bit hash modulo the range (a range of 2^32 keeps it whole). Only
// binaries are ported: they are the only term dcos-net hashes. The tests
// check it against an independent transliteration of the C code on 10,000
// random names and against values computed by Erlang/OTP 25.2.3 (Debian
// 12's erlang-base) stored in testdata.
package vipaddr
