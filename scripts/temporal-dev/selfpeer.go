package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/hex"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"

	"google.golang.org/grpc/peer"
)

// selfPeers tells whether a gRPC call arrived on a TCP connection that this very process
// opened: the server's own clients (system workers for schedules and batch jobs, the
// frontend's local client behind AddSearchAttributes) call the public frontend without a
// token. Headers can be forged by anyone; the owner of a socket cannot. Linux only: the
// connection's client end is looked up in /proc/self/net/tcp{,6} and its inode among the
// sockets in /proc/self/fd.
//
// The HTTP API calls the interceptors without a gRPC peer, so it never counts as the server.
type selfPeers struct {
	mu sync.Mutex
	// Connections found to be ours, with the fd that holds their client end. A hit is
	// confirmed by reading that one fd link: while the fd still names the same socket, no
	// other process can hold the same address pair, so an entry can never go stale.
	known map[connection]ownedSocket
}

type connection struct{ client, server netip.AddrPort }

type ownedSocket struct{ fd, link string }

const maxKnownConnections = 1024

func newSelfPeers() *selfPeers {
	return &selfPeers{known: map[connection]ownedSocket{}}
}

func (s *selfPeers) isSelf(ctx context.Context) bool {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return false
	}
	client, ok1 := tcpAddrPort(p.Addr)
	server, ok2 := tcpAddrPort(p.LocalAddr)
	if !ok1 || !ok2 {
		return false
	}
	conn := connection{client, server}

	s.mu.Lock()
	cached, hit := s.known[conn]
	s.mu.Unlock()
	if hit && cached.stillOpen() {
		return true
	}

	owned, found := findOwnSocket(conn)
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.known, conn)
	if found {
		if len(s.known) >= maxKnownConnections {
			s.pruneClosed()
		}
		s.known[conn] = owned
	}
	return found
}

// pruneClosed drops entries whose connections are gone; called with the lock held.
func (s *selfPeers) pruneClosed() {
	for conn, owned := range s.known {
		if !owned.stillOpen() {
			delete(s.known, conn)
		}
	}
}

func (o ownedSocket) stillOpen() bool {
	link, err := os.Readlink("/proc/self/fd/" + o.fd)
	return err == nil && link == o.link
}

// findOwnSocket finds the socket whose local end is the call's client address and whose
// remote end is the frontend address it reached, then looks for that socket among our fds.
func findOwnSocket(conn connection) (ownedSocket, bool) {
	inode := ""
	for _, table := range []string{"/proc/self/net/tcp", "/proc/self/net/tcp6"} {
		if inode = socketInode(table, conn); inode != "" {
			break
		}
	}
	if inode == "" {
		return ownedSocket{}, false
	}
	want := "socket:[" + inode + "]"
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return ownedSocket{}, false
	}
	for _, fd := range fds {
		if link, err := os.Readlink("/proc/self/fd/" + fd.Name()); err == nil && link == want {
			return ownedSocket{fd: fd.Name(), link: link}, true
		}
	}
	return ownedSocket{}, false
}

func socketInode(table string, conn connection) string {
	f, err := os.Open(table)
	if err != nil {
		return ""
	}
	defer f.Close()
	lines := bufio.NewScanner(f)
	lines.Scan() // header
	for lines.Scan() {
		// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode ...
		fields := strings.Fields(lines.Text())
		if len(fields) < 10 || fields[9] == "0" {
			continue // inode 0: a connection in TIME_WAIT, owned by nobody
		}
		local, ok1 := parseProcAddr(fields[1])
		remote, ok2 := parseProcAddr(fields[2])
		if ok1 && ok2 && local == conn.client && remote == conn.server {
			return fields[9]
		}
	}
	return ""
}

// parseProcAddr reads "0100007F:1F91": the address as 32-bit words in host byte order, then
// the port in hex.
func parseProcAddr(s string) (netip.AddrPort, bool) {
	hexIP, hexPort, ok := strings.Cut(s, ":")
	if !ok {
		return netip.AddrPort{}, false
	}
	raw, err := hex.DecodeString(hexIP)
	if err != nil || (len(raw) != 4 && len(raw) != 16) {
		return netip.AddrPort{}, false
	}
	for i := 0; i < len(raw); i += 4 {
		binary.NativeEndian.PutUint32(raw[i:], binary.BigEndian.Uint32(raw[i:]))
	}
	port, err := strconv.ParseUint(hexPort, 16, 16)
	if err != nil {
		return netip.AddrPort{}, false
	}
	ip, _ := netip.AddrFromSlice(raw)
	return netip.AddrPortFrom(ip.Unmap(), uint16(port)), true
}

func tcpAddrPort(addr net.Addr) (netip.AddrPort, bool) {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok {
		return netip.AddrPort{}, false
	}
	ap := tcp.AddrPort()
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), true
}
