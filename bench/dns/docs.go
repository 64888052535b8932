package main

// sectionTitle is the heading (after "## ") of this benchmark's section of
// docs/benchmarks.md, written with benchkit.Update.
const sectionTitle = "DNS (bench/dns)"
