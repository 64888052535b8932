package haproxy

import (
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func readTestdata(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestParseShowProc(t *testing.T) {
	got, err := ParseShowProc(readTestdata(t, "show-proc.txt"))
	if err != nil {
		t.Fatal(err)
	}
	v := "2.6.12-1+deb12u4"
	want := Procs{
		Master:  Proc{PID: 3638, Type: "master", Reloads: 2, Failed: 1, Uptime: "0d00h00m28s", Version: v},
		Workers: []Proc{{PID: 5017, Type: "worker", Reloads: 1, Uptime: "0d00h00m02s", Version: v}},
		Old:     []Proc{{PID: 4001, Type: "worker", Reloads: 3, Uptime: "0d00h00m43s", Version: v, Old: true}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ParseShowProc (-want +got):\n%s", diff)
	}
	for _, bad := range []string{"", "# workers\n12 worker 0 0d 2.6", "x master 0 [failed: 0] 0d 2.6", "1 master zz 0d 2.6"} {
		if _, err := ParseShowProc(bad); err == nil {
			t.Errorf("ParseShowProc(%q) = nil error", bad)
		}
	}
}

func TestParseServersState(t *testing.T) {
	got, err := ParseServersState(readTestdata(t, "servers-state.txt"))
	if err != nil {
		t.Fatal(err)
	}
	want := []ServerStatus{
		{Backend: "be", Server: "s1", Addr: "127.0.0.1", Port: 9001, OpState: OpStopped, Admin: 0, Weight: 5},
		{Backend: "be", Server: "s2", Addr: "127.0.0.1", Port: 1, OpState: OpStopped, Admin: AdminForcedMaint | AdminConfigMaint, Weight: 1},
		{Backend: "be", Server: "s3", Addr: "9.0.0.2", Port: 80, OpState: OpRunning, Admin: AdminForcedDrain, Weight: 0},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ParseServersState (-want +got):\n%s", diff)
	}
	if !got[1].Maint() || got[0].Maint() || !got[2].Drain() || !got[2].Up() || got[0].Up() {
		t.Errorf("state helpers wrong: %+v", got)
	}
	for _, bad := range []string{"", "2\n", "1\n3 be 1 s1", "1\n# be_name srv_name\nbe"} {
		if _, err := ParseServersState(bad); err == nil {
			t.Errorf("ParseServersState(%q) = nil error", bad)
		}
	}
}

func TestParseStat(t *testing.T) {
	out := "# pxname,svname,scur,status,\nfe,FRONTEND,3,OPEN,\nbe,s1,2,UP,\n"
	rows, err := ParseStat(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[1]["svname"] != "s1" || rows[1].Int("scur") != 2 || rows[0]["status"] != "OPEN" {
		t.Errorf("ParseStat = %v", rows)
	}
	if _, err := ParseStat("Unknown command"); err == nil {
		t.Error("ParseStat(garbage) = nil error")
	}
}

func TestParseAlerts(t *testing.T) {
	got := ParseAlerts(readTestdata(t, "check-alerts.txt"))
	want := []Alert{
		{File: "/run/l7/gen/3/haproxy.cfg", Line: 22, Text: "parsing [/run/l7/gen/3/haproxy.cfg:22] : unknown keyword 'bogus_kw' in 'frontend' section"},
		{Proxy: "be_web", Text: "Proxy 'be_web': unable to find required use_backend: 'nope'."},
		{Proxy: "fe_http", Text: "Starting frontend fe_http: cannot bind socket (Cannot assign requested address) [198.18.9.9:80]"},
		{File: "/tmp/l7/haproxy.cfg", Line: 24, Proxy: "elsewhere", Text: "Binding [/tmp/l7/haproxy.cfg:24] for frontend elsewhere: cannot bind socket (Cannot assign requested address) for [203.0.113.7:8080]"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ParseAlerts (-want +got):\n%s", diff)
	}
}

func TestSplitReplies(t *testing.T) {
	tests := []struct {
		name    string
		out     string
		n       int
		want    []string
		wantErr bool
	}{
		{"three", "\n> IP changed from '1' to '2'\n\n> \n> + + Transaction created for certificate x!\n\n> ", 3,
			[]string{"IP changed from '1' to '2'", "", "Transaction created for certificate x!"}, false},
		{"cut after one", "\n> first\n\n> second", 3, []string{"first"}, true},
		{"nothing", "", 2, []string{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := splitReplies([]byte(tt.out), tt.n)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("replies (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSanitizePayload(t *testing.T) {
	got := SanitizePayload("-----BEGIN X-----\r\nabc\r\n\r\n-----END X-----\n\n")
	if want := "-----BEGIN X-----\nabc\n-----END X-----"; got != want {
		t.Errorf("SanitizePayload = %q, want %q", got, want)
	}
}

func FuzzParseShowProc(f *testing.F) {
	f.Add("#<PID> <type> <reloads> <uptime> <version>\n1 master 0 [failed: 0] 0d 2.6\n# workers\n2 worker 0 0d 2.6\n")
	f.Fuzz(func(t *testing.T, s string) {
		ParseShowProc(s)
	})
}

func FuzzParseServersState(f *testing.F) {
	f.Add("1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_port\n3 be 1 s1 127.0.0.1 0 0 5 9001\n")
	f.Fuzz(func(t *testing.T, s string) {
		ParseServersState(s)
	})
}
