package apply

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"

	"github.com/dcnet/dcnet/l7lb/render"
)

// configName is the configuration file inside a generation directory.
const configName = "haproxy.cfg"

// writeAtomic replaces path with data: a temporary file in the same
// directory, synced, then renamed over path.
func writeAtomic(path string, data []byte, mode os.FileMode) error {
	return writeFile(path, data, mode, true)
}

// writeFile replaces path with data through a rename; sync makes the
// data durable first (the runtime rewrites skip it: HAProxy restarted
// after a crash reads the page cache, and after a machine crash the
// desired state is applied anew).
func writeFile(path string, data []byte, mode os.FileMode, sync bool) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Chmod(mode)
	}
	if err == nil && sync {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// writeGeneration writes a rendered configuration and its files into dir.
func writeGeneration(dir string, out *render.Output) error {
	for p, b := range out.Files {
		if err := writeAtomic(p, b, 0o600); err != nil {
			return err
		}
	}
	return writeAtomic(filepath.Join(dir, configName), out.Config, 0o600)
}

// generations returns the generation numbers under dir/gen, ascending.
func generations(dir string) ([]int, error) {
	entries, err := os.ReadDir(filepath.Join(dir, "gen"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list generations in %s: %w", dir, err)
	}
	var gens []int
	for _, e := range entries {
		if n, err := strconv.Atoi(e.Name()); err == nil && e.IsDir() {
			gens = append(gens, n)
		}
	}
	sort.Ints(gens)
	return gens, nil
}

// lastGeneration is the highest generation number in dir (0: none).
func lastGeneration(dir string) (int, error) {
	gens, err := generations(dir)
	if err != nil || len(gens) == 0 {
		return 0, err
	}
	return gens[len(gens)-1], nil
}

// pruneGenerations removes all but the newest keep generations, never
// current.
func pruneGenerations(dir string, current, keep int) error {
	gens, err := generations(dir)
	if err != nil {
		return err
	}
	var errs []error
	for i := 0; i < len(gens)-keep; i++ {
		if gens[i] == current {
			continue
		}
		errs = append(errs, os.RemoveAll(filepath.Join(dir, "gen", strconv.Itoa(gens[i]))))
	}
	return errors.Join(errs...)
}

// writeCurrent writes HAProxy's runtime state into the files of the
// running generation (its haproxy.cfg, the ConfigPath copy, maps and
// certificates), so that a reload or a restart keeps every runtime
// change. Nothing is validated: only server lines, map entries and
// certificate contents differ from what `haproxy -c` accepted.
func (a *Applier) writeCurrent() error {
	l := a.loaded
	slots := map[string][]render.Slot{}
	for name, s := range a.live.slots {
		slots[name] = s
	}
	out, err := render.Render(render.Input{Config: l.cfg, Slots: slots, Dir: l.dir}, a.opts.Render)
	if err != nil {
		return err
	}
	for fe, p := range l.mapPaths {
		if es, ok := a.live.maps[fe]; ok && !slices.Equal(es, a.file.maps[fe]) {
			if err := writeFile(p, render.MapFile(es), 0o600, false); err != nil {
				return err
			}
		}
	}
	// Certificates before the crt-lists that name them.
	for p, pem := range a.live.certs {
		if !bytes.Equal(pem, a.file.certs[p]) {
			if err := writeFile(p, pem, 0o600, false); err != nil {
				return err
			}
		}
	}
	for fe, list := range a.live.crtLists {
		if !slices.Equal(list, a.file.crtLists[fe]) {
			if err := writeFile(render.CrtListPath(l.dir, fe), render.CrtListFile(list), 0o600, false); err != nil {
				return err
			}
		}
	}
	if err := writeFile(filepath.Join(l.dir, configName), out.Config, 0o600, false); err != nil {
		return err
	}
	if err := writeFile(a.h.ConfigPath(), out.Config, 0o600, false); err != nil {
		return err
	}
	a.file = a.live.clone()
	return nil
}
