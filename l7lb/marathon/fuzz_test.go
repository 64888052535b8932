package marathon

import (
	"bytes"
	"errors"
	"io"
	"os"
	"testing"
)

// FuzzReadEvents: any stream either ends with EOF or with an error; the
// events handed out always have a type. Never panics.
func FuzzReadEvents(f *testing.F) {
	f.Add([]byte("event: status_update_event\ndata: {\"eventType\":\"status_update_event\",\"appId\":\"/a\"}\n\n"))
	f.Add([]byte(": hb\r\n\r\ndata: {\"eventType\":\"a\"}\ndata: {\"eventType\":\"b\"}\n\n"))
	f.Add([]byte("data: {\n\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		err := readEvents(bytes.NewReader(data), func() {}, func(ev Event) {
			if ev.EventType == "" {
				t.Fatal("event without a type")
			}
		})
		if err == nil {
			t.Fatal("readEvents returned nil: it ends with EOF or an error")
		}
		if !errors.Is(err, io.EOF) && !errors.Is(err, errGarbage) {
			t.Fatalf("unexpected error %v", err)
		}
	})
}

// FuzzDecodeApps: any answer decodes to apps with IDs or fails; the
// port helpers never panic on what decodes.
func FuzzDecodeApps(f *testing.F) {
	if data, err := os.ReadFile("testdata/apps.json"); err == nil {
		f.Add(data)
	}
	f.Add([]byte(`{"apps":[{"id":"/a","container":{"docker":{"network":"USER"}},"tasks":[{"id":"t","ipAddresses":[{"ipAddress":"x"}]}]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		apps, err := DecodeApps(data)
		if err != nil {
			return
		}
		p := NewPortAssigner(DefaultMinAssignedPort, DefaultMaxAssignedPort)
		for i := range apps {
			a := &apps[i]
			if a.ID == "" {
				t.Fatal("app without an ID decoded")
			}
			p.ServicePorts(a)
			PortNames(a)
			ContainerPorts(a)
			for j := range a.Tasks {
				TaskPorts(a, &a.Tasks[j])
				TaskIP(a, &a.Tasks[j])
			}
			for k := range 3 {
				HealthCheckFor(a, k)
			}
		}
	})
}
