package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"time"

	store "github.com/dcnet/dcnet/cluster"
	"github.com/dcnet/dcnet/internal/benchkit"
	"github.com/dcnet/dcnet/internal/mesostest"
	"github.com/dcnet/dcnet/internal/netsim"
)

// Names the bench gives things.
const (
	vipDomain  = ".marathon.l4lb.thisdcos.directory"
	taskDomain = ".marathon.containerip.dcos.thisdcos.directory"
	vipPort    = 80
	warmName   = "warm"
	readyName  = "ready.spartan" // dcnet-dns answers 127.0.0.1 once it serves
	// storeWait bounds waiting for the bench's own watch to deliver a PUT
	// that a daemon already acted on.
	storeWait = time.Second
)

// cluster is the running cluster: the master, node A where containers
// start, node B where their names are asked.
type cluster struct {
	Master *master
	// Mesos is the fake Mesos master that dcnet-dns polls and subscribes to.
	Mesos *mesostest.Master
	A, B  *agent
	// Resolver asks B's dcnet-dns from B's node netns.
	Resolver *resolver
	// Client is a container on B that connects to the VIPs.
	Client *netsim.Container
	// Tasks is the master state's task list so far.
	Tasks []mesosTask
	// Watch sees the store's changes, for the breakdown.
	Watch *benchkit.Watcher
}

// startCluster starts the master and both agents and waits until the
// overlay, B's DNS and both name paths work (a warm-up VIP and task, not
// timed).
func startCluster(ctx context.Context, e *env, o options, log io.Writer) (*cluster, error) {
	m, err := e.startMaster(ctx, "m")
	if err != nil {
		return nil, err
	}
	c := &cluster{Master: m}
	if c.Watch, err = benchkit.Watch(ctx, m.Etcd.Client, store.Prefix); err != nil {
		return nil, err
	}
	if c.Mesos, err = mesostest.Start(m.Node, nil); err != nil {
		return nil, err
	}
	e.OnClose(c.Mesos.Close)
	if _, err := c.setState(""); err != nil {
		return nil, err
	}
	if err := e.startMesosDNS(m, c.Mesos.URL, o.Refresh); err != nil {
		return nil, err
	}
	if c.A, err = e.startAgent("a", m); err != nil {
		return nil, err
	}
	if c.B, err = e.startAgent("b", m); err != nil {
		return nil, err
	}
	for _, a := range []*agent{c.A, c.B} {
		if err := a.waitOverlay(ctx, 1); err != nil {
			return nil, err
		}
	}
	if c.Resolver, err = e.newResolver(c.B.Namespace, dnsServer); err != nil {
		return nil, err
	}
	ready := <-c.Resolver.await(ctx, readyName, exactly(netip.MustParseAddr("127.0.0.1")))
	if ready.Err != nil {
		return nil, fmt.Errorf("dcnet-dns on b: %w\n%s", ready.Err, c.B.logs())
	}
	if c.Client, err = c.B.AddContainer("client"); err != nil {
		return nil, err
	}
	if _, err := e.cniAdd(ctx, c.B, overlayName, c.Client); err != nil {
		return nil, fmt.Errorf("%w\n%s", err, c.B.logs())
	}
	if s := c.startVIP(ctx, e, warmName, warmName); s.Err != nil {
		return nil, fmt.Errorf("warm-up VIP: %w\n%s%s", s.Err, c.A.logs(), c.B.logs())
	} else if !s.Connect.OK {
		// Counted per start later; the warm-up only has to resolve.
		fmt.Fprintf(log, "bench/converge: warm-up VIP %s answered, but a connect from b failed: %v\n", s.Addr, s.Connect.Err)
	}
	if s := c.startTask(ctx, e, "t-"+warmName, warmName); s.Err != nil {
		return nil, fmt.Errorf("warm-up task: %w\n--- mesos-dns.log:\n%s\n%s", s.Err, netsim.TailFile(m.MesosDNS.LogPath, logLines), c.B.logs())
	}
	return c, nil
}

// setState makes the fake master answer the state with the current tasks
// and announce task (if not empty) on its event stream; it returns when
// the new state became what the master answers.
func (c *cluster) setState(task string) (time.Time, error) {
	agents := map[string]string{}
	for _, a := range []*agent{c.A, c.B} {
		if a != nil {
			agents["agent-"+a.Name] = a.UnderlayIP.String()
		}
	}
	doc, err := mesosState(c.Master.UnderlayIP.String(), agents, c.Tasks)
	if err != nil {
		return time.Time{}, err
	}
	if task == "" {
		return c.Mesos.Set(doc), nil
	}
	return c.Mesos.Set(doc, mesostest.TaskAdded(task)), nil
}

// vipSample is one container start with a VIP label.
type vipSample struct {
	Name             string
	AddStart, AddEnd time.Time // cnitool ADD started, returned
	Answered         time.Time // B first answered the name
	Addr             netip.Addr
	Queries          int
	Err              error // not answered within giveUp (or the start failed)
	Connect          connectResult
	// EndpointPut and NamePut are when the bench's store watch saw the
	// container's endpoint record (overlayd) and the VIP's name record
	// (the first dcnet-l4lb that programmed it); zero when not seen.
	EndpointPut, NamePut time.Time
}

