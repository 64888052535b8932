package vip

import (
	"strings"
	"testing"
)

func TestDNSName(t *testing.T) {
	tests := []struct{ name, framework, want string }{
		{"/mygroup/myapp", "marathon", "mygroupmyapp.marathon.l4lb.thisdcos.directory"},
		{"/web", "marathon", "web.marathon.l4lb.thisdcos.directory"},
		{"web", "marathon", "web.marathon.l4lb.thisdcos.directory"},
		{"/My_App", "Marathon", "my-app.marathon.l4lb.thisdcos.directory"},
		{"/api.hello-world", "hello-world", "api.hello-world.hello-world.l4lb.thisdcos.directory"},
		{"overlay-vip", "hello-world", "overlay-vip.hello-world.l4lb.thisdcos.directory"},
		{"/web", "", "web.l4lb.thisdcos.directory"},
		{"/web", "marathon_user", "web.marathon-user.l4lb.thisdcos.directory"},
		{"/a..b", "m", "a.b.m.l4lb.thisdcos.directory"},
	}
	for _, tt := range tests {
		if got := DNSName(tt.name, tt.framework); got != tt.want {
			t.Errorf("DNSName(%q, %q) = %q, want %q", tt.name, tt.framework, got, tt.want)
		}
	}
}

// TestSanitize uses the vectors of dcos-net's mesos_state label/1 tests
// (the RFC 1123 label rules it shares with Mesos-DNS).
func TestSanitize(t *testing.T) {
	tests := []struct{ in, want string }{
		{"fd%gsf---gs7-f$gs--d7fddg-123", "fdgsf---gs7-fgs--d7fddg-123"},
		{"4abc123", "4abc123"},
		{"89fdgsf---gs7-fgs--d7fddg-123", "89fdgsf---gs7-fgs--d7fddg-123"},
		{"##fdgsf---gs7-fgs--d7fddg123456789012345678901234567890123456789-", "fdgsf---gs7-fgs--d7fddg123456789012345678901234567890123456789"},
		{"fd%gsf---gs7-f$gs--d7fddg123456789012345678901234567890123456789-123", "fdgsf---gs7-fgs--d7fddg1234567890123456789012345678901234567891"},
		{"89fdgsf---gs7-fgs--d7fddg---123", "89fdgsf---gs7-fgs--d7fddg---123"},
		{"%%fdgsf---gs7-fgs--d7fddg123456789012345678901234567890123456789---123", "fdgsf---gs7-fgs--d7fddg1234567890123456789012345678901234567891"},
		{"-4abc123", "4abc123"},
		{"89fdgsf---gs7-fgs--d7fddg-", "89fdgsf---gs7-fgs--d7fddg"},
		{"0-0", "0-0"},
		{"My_Service.v2", "my-service-v2"},
		{"/group/app", "groupapp"},
		{"", ""},
		{"---", ""},
		{"héllo", "hllo"},
		{strings.Repeat("a", 70), strings.Repeat("a", 63)},
	}
	for _, tt := range tests {
		if got := Sanitize(tt.in); got != tt.want {
			t.Errorf("Sanitize(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
