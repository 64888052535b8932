// Package mesosdns is dcnet-dns's Mesos-DNS mode, the daemon of --mode
// mesos-dns on the masters: Config, New and Run.
//
// It polls the Mesos master state (the masters, following the leader and
// its SUBSCRIBE stream, or a saved state file; package mesoszone), serves
// the generated mesos. zone on Config.DNS.Listen (0.0.0.0:61053 by
// default) through the shared query path of package resolver, which
// forwards other names to the upstreams, and Mesos-DNS's HTTP API
// (/v1/version, /v1/config, /v1/hosts, /v1/services, /v1/axfr; package
// httpapi) on Config.HTTPAddr (0.0.0.0:8123).
//
// With etcd endpoints it also publishes the task names of
// dcos.thisdcos.directory for every node: the masters campaign in an etcd
// election and only the elected one writes (taskzone.Elector and
// Publisher), each write fenced on its term, so a master polling an older
// state cannot undo the publisher's names. A newly elected master
// publishes at once.
//
// Config is the one place the settings land: /v1/config answers it, in
// Mesos-DNS's terms, with every default resolved (Config.MesosConfig).
// Errors of New are configuration errors (dcnet-dns exits with status 2);
// errors of Run are not (status 1).
package mesosdns
