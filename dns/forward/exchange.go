package forward

import (
	"context"
	"fmt"

	"github.com/miekg/dns"
)

// NetExchanger queries over UDP and retries truncated answers over TCP.
type NetExchanger struct{}

var _ Exchanger = NetExchanger{}

// Exchange sends req to server; the context's deadline bounds both tries.
func (NetExchanger) Exchange(ctx context.Context, req *dns.Msg, server string) (*dns.Msg, error) {
	c := &dns.Client{Net: "udp", UDPSize: UDPSize}
	resp, _, err := c.ExchangeContext(ctx, req, server)
	if err != nil {
		return nil, fmt.Errorf("udp: %w", err)
	}
	if !resp.Truncated {
		return resp, nil
	}
	c = &dns.Client{Net: "tcp"}
	resp, _, err = c.ExchangeContext(ctx, req, server)
	if err != nil {
		return nil, fmt.Errorf("tcp after truncated udp answer: %w", err)
	}
	return resp, nil
}
