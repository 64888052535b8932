package mesosdns

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dcnet/dcnet/dns/dnsapi"
	"github.com/dcnet/dcnet/dns/records"
	"github.com/dcnet/dcnet/dns/resolver"
	"github.com/dcnet/dcnet/dns/server"
)

// maxConfigBytes bounds a config.json.
const maxConfigBytes = 1 << 20

// RetiredFields are config.json fields of older Mesos-DNS versions that
// Mesos-DNS e888ef4 ignores, and so does dcnet-dns (reporting them):
// "email" (the SOA mailbox before SOARname; DC/OS still writes it, and
// its Mesos-DNS answers root.ns1.mesos. all the same) and "ns" (the name
// server before SOAMname, in Mesos-DNS's own config.json.sample).
var RetiredFields = []string{"email", "ns"}

// LoadConfigFile reads Mesos-DNS's config.json at path (DecodeConfig) and
// turns it into a Config (ConfigFromFile); ignored lists the retired
// fields it held.
func LoadConfigFile(path string) (c Config, ignored []string, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Config{}, nil, fmt.Errorf("mesos-dns config: %w", err)
	}
	mc, ignored, err := DecodeConfig(bytes.NewReader(b))
	if err != nil {
		return Config{}, nil, fmt.Errorf("mesos-dns config %s: %w", path, err)
	}
	if abs, err := filepath.Abs(path); err == nil {
		mc.File = abs
	}
	c, err = ConfigFromFile(mc)
	if err != nil {
		return Config{}, nil, fmt.Errorf("mesos-dns config %s: %w", path, err)
	}
	return c, ignored, nil
}

// DecodeConfig reads a Mesos-DNS config.json onto
// dnsapi.DefaultMesosConfig(), as Mesos-DNS does: field names match
// without regard to letter case ("httpon" is HttpOn), a field left out or
// null keeps its default. Unlike Mesos-DNS, a field it does not know (but
// RetiredFields, returned in ignored) or a value of the wrong type is an
// error naming the field, as is anything but one JSON object.
func DecodeConfig(r io.Reader) (mc dnsapi.MesosConfig, ignored []string, err error) {
	mc = dnsapi.DefaultMesosConfig()
	data, err := io.ReadAll(io.LimitReader(r, maxConfigBytes+1))
	if err != nil {
		return mc, nil, err
	}
	if len(data) > maxConfigBytes {
		return mc, nil, fmt.Errorf("larger than %d bytes", maxConfigBytes)
	}
	ignored, err = decodeObject(data, reflect.ValueOf(&mc).Elem(), "", RetiredFields)
	return mc, ignored, err
}

// decodeObject decodes the JSON object data onto the struct v, matching
// its keys with v's JSON field names without regard to letter case (an
// exact match first, as encoding/json). Keys in retired are skipped and
// returned; other unknown keys are errors. prefix names v in errors.
func decodeObject(data []byte, v reflect.Value, prefix string, retired []string) ([]string, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	var obj map[string]json.RawMessage
	if err := dec.Decode(&obj); err != nil {
		return nil, jsonError(prefix, err)
	}
	if dec.More() || dec.InputOffset() < int64(len(bytes.TrimRight(data, " \t\r\n"))) {
		return nil, fmt.Errorf("%sunexpected data after the JSON object at offset %d", where(prefix), dec.InputOffset())
	}
	if obj == nil {
		if prefix == "" {
			return nil, errors.New("not a JSON object")
		}
		return nil, nil // null: keep the defaults
	}
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	slices.Sort(keys) // errors in a stable order
	var ignored []string
	for _, k := range keys {
		f, ok := fieldByJSONName(v, k)
		if !ok {
			if slices.ContainsFunc(retired, func(r string) bool { return strings.EqualFold(r, k) }) {
				ignored = append(ignored, k)
				continue
			}
			return nil, fmt.Errorf("field %q: unknown (the fields are Mesos-DNS's: %s)", prefix+k, strings.Join(jsonNames(v.Type()), ", "))
		}
		raw := obj[k]
		if f.Kind() == reflect.Struct {
			if _, err := decodeObject(raw, f, prefix+k+".", nil); err != nil {
				return nil, err
			}
			continue
		}
		if err := json.Unmarshal(raw, f.Addr().Interface()); err != nil {
			return nil, jsonError(prefix+k, err)
		}
	}
	return ignored, nil
}

// where is "field X: " for a nested object, else "".
func where(prefix string) string {
	if prefix == "" {
		return ""
	}
	return fmt.Sprintf("field %q: ", strings.TrimSuffix(prefix, "."))
}

// jsonError names the field and what JSON it wanted.
func jsonError(field string, err error) error {
	var typ *json.UnmarshalTypeError
	var syn *json.SyntaxError
	name := strings.TrimSuffix(field, ".")
	switch {
	case errors.As(err, &typ):
		if name == "" {
			return fmt.Errorf("got JSON %s, want an object", typ.Value)
		}
		return fmt.Errorf("field %q: got JSON %s, want %s", name, typ.Value, jsonKind(typ.Type))
	case errors.As(err, &syn):
		return fmt.Errorf("%sinvalid JSON at offset %d: %v", where(field+"."), syn.Offset, err)
	case errors.Is(err, io.EOF):
		return errors.New("empty file, want a JSON object")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("truncated JSON")
	}
	if name == "" {
		return err
	}
	return fmt.Errorf("field %q: %w", name, err)
}