// startVIP attaches container cname on A to a new CNI network name whose
// endpoint carries VIP_0=/name:80, with a listener on :80 inside, and
// waits until B answers the VIP's name; then the client container on B
// connects to the answered address.
func (c *cluster) startVIP(ctx context.Context, e *env, cname, name string) vipSample {
	s := vipSample{Name: name}
	if err := c.A.writeVIPConf(name, vipPort); err != nil {
		s.Err = err
		return s
	}
	ctr, err := c.A.AddContainer(cname)
	if err != nil {
		s.Err = err
		return s
	}
	if err := e.listen(ctr.Namespace, fmt.Sprintf(":%d", vipPort)); err != nil {
		s.Err = err
		return s
	}
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch := c.Resolver.await(pctx, name+vipDomain, anyAddr)
	s.AddStart = time.Now()
	ip, err := e.cniAdd(ctx, c.A, name, ctr)
	s.AddEnd = time.Now()
	if err != nil {
		cancel()
		<-ch
		s.Err = err
		return s
	}
	ans := <-ch
	s.Answered, s.Queries, s.Err = ans.At, ans.Queries, ans.Err
	if ans.Err != nil {
		return s
	}
	s.Addr = ans.Addrs[0]
	s.EndpointPut = putAt(ctx, c.Watch, s.AddStart, storeWait, endpointWith(ip))
	s.NamePut = putAt(ctx, c.Watch, s.AddStart, storeWait, vipNameRecord(name+vipDomain))
	s.Connect = connect(ctx, c.Client.Namespace, net.JoinHostPort(s.Addr.String(), fmt.Sprint(vipPort)))
	return s
}

// taskSample is one task added to the master state.
type taskSample struct {
	Name     string
	IP       netip.Addr
	Changed  time.Time // the master's state showed the task (and TASK_ADDED went out)
	Answered time.Time // B first answered the name with IP
	Queries  int
	Err      error
	// Published is when the bench's store watch saw the task names list
	// holding the task (written by Mesos-DNS mode); zero when not seen.
	Published time.Time
}

// startTask attaches container cname on A (no label), adds a running
// marathon task name with its IP to the master state, and waits until B
// answers the task's containerip name with that IP.
func (c *cluster) startTask(ctx context.Context, e *env, cname, name string) taskSample {
	s := taskSample{Name: name}
	ctr, err := c.A.AddContainer(cname)
	if err != nil {
		s.Err = err
		return s
	}
	ip, err := e.cniAdd(ctx, c.A, overlayName, ctr)
	if err != nil {
		s.Err = err
		return s
	}
	if s.IP, err = netip.ParseAddr(ip); err != nil {
		s.Err = err
		return s
	}
	c.Tasks = append(c.Tasks, mesosTask{Name: name, Agent: "agent-" + c.A.Name, IP: ip})
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch := c.Resolver.await(pctx, name+taskDomain, exactly(s.IP))
	s.Changed, err = c.setState(name)
	if err != nil {
		cancel()
		<-ch
		s.Err = err
		return s
	}
	ans := <-ch
	s.Answered, s.Queries, s.Err = ans.At, ans.Queries, ans.Err
	if s.Err == nil {
		s.Published = putAt(ctx, c.Watch, s.Changed, storeWait, taskNameRecord(name+taskDomain, ip))
	}
	return s
}

// runVIPs starts n containers with a VIP each on A, one at a time.
func runVIPs(ctx context.Context, e *env, c *cluster, n int, log io.Writer) ([]vipSample, error) {
	var out []vipSample
	for i := 1; i <= n; i++ {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		s := c.startVIP(ctx, e, fmt.Sprintf("v%02d", i), fmt.Sprintf("svc%d", i))
		out = append(out, s)
		if s.Err != nil {
			fmt.Fprintf(log, "bench/converge: vip  %-7s FAILED: %v\n", s.Name, s.Err)
			continue
		}
		tcp := "connect ok"
		switch {
		case !s.Connect.OK:
			tcp = fmt.Sprintf("connect FAILED for %v: %v", connectWindow, s.Connect.Err)
		case !s.Connect.FirstTry:
			tcp = fmt.Sprintf("connect ok after %.0f ms (first attempt: %v)", ms(s.Connect.At.Sub(s.Answered)), s.Connect.FirstErr)
		}
		fmt.Fprintf(log, "bench/converge: vip  %-7s %-15s answered on b %7.1f ms after ADD returned (ADD took %5.1f ms), %s\n",
			s.Name, s.Addr, ms(s.Answered.Sub(s.AddEnd)), ms(s.AddEnd.Sub(s.AddStart)), tcp)
	}
	return out, nil
}

// runTasks adds n tasks to the master state on A, one at a time.
func runTasks(ctx context.Context, e *env, c *cluster, n int, log io.Writer) ([]taskSample, error) {
	var out []taskSample
	for i := 1; i <= n; i++ {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		s := c.startTask(ctx, e, fmt.Sprintf("t%02d", i), fmt.Sprintf("task%d", i))
		out = append(out, s)
		if s.Err != nil {
			fmt.Fprintf(log, "bench/converge: task %-7s FAILED: %v\n", s.Name, s.Err)
			continue
		}
		fmt.Fprintf(log, "bench/converge: task %-7s %-15s answered on b %7.1f ms after the master's state showed it\n",
			s.Name, s.IP, ms(s.Answered.Sub(s.Changed)))
	}
	return out, nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
