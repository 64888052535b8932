package overlayd

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dcnet/dcnet/ipam"
	"github.com/dcnet/dcnet/overlayd/api"
)

// TestEndpointRecordIsAPIEndpoint checks that the record overlayd publishes
// decodes, field for field, into the socket API's Endpoint that dcnetctl
// reads, and that the API's Attachment carries everything ipam stored.
func TestEndpointRecordIsAPIEndpoint(t *testing.T) {
	a := ipam.Attachment{
		ID:           ipam.ID{Network: "dcos", ContainerID: "c1", IfName: "eth0"},
		Config:       "dcos-bridge",
		IPs:          []ipam.IP{{Address: "9.0.1.2/24", Gateway: "9.0.1.1"}},
		Runtime:      "cni",
		Labels:       map[string]string{"VIP_0": "/web:80"},
		PortMappings: []ipam.PortMapping{{HostPort: 8080, ContainerPort: 80, Protocol: "tcp", HostIP: "198.18.0.1"}},
		Created:      time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
	}
	b, err := json.Marshal(endpointRecord(a, "a1", "198.18.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	var got api.Endpoint
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	want := api.Endpoint{Attachment: apiAttachment(a), Node: "a1", NodeIP: "198.18.0.1"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("endpoint record as the API reads it (-want +got):\n%s", diff)
	}
	stored, _ := json.Marshal(a)
	api, _ := json.Marshal(apiAttachment(a))
	if string(stored) != string(api) {
		t.Errorf("stored attachment %s\nAPI attachment    %s", stored, api)
	}
}
