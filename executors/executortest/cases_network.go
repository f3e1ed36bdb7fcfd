package executortest

import (
	"strings"
	"testing"

	"github.com/runfleet/runfleet/executors"
)

var networkCases = []testCase{
	{"ServiceByAlias", testServiceByAlias},
	{"NetworkNone", testNetworkNone},
}

func testServiceByAlias(t *testing.T, h Harness) {
	svc := executors.Service{
		Image: executors.Image{
			Name:       h.Image,
			PullPolicy: executors.PullNever,
			Command:    []string{"sh", "-c", `mkdir -p /www && echo "hello $GREETING" > /www/index.html && exec httpd -f -p 8080 -h /www`},
		},
		Aliases: []string{"web", "web.internal"},
		Env:     []string{"GREETING=from-service"},
	}
	_, env := setup(t, h, executors.Spec{Services: []executors.Service{svc}})
	// No "wget -T": Debian's static busybox 1.35 crashes on it.
	const script = `for i in $(seq 1 100); do
  if wget -q -O - http://web:8080/ 2>/dev/null; then wget -q -O - http://web.internal:8080/; exit; fi
  sleep 0.1
done
echo "service never answered"; exit 1`
	out := mustRun(t, env, script)
	if want := "hello from-service\n"; out != want+want {
		t.Errorf("service output %q, want %q twice", out, want)
	}
}

func testNetworkNone(t *testing.T, h Harness) {
	_, env := setup(t, h, executors.Spec{Network: executors.NetworkNone})
	out := strings.Fields(mustRun(t, env, "ls /sys/class/net"))
	if len(out) != 1 || out[0] != "lo" {
		t.Errorf("interfaces %q, want only lo", out)
	}
}
