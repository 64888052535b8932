package main

// sectionTitle is the heading (after "## ") of this benchmark's section of
// docs/benchmarks.md, written with benchkit.Update.
const sectionTitle = "L4 load balancing (bench/l4lb)"
