package mesoszone

import (
	"context"
	"log/slog"

	"github.com/dcnet/dcnet/dns/poll"
)

// Source polls the Mesos state a Config names into a Sink.
type Source struct {
	cfg    Config
	poller *poll.Poller
	log    *slog.Logger
}

// NewSource returns the poller of the state cfg names, feeding sink; nil
// (and no error) when cfg names none.
func NewSource(cfg Config, sink *Sink, log *slog.Logger) (*Source, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if !cfg.Enabled() {
		return nil, nil
	}
	cfg = cfg.WithDefaults()
	var f poll.Fetcher
	if cfg.StateFile != "" {
		f = poll.FileFetcher{Path: cfg.StateFile}
	} else {
		hf, err := poll.NewHTTPFetcher(cfg.Masters, cfg.Timeout, nil)
		if err != nil {
			return nil, err
		}
		f = hf
	}
	p := &poll.Poller{Fetcher: f, Interval: cfg.Refresh, OnState: sink.Apply, OnUnchanged: sink.Publish, Log: log}
	return &Source{cfg: cfg, poller: p, log: log}, nil
}

// Poll reads the state once and hands it to the sink.
func (s *Source) Poll(ctx context.Context) error { return s.poller.Poll(ctx) }

// Prime is the first poll: a state file that cannot be read is returned
// (as a bad configuration file would be); masters that do not answer yet
// are only logged, Run asks them again.
func (s *Source) Prime(ctx context.Context) error {
	err := s.Poll(ctx)
	if err != nil && s.cfg.StateFile != "" {
		return err
	}
	if err != nil {
		s.log.Warn("mesos state: first poll failed, retrying", "err", err)
	}
	return nil
}

// Run keeps polling until ctx ends, every Refresh (the first one Refresh
// after Prime) and, with Subscribe and masters, at each event of the
// SUBSCRIBE stream.
func (s *Source) Run(ctx context.Context) {
	if hf, ok := s.poller.Fetcher.(*poll.HTTPFetcher); ok && s.cfg.Subscribe {
		sub := &poll.Subscriber{Fetcher: hf, OnEvent: func(string) { s.poller.Kick() }, Log: s.log}
		go sub.Run(ctx)
	}
	s.poller.RunAfter(ctx, s.cfg.Refresh)
}
