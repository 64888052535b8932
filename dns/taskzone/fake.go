package taskzone

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
)

// FakePutter records writes in memory, for tests of publishers.
type FakePutter struct {
	mu     sync.Mutex
	values map[string][]byte
	puts   int
	// Err, when set, fails every Put.
	Err error
}

var _ Putter = (*FakePutter)(nil)

// Put implements Putter.
func (f *FakePutter) Put(_ context.Context, key string, value []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.Err != nil {
		return f.Err
	}
	if f.values == nil {
		f.values = map[string][]byte{}
	}
	f.values[key] = append([]byte(nil), value...)
	f.puts++
	return nil
}

// Value returns the last value written to key.
func (f *FakePutter) Value(key string) ([]byte, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	v, ok := f.values[key]
	return v, ok
}

// String prints the puts so far and every key with its value.
func (f *FakePutter) String() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "puts %d\n", f.puts)
	keys := make([]string, 0, len(f.values))
	for k := range f.values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "%s %s\n", k, f.values[k])
	}
	return b.String()
}
