package handlers

import (
	"net"
	"net/netip"

	"github.com/labstack/echo/v4"
)

// clientAddress picks the client's address for logs, security events and
// the audit log. Without trusted proxies it is the TCP peer, whatever
// X-Forwarded-For says. With them, X-Forwarded-For is read from the right
// and its entries believed only while the address that added each one (the
// peer first) is a trusted proxy: the first untrusted address is the
// client, so a client cannot choose the address it is recorded under. No
// range is trusted for being loopback, link-local or private: an attacker
// on the same network, or a sidecar, is not a proxy because of its address.
func clientAddress(trusted []netip.Prefix) echo.IPExtractor {
	if len(trusted) == 0 {
		return echo.ExtractIPDirect()
	}
	options := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, p := range trusted {
		p = p.Masked()
		options = append(options, echo.TrustIPRange(&net.IPNet{
			IP:   p.Addr().AsSlice(),
			Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen()),
		}))
	}
	return echo.ExtractIPFromXFFHeader(options...)
}