// jsonKind names the JSON a Go type wants.
func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.String:
		return "a string"
	case reflect.Int, reflect.Int32, reflect.Int64:
		return "an integer"
	case reflect.Uint16, reflect.Uint32:
		return "a non-negative integer (at most " + strconv.FormatUint(1<<(t.Bits())-1, 10) + ")"
	case reflect.Slice:
		return "an array of " + strings.TrimPrefix(jsonKind(t.Elem()), "a ") + "s"
	case reflect.Map:
		return "an object of " + jsonKind(t.Elem())
	}
	return t.String()
}

// fieldByJSONName finds v's field whose JSON name is name: exactly, else
// without regard to letter case.
func fieldByJSONName(v reflect.Value, name string) (reflect.Value, bool) {
	t := v.Type()
	fold := -1
	for i := range t.NumField() {
		n := jsonName(t.Field(i))
		if n == name {
			return v.Field(i), true
		}
		if fold < 0 && strings.EqualFold(n, name) {
			fold = i
		}
	}
	if fold >= 0 {
		return v.Field(fold), true
	}
	return reflect.Value{}, false
}

// jsonName is a struct field's JSON name.
func jsonName(f reflect.StructField) string {
	if tag, _, _ := strings.Cut(f.Tag.Get("json"), ","); tag != "" {
		return tag
	}
	return f.Name
}

// jsonNames are a struct type's JSON field names.
func jsonNames(t reflect.Type) []string {
	var out []string
	for i := range t.NumField() {
		out = append(out, jsonName(t.Field(i)))
	}
	return out
}

// domainRe is Mesos-DNS's validation of a domain name.
var domainRe = regexp.MustCompile(`^[a-zA-Z0-9-]+(\.[a-zA-Z0-9-]+)*$`)

// ConfigFromFile turns a Mesos-DNS configuration into a Config, after the
// checks Mesos-DNS makes at start (in SetConfig), each an error naming
// the field: DnsOn or HttpOn, Masters as unique host:port pairs,
// Resolvers and ZoneResolvers (with ExternalOn), IPSources,
// StateTimeoutSeconds above 0, the domain, the certificate pair,
// MesosAuthentication. That Masters or Zk names the masters is checked by
// Config.Validate, after the flags (--mesos-state-file stands in for
// them). dcnet-dns's own settings (cache, sockets, fast path) keep their
// defaults.
func ConfigFromFile(mc dnsapi.MesosConfig) (Config, error) {
	if err := checkFile(&mc); err != nil {
		return Config{}, err
	}
	c := DefaultConfig()
	c.File = mc.File
	c.DNSOff = !mc.DNSOn
	c.DNS.Listen = []string{net.JoinHostPort(mc.Listener, strconv.Itoa(mc.Port))}
	c.HTTPAddr = ""
	if mc.HTTPOn {
		c.HTTPAddr = net.JoinHostPort(mc.HTTPListener, strconv.Itoa(mc.HTTPPort))
	}
	c.NoEnumeration = !mc.EnumerationOn
	c.DNS.NoForward = !mc.ExternalOn
	if mc.ExternalOn {
		c.DNS.Upstreams = slices.Clone(mc.Resolvers) // none: resolv.conf, as Mesos-DNS
		zones := make([]string, 0, len(mc.ZoneResolvers))
		for z := range mc.ZoneResolvers {
			zones = append(zones, z)
		}
		slices.Sort(zones)
		for _, z := range zones {
			c.DNS.ForwardZones = append(c.DNS.ForwardZones, resolver.ForwardZone{Zone: z + ".", Servers: slices.Clone(mc.ZoneResolvers[z])})
		}
	}
	c.DNS.Timeout = time.Duration(mc.Timeout) * time.Second // 0: the default 5 s, as Mesos-DNS
	c.DNS.ClearTruncated = !mc.SetTruncateBit
	m := &c.Mesos
	m.Masters, m.Zk = slices.Clone(mc.Masters), mc.Zk
	m.ZkTimeout = time.Duration(mc.ZkDetectionTimeout) * time.Second
	m.Refresh = time.Duration(mc.RefreshSeconds) * time.Second
	m.Timeout = time.Duration(mc.StateTimeoutSeconds) * time.Second
	m.HTTPS, m.CAFile, m.CertFile, m.KeyFile = mc.MesosHTTPSOn, mc.CACertFile, mc.CertFile, mc.KeyFile
	if mc.MesosAuthentication == dnsapi.MesosAuthBasic {
		m.Principal, m.Secret = mc.MesosCredentials.Principal, mc.MesosCredentials.Secret
	}
	m.Listener = mc.Listener
	m.Records = records.Config{
		Domain:        mc.Domain,
		IPSources:     slices.Clone(mc.IPSources),
		EnforceRFC952: mc.EnforceRFC952,
		SOAMname:      mc.SOAMname,
	}
	for _, ms := range mc.Masters {
		if _, err := netip.ParseAddrPort(ms); err == nil {
			// As given: Mesos-DNS compares them as text with the leader.
			m.Records.Masters = append(m.Records.Masters, ms)
		}
	}
	c.Zone = server.Authority{
		TTL: uint32(mc.TTL), Mname: mc.SOAMname, Rname: mc.SOARname,
		Refresh: mc.SOARefresh, Retry: mc.SOARetry, Expire: mc.SOAExpire,
		SRVWeight: mc.SRVRecordDefaultWeight, NoRecursionAvailable: !mc.RecurseOn,
	}
	return c, nil
}
