package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"slices"

	"github.com/dcnet/dcnet/dns/mesos"
	"github.com/dcnet/dcnet/dns/records"
)

// Shape of the generated cluster.
const (
	framework     = "marathon"
	tasksPerAgent = 1000
	// clusterKind is the task name users resolve: the agent's IP when the
	// task maps a host port, else its container IP.
	clusterKind = records.KindAutoIP
	// clusterTTL and the SOA match what dcnet-dns serves, so both servers
	// send the same answers.
	clusterTTL = 5
	// forwardZone is answered by the upstream; forwardNames names below it
	// are asked, each cached by both servers after the warm-up.
	forwardZone  = "fwd.test."
	forwardIP    = "192.0.2.10"
	forwardTTL   = 3600
	forwardNames = 100
	querySeed    = 1
)

// clusterData is what the run generated: the Mesos state the Mesos-DNS
// master publishes, the same task names and the VIP names as zone files
// for CoreDNS, and the query files.
type clusterData struct {
	StateFile      string
	ZoneFile       string
	VIPZoneFile    string
	ClusterQueries string
	ForwardQueries string
	Tasks          int
	TaskRecords    int // A records in dcos.thisdcos.directory
	TaskNames      int // names holding them (keys in etcd)
	MesosRecords   int // records the Mesos-DNS master serves in mesos.
	VIPs           int // A records in l4lb.thisdcos.directory
	SampleName     string
	SampleIP       string
}

// Records is the number of cluster records a node serves from etcd.
func (d clusterData) Records() int { return d.TaskRecords + d.VIPs }

// vipName is the DNS name of named VIP i, as dcnet-l4lb writes it.
func vipName(i int) string { return fmt.Sprintf("vip-%06d.marathon.l4lb.thisdcos.directory", i) }

// vipIP is named VIP i's address, from the named VIP range 11.0.0.0/8.
func vipIP(i int) string {
	n := uint32(i + 1)
	return netip.AddrFrom4([4]byte{11, byte(n >> 16), byte(n >> 8), byte(n)}).String()
}

// taskName is the Marathon app name of task i: one running instance each,
// so every task has its own names.
func taskName(i int) string { return fmt.Sprintf("app-%06d", i) }

// containerIP is task i's overlay address.
func containerIP(i int) string {
	a := netip.MustParseAddr("9.0.0.0").As4()
	n := uint32(a[0])<<24 | uint32(i+1)
	return netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}).String()
}

// genState is a Mesos master state with tasks running tasks of one
// framework on tasks/tasksPerAgent agents, each with a container IP on the
// overlay and no host ports.
func genState(tasks int) mesos.State {
	st := mesos.State{ID: "bench-master", PID: "master@10.10.0.1:5050", Hostname: "10.10.0.1", Version: "1.11.0",
		Leader: "master@10.10.0.1:5050"}
	agents := (tasks + tasksPerAgent - 1) / tasksPerAgent
	for a := range agents {
		ip := fmt.Sprintf("10.10.%d.%d", 1+a/250, 1+a%250)
		st.Agents = append(st.Agents, mesos.Agent{ID: fmt.Sprintf("bench-agent-S%d", a), Hostname: ip,
			PID: "slave(1)@" + ip + ":5051", Active: true})
	}
	fw := mesos.Framework{ID: "bench-fw-0001", Name: framework, Hostname: "10.10.0.1", PID: "scheduler(1)@10.10.0.1:25501", Active: true}
	fw.Tasks = make([]mesos.Task, tasks)
	for i := range tasks {
		status := mesos.Status{State: mesos.TaskRunning, Timestamp: 1764288000}
		status.ContainerStatus.NetworkInfos = []mesos.NetworkInfo{{Name: "dcos",
			IPAddresses: []mesos.IPAddress{{Protocol: "IPv4", IPAddress: containerIP(i)}}}}
		fw.Tasks[i] = mesos.Task{ID: fmt.Sprintf("%s.%08x-0000-11f0-8000-0242ac110002", taskName(i), i), Name: taskName(i),
			FrameworkID: fw.ID, AgentID: st.Agents[i/tasksPerAgent].ID, State: mesos.TaskRunning, Statuses: []mesos.Status{status}}
	}
	st.Frameworks = []mesos.Framework{fw}
	return st
}

