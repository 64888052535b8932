// Package e2e holds dcnet's end-to-end tests: real overlayd processes with
// their embedded etcd, the real CNI plugin binaries driven by cnitool, libcni
// and raw exec, containers as network namespaces, real traffic. Every test is
// privileged (TestPrivileged...), works only in namespaces it creates, and
// guards the host namespace.
package e2e
