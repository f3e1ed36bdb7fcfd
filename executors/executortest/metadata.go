package executortest

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Cloud metadata endpoints jobs must never reach.
const (
	MetadataIPv4 = "169.254.169.254"
	MetadataIPv6 = "fd00:ec2::254"
)

// standInLock serialises stand-ins host-wide: the host routes to the
// metadata addresses are global, and test binaries run in parallel.
const standInLock = "/run/lock/runfleet-metadata-standin.lock"

// StandIn is a stand-in cloud metadata endpoint on this machine.
type StandIn struct {
	// Control is an address served by the same server on the same path
	// from the host, not a metadata address: a job that reaches it but
	// not the metadata addresses shows the block is a rule, not a missing
	// route.
	Control string
}

// MetadataStandIn puts 169.254.169.254 and fd00:ec2::254 on a veth
// inside a network namespace it creates, serves HTTP there ("instance-
// credentials") and routes the host to them: a cloud metadata endpoint
// from which no packet leaves the machine. It holds a host-wide lock
// until the test ends. Needs root, ip(8) and busybox.
func MetadataStandIn(t *testing.T) StandIn {
	t.Helper()
	lock, err := os.OpenFile(standInLock, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatalf("metadata stand-in lock: %v", err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatalf("metadata stand-in lock: %v", err)
	}
	t.Cleanup(func() { _ = syscall.Flock(int(lock.Fd()), syscall.LOCK_UN); lock.Close() })

	var b [3]byte
	_, _ = rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	ns, host, peer := "rfmeta"+id, "rfmh"+id, "rfmp"+id
	// A random /30 in 169.254.171.0-169.254.250.255 and a random /64 in
	// fd99::/16, so concurrent helpers never share addresses.
	n, _ := rand.Int(rand.Reader, big.NewInt(80*64))
	hostV4 := fmt.Sprintf("169.254.%d.%d", 171+n.Int64()/64, n.Int64()%64*4+1)
	peerV4 := fmt.Sprintf("169.254.%d.%d", 171+n.Int64()/64, n.Int64()%64*4+2)
	hostV6, peerV6 := "fd99:"+id[:4]+"::1", "fd99:"+id[:4]+"::2"
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
	}
	in := func(args ...string) { run(append([]string{"ip", "netns", "exec", ns}, args...)...) }
	run("ip", "netns", "add", ns)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
	run("ip", "link", "add", host, "type", "veth", "peer", "name", peer)
	t.Cleanup(func() { _ = exec.Command("ip", "link", "del", host).Run() })
	run("ip", "link", "set", peer, "netns", ns)
	run("ip", "addr", "add", hostV4+"/30", "dev", host)
	run("ip", "-6", "addr", "add", hostV6+"/64", "dev", host, "nodad")
	run("ip", "link", "set", host, "up")
	in("ip", "addr", "add", peerV4+"/30", "dev", peer)
	in("ip", "addr", "add", MetadataIPv4+"/32", "dev", peer)
	in("ip", "-6", "addr", "add", peerV6+"/64", "dev", peer, "nodad")
	in("ip", "-6", "addr", "add", MetadataIPv6+"/128", "dev", peer, "nodad")
	in("ip", "link", "set", peer, "up")
	in("ip", "link", "set", "lo", "up")
	in("ip", "route", "add", "default", "via", hostV4)
	in("ip", "-6", "route", "add", "default", "via", hostV6)
	run("ip", "route", "replace", MetadataIPv4+"/32", "via", peerV4)
	t.Cleanup(func() { _ = exec.Command("ip", "route", "del", MetadataIPv4+"/32", "via", peerV4).Run() })
	run("ip", "-6", "route", "replace", MetadataIPv6+"/128", "via", peerV6)
	t.Cleanup(func() { _ = exec.Command("ip", "-6", "route", "del", MetadataIPv6+"/128", "via", peerV6).Run() })

	www := t.TempDir()
	if err := os.WriteFile(filepath.Join(www, "index.html"), []byte("instance-credentials\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	busybox, err := exec.LookPath("busybox")
	if err != nil {
		t.Fatalf("busybox(-static) is needed for the metadata stand-in: %v", err)
	}
	srv := exec.Command("ip", "netns", "exec", ns, busybox, "httpd", "-f", "-p", "80", "-h", www)
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Process.Kill(); _ = srv.Wait() })
	// The stand-in answers the host on every address: the setup works.
	for _, addr := range []string{MetadataIPv4, "[" + MetadataIPv6 + "]", peerV4} {
		deadline := time.Now().Add(10 * time.Second)
		for {
			out, err := exec.Command(busybox, "wget", "-qO-", "http://"+addr+"/").CombinedOutput()
			if err == nil && strings.Contains(string(out), "instance-credentials") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("metadata stand-in unreachable from the host at %s: %v %s", addr, err, out)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return StandIn{Control: peerV4}
}
