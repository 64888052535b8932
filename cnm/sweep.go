package cnm

import (
	"context"
	"fmt"
	"strings"

	"github.com/dcnet/dcnet/overlayd/api"
)

// Sweep releases what a crash or a lost call leaked, and returns how many
// attachments it released:
//   - attachments the driver made in overlayd (Config docker:*) that its
//     state does not know: the driver died between overlayd's answer and
//     writing its state, and dockerd got no address;
//   - addresses that no endpoint holds for longer than pendingMaxAge:
//     dockerd asked for them but never created the endpoint, or deleted
//     the endpoint and never called ReleaseAddress (it died in between).
//
// It runs at start and every sweep interval; it holds the driver's lock so
// no call is half-way through.
func (d *Driver) Sweep(ctx context.Context) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	atts, err := d.overlay.Attachments(ctx)
	if err != nil {
		return 0, fmt.Errorf("list overlayd attachments: %w", err)
	}
	recs, err := d.state.Addresses()
	if err != nil {
		return 0, err
	}
	eps, err := d.state.Endpoints()
	if err != nil {
		return 0, err
	}
	known := map[api.AttachmentID]bool{}
	for _, r := range recs {
		known[r.Attachment] = true
	}
	for _, ep := range eps {
		for _, id := range ep.Attachments {
			known[id] = true
		}
	}
	released := 0
	for _, a := range atts {
		if a.Runtime != api.RuntimeDocker || !strings.HasPrefix(a.Config, configPrefix) || known[a.AttachmentID] {
			continue
		}
		d.log.Warn("releasing attachment unknown to dcnet-cnm", "attachment", a.AttachmentID.String(), "ips", a.IPs)
		if err := d.releaseAttachment(ctx, a.AttachmentID); err != nil {
			return released, err
		}
		released++
	}
	cutoff := d.now().UTC().Add(-pendingMaxAge)
	done := map[api.AttachmentID]bool{}
	for _, r := range recs {
		if r.Endpoint != "" || r.Since.After(cutoff) || done[r.Attachment] {
			continue
		}
		d.log.Warn("releasing address no endpoint claimed", "address", r.Address, "attachment", r.Attachment.String(), "since", r.Since)
		if err := d.releaseAttachment(ctx, r.Attachment); err != nil {
			return released, err
		}
		done[r.Attachment] = true
		released++
	}
	return released, nil
}
