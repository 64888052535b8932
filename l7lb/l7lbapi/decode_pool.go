package l7lbapi

// The field-by-field decoding of a pool document: one function per type,
// each taking the fields it knows and leaving the rest to done.

func (d *decoder) pool(tree any, p *Pool) (warnings []string) {
	o := d.obj("", tree)
	o.str("apiVersion", &p.APIVersion)
	o.str("name", &p.Name)
	h, present := o.sub("haproxy")
	if !present {
		d.fail("haproxy", "missing: want {frontends: [...], backends: [...]}")
	}
	for i, v := range h.list("frontends") {
		var f Frontend
		d.frontend(index(join(h.path, "frontends"), i), v, &f)
		p.HAProxy.Frontends = append(p.HAProxy.Frontends, f)
	}
	for i, v := range h.list("backends") {
		var b Backend
		d.backend(index(join(h.path, "backends"), i), v, &b)
		p.HAProxy.Backends = append(p.HAProxy.Backends, b)
	}
	h.get("stats") // Edge-LB's stats frontend: dcnet-l7lb's HAProxy always has one
	warnings = o.done(ignoredTop)
	return append(warnings, h.done(nil)...)
}

func (d *decoder) frontend(path string, v any, f *Frontend) {
	o := d.obj(path, v)
	o.str("name", &f.Name)
	o.str("bindAddress", &f.BindAddress)
	o.int("bindPort", &f.BindPort)
	o.str("protocol", &f.Protocol)
	o.strs("certificates", &f.Certificates)
	if r, ok := o.get("redirectToHttps"); ok {
		switch r := r.(type) {
		case bool:
			f.RedirectToHTTPS = r
		case map[string]any:
			// Edge-LB's {"except": [...]}: only the empty object.
			f.RedirectToHTTPS = true
			ro := d.obj(join(path, "redirectToHttps"), r)
			ro.done(nil)
		default:
			d.fail(join(path, "redirectToHttps"), "is %s: want true, false or {}", kind(r))
		}
	}
	lb, _ := o.sub("linkBackend")
	lb.str("defaultBackend", &f.LinkBackend.DefaultBackend)
	for i, rv := range lb.list("map") {
		var r Rule
		ro := d.obj(index(join(lb.path, "map"), i), rv)
		ro.str("hostEq", &r.HostEq)
		ro.str("pathBeg", &r.PathBeg)
		ro.str("backend", &r.Backend)
		ro.done(nil)
		f.LinkBackend.Map = append(f.LinkBackend.Map, r)
	}
	lb.done(nil)
	o.done(nil)
}

func (d *decoder) backend(path string, v any, b *Backend) {
	o := d.obj(path, v)
	o.str("name", &b.Name)
	o.str("protocol", &b.Protocol)
	o.str("balance", &b.Balance)
	o.bool("sticky", &b.Sticky)
	if hc, present := o.sub("healthCheck"); present {
		b.HealthCheck = &HealthCheck{}
		hc.str("protocol", &b.HealthCheck.Protocol)
		hc.str("path", &b.HealthCheck.Path)
		hc.int("intervalSeconds", &b.HealthCheck.IntervalSeconds)
		hc.int("timeoutSeconds", &b.HealthCheck.TimeoutSeconds)
		hc.int("rise", &b.HealthCheck.Rise)
		hc.int("fall", &b.HealthCheck.Fall)
		hc.done(nil)
	}
	for i, sv := range o.list("services") {
		var s Service
		d.service(index(join(path, "services"), i), sv, &s)
		b.Services = append(b.Services, s)
	}
	o.done(nil)
}

func (d *decoder) service(path string, v any, s *Service) {
	o := d.obj(path, v)
	if m, present := o.sub("marathon"); present {
		s.Marathon = &MarathonService{}
		m.str("serviceID", &s.Marathon.ServiceID)
		m.done(nil)
	}
	if m, present := o.sub("mesos"); present {
		s.Mesos = &MesosService{}
		m.str("frameworkName", &s.Mesos.FrameworkName)
		m.str("frameworkNamePattern", &s.Mesos.FrameworkNamePattern)
		m.str("taskName", &s.Mesos.TaskName)
		m.str("taskNamePattern", &s.Mesos.TaskNamePattern)
		m.done(nil)
	}
	o.str("vip", &s.VIP)
	if l, present := o.sub("endpointLabel"); present {
		s.EndpointLabel = &LabelSelector{}
		l.str("key", &s.EndpointLabel.Key)
		l.str("value", &s.EndpointLabel.Value)
		l.done(nil)
	}
	e, _ := o.sub("endpoint")
	e.str("type", &s.Endpoint.Type)
	e.str("portName", &s.Endpoint.PortName)
	e.int("port", &s.Endpoint.Port)
	e.done(nil)
	o.int("weight", &s.Weight)
	o.done(nil)
}
