package ctl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/dcnet/dcnet/l7lb/l7lbapi"
)

// poolsUsage is the usage of dcnetctl pools.
const poolsUsage = `usage: dcnetctl [--l7lb ADDR] pools create FILE   store a new pool (JSON or YAML; - reads stdin)
       dcnetctl [--l7lb ADDR] pools update FILE   replace the pool the document names
       dcnetctl [--l7lb ADDR] pools delete NAME
       dcnetctl [--l7lb ADDR] pools list
       dcnetctl [--l7lb ADDR] pools show NAME     the stored document (YAML; -o json for JSON)`

// stdin is where "-" reads a document from (a variable for tests).
var stdin io.Reader = os.Stdin

// errUsage marks a command line that does not parse.
var errUsage = errors.New(poolsUsage)

// poolsCommand runs dcnetctl pools args... against dcnet-l7lb's API.
func poolsCommand(ctx context.Context, c *l7lbapi.Client, args []string) (any, func(io.Writer, any), error) {
	if len(args) == 0 {
		return nil, nil, errUsage
	}
	one := func() (string, error) {
		if len(args) != 2 {
			return "", errUsage
		}
		return args[1], nil
	}
	switch args[0] {
	case "list":
		if len(args) != 1 {
			return nil, nil, errUsage
		}
		ps, err := c.Pools(ctx)
		return ps, renderPools, err
	case "show":
		name, err := one()
		if err != nil {
			return nil, nil, err
		}
		e, err := c.Pool(ctx, name)
		return e, renderPoolDoc, err
	case "delete":
		name, err := one()
		if err != nil {
			return nil, nil, err
		}
		err = c.DeletePool(ctx, name)
		return map[string]string{"deleted": name}, func(w io.Writer, _ any) { fmt.Fprintf(w, "pool %s deleted\n", name) }, err
	case "create", "update":
		file, err := one()
		if err != nil {
			return nil, nil, err
		}
		doc, err := readDoc(file)
		if err != nil {
			return nil, nil, err
		}
		var e l7lbapi.PoolEntry
		if args[0] == "create" {
			e, err = c.CreatePool(ctx, doc)
		} else {
			var head struct {
				Name string `json:"name"`
			}
			if yerr := yaml.Unmarshal(doc, &head); yerr != nil || head.Name == "" {
				return nil, nil, fmt.Errorf("%s: the document names no pool (name: ...): %v", file, yerr)
			}
			e, err = c.UpdatePool(ctx, head.Name, doc)
		}
		verb := args[0] + "d"
		return e, func(w io.Writer, _ any) {
			fmt.Fprintf(w, "pool %s %s (revision %d)\n", e.Pool.Name, verb, e.Revision)
			for _, warn := range e.Warnings {
				fmt.Fprintf(w, "warning: %s\n", warn)
			}
		}, err
	}
	return nil, nil, errUsage
}

func readDoc(file string) ([]byte, error) {
	if file == "-" {
		b, err := io.ReadAll(io.LimitReader(stdin, l7lbapi.MaxPoolBytes+1))
		if err != nil {
			return nil, fmt.Errorf("read the pool from stdin: %w", err)
		}
		return b, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read the pool: %w", err)
	}
	return b, nil
}

func renderPools(w io.Writer, v any) {
	var rows [][]string
	for _, e := range v.([]l7lbapi.PoolEntry) {
		var fes, bes []string
		for _, f := range e.Pool.HAProxy.Frontends {
			bind := f.BindAddress
			if bind == "0.0.0.0" {
				bind = "*"
			}
			fes = append(fes, f.Protocol+" "+bind+":"+strconv.Itoa(f.BindPort))
		}
		for _, b := range e.Pool.HAProxy.Backends {
			bes = append(bes, b.Name)
		}
		note := ""
		if len(e.Warnings) > 0 {
			note = strings.Join(e.Warnings, "; ")
		}
		rows = append(rows, []string{e.Pool.Name, strconv.FormatInt(e.Revision, 10), dash(strings.Join(fes, ", ")), dash(strings.Join(bes, ",")), dash(note)})
	}
	table(w, "POOL\tREVISION\tFRONTENDS\tBACKENDS\tPROBLEM", rows)
}

// renderPoolDoc prints the stored document as YAML, ready to edit and
// pass back to pools update.
func renderPoolDoc(w io.Writer, v any) {
	e := v.(l7lbapi.PoolEntry)
	out, err := yaml.Marshal(e.Pool)
	if err != nil {
		fmt.Fprintf(w, "# cannot render as YAML: %v\n", err)
		return
	}
	fmt.Fprintf(w, "# pool %s, revision %d\n%s", e.Pool.Name, e.Revision, out)
}

// renderL7Status prints dcnet-l7lb's status.
func renderL7Status(w io.Writer, v any) {
	s := v.(l7lbapi.Status)
	what := s.Pool
	if s.Mode == l7lbapi.ModeMarathonLB {
		what = "groups " + strings.Join(s.Groups, ",")
	}
	health := "healthy"
	if !s.Healthy {
		health = "UNHEALTHY: " + s.Reason
	}
	last := "never"
	if !s.LastSync.IsZero() {
		last = s.LastSync.Format(time.RFC3339) + " (" + time.Since(s.LastSync).Round(time.Second).String() + " ago)"
	}
	fmt.Fprintf(w, "mode:       %s (%s)\nhealth:     %s\nlast sync:  %s\napplies:    %d (%d reloads, %d runtime changes)\n",
		s.Mode, what, health, last, s.Applies, s.Reloads, s.RuntimeChanges)
	if s.FromDisk {
		fmt.Fprintln(w, "serving:    the last good configuration from disk (sources not synced since the start)")
	}
	if s.LastApplyError != "" {
		fmt.Fprintf(w, "apply:      %s\n", s.LastApplyError)
	}
	fmt.Fprintln(w)
	var rows [][]string
	for _, src := range s.Sources {
		sync := "never"
		if src.Synced {
			sync = time.Since(src.LastSync).Round(time.Millisecond).String() + " ago"
		}
		rows = append(rows, []string{src.Name, sync, strconv.Itoa(src.Errors), dash(src.LastError), dash(src.Detail)})
	}
	table(w, "SOURCE\tLAST SYNC\tERRORS\tLAST ERROR\tDETAIL", rows)
	fmt.Fprintln(w)
	rows = nil
	for _, f := range s.Frontends {
		rows = append(rows, []string{f.Name, f.Bind, f.Mode, strconv.FormatBool(f.TLS), strconv.Itoa(f.Routes), dash(f.Default)})
	}
	table(w, "FRONTEND\tBIND\tMODE\tTLS\tROUTES\tDEFAULT", rows)
	fmt.Fprintln(w)
	rows = nil
	for _, b := range s.Backends {
		rows = append(rows, []string{b.Name, strconv.Itoa(b.Servers), strconv.Itoa(b.Draining), dash(b.Source)})
	}
	table(w, "BACKEND\tSERVERS\tDRAINING\tSOURCE", rows)
	if len(s.Problems) > 0 {
		fmt.Fprintln(w)
		rows = nil
		for _, p := range s.Problems {
			rows = append(rows, []string{p.Kind, p.Name, p.Reason})
		}
		table(w, "LEFT OUT\tNAME\tWHY", rows)
	}
}

// l7lbHint adds where to look when dcnet-l7lb did not answer at all.
func l7lbHint(err error) error {
	var ue *url.Error
	if err == nil || !errors.As(err, &ue) {
		return err
	}
	return fmt.Errorf("%w (is dcnet-l7lb running? pass --l7lb ADDR)", err)
}
