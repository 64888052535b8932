package netconf

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/containernetworking/cni/pkg/types"
)

// Decode unmarshals data into v and turns JSON errors into CNI errors that
// name the offending field (code 6 for input that is not JSON, 7 for a
// field of the wrong type); prefix is the path of data in the whole config
// ("ipam.", "args.").
func Decode(data []byte, v any, prefix string) error {
	err := json.Unmarshal(data, v)
	if err == nil {
		return nil
	}
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		where := "network config"
		if prefix != "" {
			where = prefix[:len(prefix)-1]
		}
		return types.NewError(types.ErrDecodingFailure,
			fmt.Sprintf("%s is not valid JSON: %v (at byte %d)", where, syn, syn.Offset), "")
	case errors.As(err, &typ):
		field := prefix + typ.Field
		if typ.Field == "" {
			field = prefix
			if field == "" {
				return types.NewError(types.ErrDecodingFailure,
					fmt.Sprintf("network config: want a JSON object, got a JSON %s", typ.Value), "")
			}
			field = field[:len(field)-1]
		}
		field = strings.Replace(field, "args."+mesosArgsKey+".", fmt.Sprintf("args[%q].", mesosArgsKey), 1)
		return Invalid("%s: got a JSON %s, want %s", field, typ.Value, jsonKind(typ.Type.Kind().String()))
	default:
		where := "network config"
		if prefix != "" {
			where = prefix[:len(prefix)-1]
		}
		return types.NewError(types.ErrDecodingFailure, fmt.Sprintf("%s: %v", where, err), "")
	}
}

// jsonKind names a Go kind the way a config author thinks of it.
func jsonKind(kind string) string {
	switch kind {
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		return "an integer"
	case "float32", "float64":
		return "a number"
	case "bool":
		return "true or false"
	case "string":
		return "a string"
	case "slice", "array":
		return "an array"
	case "map", "struct":
		return "an object"
	}
	return "another type"
}

// parseRoute checks one ipam route: dst a CIDR, gw (optional) an address of
// the same family.
func parseRoute(r rawRoute) (*types.Route, error) {
	_, dst, err := net.ParseCIDR(r.Dst)
	if err != nil {
		return nil, fmt.Errorf("dst %q: want a CIDR such as \"0.0.0.0/0\"", r.Dst)
	}
	route := &types.Route{Dst: *dst}
	if r.GW != "" {
		gw := net.ParseIP(r.GW)
		if gw == nil || (gw.To4() == nil) != (dst.IP.To4() == nil) {
			return nil, fmt.Errorf("gw %q: want an IP address of the same family as dst %s", r.GW, dst)
		}
		route.GW = gw
	}
	return route, nil
}
