package poll

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/dcnet/dcnet/dns/mesos"
)

// FakeFetcher replays scripted answers, for tests of a Poller's users.
type FakeFetcher struct {
	mu      sync.Mutex
	answers []FakeAnswer
	calls   int
}

// FakeAnswer is one scripted answer: a state or an error.
type FakeAnswer struct {
	State mesos.State
	Err   error
}

var _ Fetcher = (*FakeFetcher)(nil)

// Push appends answers; once they are used up, the last one repeats
// (none at all: an error).
func (f *FakeFetcher) Push(answers ...FakeAnswer) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.answers = append(f.answers, answers...)
}

// Fetch implements Fetcher.
func (f *FakeFetcher) Fetch(context.Context) (mesos.State, string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if len(f.answers) == 0 {
		return mesos.State{}, "", errors.New("fake fetcher: no answers")
	}
	a := f.answers[0]
	if len(f.answers) > 1 {
		f.answers = f.answers[1:]
	}
	if a.Err != nil {
		return mesos.State{}, "", a.Err
	}
	return a.State, "fake", nil
}

// String describes the fetcher: "fake fetcher: 3 calls, 1 answers left".
func (f *FakeFetcher) String() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "fake fetcher: %d calls, %d answers left", f.calls, len(f.answers))
	return b.String()
}
