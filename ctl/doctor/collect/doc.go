// Package collect reads what `dcnetctl doctor` compares, behind the
// interfaces of package doctor: the kernel through netlink (links, the
// VTEP's neighbours, FDB entries and routes, as overlayd reads them) and
// `nft -j` (dcnet-l4lb's tables), overlayd's socket, the HTTP APIs of
// dcnet-l4lb and dcnet-dns, dcnet-dns's DNS servers, and the cluster
// store through package cluster. Everything here only reads.
package collect
