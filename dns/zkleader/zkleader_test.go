package zkleader

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/dcnet/dcnet/internal/dnstest"
)

func TestParseURL(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want URL
		err  string
	}{
		{in: "zk://10.0.0.1:2181/mesos", want: URL{Servers: []string{"10.0.0.1:2181"}, Path: "/mesos"}},
		// DC/OS: the zk zone's names, port on each.
		{in: "zk://zk-1.zk:2181,zk-2.zk:2181,zk-3.zk:2181/mesos", want: URL{Servers: []string{"zk-1.zk:2181", "zk-2.zk:2181", "zk-3.zk:2181"}, Path: "/mesos"}},
		{in: "zk://10.0.0.1,10.0.0.2:2182/mesos/", want: URL{Servers: []string{"10.0.0.1:2181", "10.0.0.2:2182"}, Path: "/mesos"}},
		{in: "zk://user:pw@[fd01::1]:2181/a/b", want: URL{Servers: []string{"[fd01::1]:2181"}, Path: "/a/b", Auth: "user:pw"}},
		{in: "10.0.0.1:2181/mesos", err: "want zk://"},
		{in: "zk://10.0.0.1:2181", err: "no znode path"},
		{in: "zk://10.0.0.1:2181/", err: "no znode path"},
		{in: "zk://10.0.0.1:99999/mesos", err: `server "10.0.0.1:99999"`},
		{in: "zk://a,,b/mesos", err: "empty server"},
		{in: "zk://user@h/mesos", err: "want user:password"},
	} {
		got, err := ParseURL(tt.in)
		dnstest.WantErr(t, err, tt.err)
		if tt.err == "" {
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("ParseURL(%q) -want +got:\n%s", tt.in, d)
			}
		}
	}
	if s := (URL{Servers: []string{"h:1"}, Path: "/m", Auth: "u:secret"}).String(); s != "zk://u:***@h:1/m" {
		t.Errorf("String() = %q hides no password", s)
	}
}

func TestParseMasterInfo(t *testing.T) {
	for _, tt := range []struct {
		in, want, err string
	}{
		{in: `{"address":{"hostname":"m1","ip":"10.0.0.1","port":5050},"hostname":"m1","id":"x","ip":16777226,"pid":"master@10.0.0.1:5050","port":5050}`, want: "10.0.0.1:5050"},
		{in: `{"address":{"ip":"fd01::1","port":5050}}`, want: "[fd01::1]:5050"},
		{in: `{"pid":"master@10.0.0.2:5051","port":5051}`, want: "10.0.0.2:5051"},
		// Mesos < 0.24: the IPv4 address as a little-endian integer.
		{in: `{"ip":16777226,"port":5050}`, want: "10.0.0.1:5050"},
		{in: `{"address":{"ip":"nope","port":5050}}`, err: `address "nope"`},
		{in: `{}`, err: "no address"},
		{in: `[`, err: "master info"},
	} {
		got, err := ParseMasterInfo([]byte(tt.in))
		dnstest.WantErr(t, err, tt.err)
		if got != tt.want {
			t.Errorf("ParseMasterInfo(%s) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestLeading(t *testing.T) {
	info := func(ip string) []byte { return []byte(`{"address":{"ip":"` + ip + `","port":5050}}`) }
	data := map[string][]byte{
		"json.info_0000000012": info("10.0.0.2"),
		"json.info_0000000009": info("10.0.0.3"),
		"json.info_0000000010": info("10.0.0.1"),
		"json.info_0000000011": []byte("garbage"),
		"info_0000000001":      []byte("protobuf of an old master"),
		"log_replicas":         nil,
	}
	var children []string
	for c := range data {
		children = append(children, c)
	}
	children = append(children, "json.info_0000000013") // vanished since the listing
	got, errs := Leading(children, func(name string) ([]byte, error) {
		if d, ok := data[name]; ok {
			return d, nil
		}
		return nil, errors.New("no node")
	})
	want := Masters{Leader: "10.0.0.3:5050", All: []string{"10.0.0.3:5050", "10.0.0.1:5050", "10.0.0.2:5050"}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("-want +got:\n%s", d)
	}
	if len(errs) != 2 {
		t.Errorf("errors %v, want the garbage and the vanished node", errs)
	}
	if m, _ := Leading([]string{"log_replicas"}, nil); m.Leader != "" || m.All != nil {
		t.Errorf("no contender: %+v", m)
	}
}