// writeState writes a Mesos master state of tasks tasks to path.
func writeState(path string, tasks int) (mesos.State, error) {
	st := genState(tasks)
	b, err := json.Marshal(st)
	if err != nil {
		return st, err
	}
	return st, os.WriteFile(path, b, 0o644)
}

// writeData generates the cluster of tasks tasks and vips named VIPs into
// dir, with queries names of it in the cluster query file.
func writeData(dir string, tasks, vips, queries int) (clusterData, error) {
	d := clusterData{StateFile: filepath.Join(dir, "state.json"), ZoneFile: filepath.Join(dir, "db."+records.TaskZone),
		VIPZoneFile: filepath.Join(dir, "db.l4lb"), ClusterQueries: filepath.Join(dir, "cluster.queries"),
		ForwardQueries: filepath.Join(dir, "forward.queries"), Tasks: tasks, VIPs: vips}
	st, err := writeState(d.StateFile, tasks)
	if err != nil {
		return d, err
	}
	cfg := records.DefaultConfig()
	names, err := records.TaskNames(st, cfg)
	if err != nil {
		return d, err
	}
	all, err := records.Generate(st, cfg)
	if err != nil {
		return d, err
	}
	d.TaskRecords, d.TaskNames, d.MesosRecords = names.Len(), len(names.Names()), all.Len()
	if err := writeZone(d.ZoneFile, &names); err != nil {
		return d, err
	}
	if err := writeVIPZone(d.VIPZoneFile, vips); err != nil {
		return d, err
	}
	d.SampleName = fmt.Sprintf("%s.%s.%s.%s", taskName(tasks/2), framework, clusterKind, records.TaskZone)
	d.SampleIP = containerIP(tasks / 2)
	r := rand.New(rand.NewPCG(querySeed, querySeed))
	err = writeLines(d.ClusterQueries, queries, func(int) string {
		return fmt.Sprintf("%s.%s.%s.%s. A", taskName(r.IntN(tasks)), framework, clusterKind, records.TaskZone)
	})
	if err != nil {
		return d, err
	}
	err = writeLines(d.ForwardQueries, forwardNames, func(i int) string { return fmt.Sprintf("n%d.%s A", i, forwardZone) })
	return d, err
}

// writeZone writes the A records of rs as an RFC 1035 zone file for
// CoreDNS's file plugin, with dcnet-dns's SOA and TTL.
func writeZone(path string, rs *records.RecordSet) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	fmt.Fprintf(w, "$ORIGIN %s.\n@ %d IN SOA ns.spartan. support.mesosphere.com. 1 60 180 86400 %d\n@ %d IN NS ns.spartan.\n",
		records.TaskZone, clusterTTL, clusterTTL, clusterTTL)
	names := make([]string, 0, len(rs.A))
	for n := range rs.A {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		for _, ip := range rs.A[n] {
			fmt.Fprintf(w, "%s %d IN A %s\n", n, clusterTTL, ip)
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// writeVIPZone writes the named VIPs as a zone file of
// l4lb.thisdcos.directory for CoreDNS, with dcnet-dns's SOA and TTL.
func writeVIPZone(path string, vips int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	fmt.Fprintf(w, "$ORIGIN l4lb.thisdcos.directory.\n@ %d IN SOA ns.spartan. support.mesosphere.com. 1 60 180 86400 %d\n@ %d IN NS ns.spartan.\n",
		clusterTTL, clusterTTL, clusterTTL)
	for i := range vips {
		fmt.Fprintf(w, "%s. %d IN A %s\n", vipName(i), clusterTTL, vipIP(i))
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func writeLines(path string, n int, line func(int) string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	for i := range n {
		fmt.Fprintln(w, line(i))
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
