package main

import (
	"encoding/json"
	"fmt"
)

// mesosTask is a running task of marathon on an agent, with one container
// IP on the dcos overlay.
type mesosTask struct {
	Name, Agent, IP string
}

// mesosState renders a Mesos /master/state document (the shape
// scripts/demo.sh saves): the master at masterIP is the leader, agents
// maps an agent id to its address, every task runs under the framework
// marathon with its container IP in the status's network_infos.
func mesosState(masterIP string, agents map[string]string, tasks []mesosTask) ([]byte, error) {
	pid := fmt.Sprintf("master@%s:5050", masterIP)
	ts := make([]any, 0, len(tasks))
	for _, t := range tasks {
		ts = append(ts, map[string]any{
			"id": t.Name + ".bench", "name": t.Name, "framework_id": "fw-marathon", "slave_id": t.Agent,
			"state": "TASK_RUNNING", "resources": map[string]any{"ports": "[80-80]"},
			"statuses": []any{map[string]any{
				"state": "TASK_RUNNING", "timestamp": 1,
				"container_status": map[string]any{"network_infos": []any{map[string]any{
					"name":         overlayName,
					"ip_addresses": []any{map[string]any{"protocol": "IPv4", "ip_address": t.IP}},
				}}},
			}},
		})
	}
	slaves := make([]any, 0, len(agents))
	for id, ip := range agents {
		slaves = append(slaves, map[string]any{"id": id, "hostname": ip, "pid": fmt.Sprintf("slave(1)@%s:5051", ip)})
	}
	doc := map[string]any{
		"id": "bench-master", "pid": pid, "hostname": masterIP, "leader": pid,
		"leader_info": map[string]any{"id": "bench-master", "pid": pid, "port": 5050, "hostname": masterIP},
		"frameworks": []any{map[string]any{
			"id": "fw-marathon", "name": "marathon", "hostname": masterIP,
			"pid": fmt.Sprintf("scheduler@%s:8080", masterIP), "active": true, "tasks": ts,
		}},
		"slaves": slaves,
	}
	return json.MarshalIndent(doc, "", " ")
}
