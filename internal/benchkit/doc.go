// Package benchkit is what the benchmarks (bench/<name>) share.
//
// # The runner
//
// Every bench main is one line, benchkit.Main(program, parseFlags, run):
// program is its Bench (name, netsim prefix and section title), parseFlags
// adds its own flags to Bench.FlagSet and calls Bench.Parse, which adds
// -out and -short (a smoke run: the bench's short values for the flags not
// given, and no file written), into options that embed Flags. Main turns
// SIGINT and SIGTERM into a cancelled context; Bench.Run checks for root,
// snapshots the host's namespace, makes an Env (a temporary directory, a
// fabric of namespaces, the processes started and clients opened with
// it), calls run, removes everything the Env holds, also after a failure,
// fails the run if the host's namespace changed, and writes the section
// run returned.
//
// # The report
//
// Each benchmark owns one level-2 section of docs/benchmarks.md, replaced
// in place on each run (Update), so the file keeps every benchmark's
// latest numbers with the command that produced them; Update also writes
// the file's head (Header), which holds the one definition of percentiles
// every section uses (NearestRank, Median). Env.Header starts each section
// with when, where and how it was measured; Table renders its tables.
//
// # Helpers
//
// Watch records an etcd prefix's changes with their arrival times (the
// anchor of the convergence figures); CopyBuilt gives a run private copies
// of `make build`'s programs, so a build meanwhile cannot mix versions;
// CommitChunked writes many keys in transactions etcd accepts; the CPU and
// memory readers read /proc.
package benchkit
