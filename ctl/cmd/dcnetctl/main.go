// Command dcnetctl shows what dcnet's daemons know: status, leases, endpoints.
package main

import (
	"context"
	"os"

	"github.com/dcnet/dcnet/ctl"
)

func main() {
	os.Exit(ctl.Main(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}
