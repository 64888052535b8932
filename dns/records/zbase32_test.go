package records

import "testing"

func TestZbase32(t *testing.T) {
	tests := []struct {
		in   []byte
		want string
	}{
		{nil, ""},
		{[]byte{0x00}, "yy"},
		{[]byte{0xf0, 0xbf, 0xc7}, "6n9hq"}, // the spec's example bits, tv42/zbase32's vector
		{[]byte{0xd4, 0x7a, 0x04}, "4t7ye"},
		{[]byte{0xff, 0xff, 0xff, 0xff, 0xff}, "99999999"},
	}
	for _, tt := range tests {
		if got := zbase32(tt.in); got != tt.want {
			t.Errorf("zbase32(%x) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestTaskHash(t *testing.T) {
	tests := []struct{ id, want string }{
		{"test", "iffe9"}, // mesos-dns TestHashString
		{"liquor-store.b8db9f73-562f-11e4-a088-c20493233aa5", "4dfjd"},
		{"liquor-store.b71166c1-562f-11e4-a088-c20493233aa5", "zasmd"},
		{"car-store.43758382-562f-11e4-a088-c20493233aa5", "zinaz"},
	}
	for _, tt := range tests {
		if got := taskHash(tt.id); got != tt.want {
			t.Errorf("taskHash(%q) = %q, want %q", tt.id, got, tt.want)
		}
	}
}

func TestAgentTail(t *testing.T) {
	tests := []struct{ id, want string }{
		{"20140803-125133-3041283216-5050-2410-0", "0"},
		{"a1b2c3d4-0000-4000-8000-000000000000-S12", "s12"},
		{"noDashes", "nodashes"},
		{"x-S_1", "s_1"}, // not sanitised, as Mesos-DNS
		{"", ""},
	}
	for _, tt := range tests {
		if got := agentTail(tt.id); got != tt.want {
			t.Errorf("agentTail(%q) = %q, want %q", tt.id, got, tt.want)
		}
	}
}
