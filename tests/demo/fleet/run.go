package main

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"text/template"
	"time"

	"github.com/docker/docker/client"

	"github.com/runfleet/runfleet/autoscaler/fleetapi"
	dockerprov "github.com/runfleet/runfleet/autoscaler/provider/docker"
)

var (
	//go:embed fleet.toml
	fleetTemplate string
	//go:embed node.toml
	nodeTemplate string
)

// demo is one run: what it started, what it saw.
type demo struct {
	o      *options
	out    io.Writer
	dir    string
	docker *client.Client
	prov   *dockerprov.Provider
	coord  *coordinator
	admin  string // http://host:port of the control plane's admin listener
	cp     *exec.Cmd
	cpDone chan struct{}
	cpErr  error
	logf   string
	start  time.Time
	w      watch
}

func run(ctx context.Context, o *options, out io.Writer) (err error) {
	if err := o.validate(); err != nil {
		return err
	}
	d := &demo{o: o, out: out, start: time.Now()}
	defer func() {
		if cerr := d.cleanup(); cerr != nil {
			err = errors.Join(err, cerr)
		}
	}()
	if err := d.setUp(ctx); err != nil {
		return err
	}
	err = d.watchUntilDone(ctx)
	if err != nil && !errors.Is(err, errInterrupted) {
		fmt.Fprintf(out, "\ncontrol plane log (last lines of %s):\n%s\n", d.logf, d.logTail(40))
	}
	return err
}

var errInterrupted = errors.New("interrupted")

// setUp checks the engine and the images, then starts the coordinator
// with its burst of jobs and the control plane.
func (d *demo) setUp(ctx context.Context) error {
	o := d.o
	bin, err := exec.LookPath(o.Autoscaler)
	if err != nil {
		return fmt.Errorf("autoscaler binary: %w (make demo builds bin/autoscaler)", err)
	}
	if bin, err = filepath.Abs(bin); err != nil {
		return err
	}
	d.docker, err = client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return fmt.Errorf("docker engine: %w", err)
	}
	if _, err := d.docker.Ping(ctx); err != nil {
		return fmt.Errorf("docker engine: %w (tests/engine.sh starts one)", err)
	}
	for _, img := range []string{o.Image, o.JobImage} {
		if _, err := d.docker.ImageInspect(ctx, img); err != nil {
			return fmt.Errorf("image %s: %w (make images and images/runner-dev/build.sh build it)", img, err)
		}
	}
	if d.dir, err = os.MkdirTemp("", "runfleet-demo-"); err != nil {
		return err
	}
	d.prov, err = dockerprov.New(dockerprov.Options{Client: d.docker, Fleet: o.Fleet, StateDir: filepath.Join(d.dir, "nodes"),
		AllowHostDockerSocket: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	if n, err := d.removeNodes(ctx); err != nil {
		return err
	} else if n > 0 {
		fmt.Fprintf(d.out, "removed %d node container(s) an earlier demo of fleet %q left\n", n, o.Fleet)
	}
	if d.coord, err = newCoordinator(d.dir); err != nil {
		return err
	}
	d.coord.enqueue(o.Jobs, o.JobSeconds)

	fleetAddr, err := freeAddr()
	if err != nil {
		return err
	}
	adminAddr, err := freeAddr()
	if err != nil {
		return err
	}
	d.admin = "http://" + adminAddr
	vars := map[string]any{
		"Fleet": o.Fleet, "FleetAddr": fleetAddr, "AdminAddr": adminAddr, "Image": o.Image, "JobImage": o.JobImage,
		"Slots": o.Slots, "MaxNodes": o.MaxNodes, "APIURL": d.coord.api.URL(), "GitLabURL": d.coord.gl.URL(),
		"RunnerToken": d.coord.runnerToken, "JobNetwork": strings.TrimSuffix(o.JobNetwork, "per-job"),
	}
	files := []struct {
		name, body string
		tmpl       bool
	}{
		{"join-token", randomHex(16) + "\n", false},
		{"gitlab-api-token", d.coord.apiToken + "\n", false},
		{"node.toml", nodeTemplate, true},
		{"fleet.toml", fleetTemplate, true},
	}
	for _, f := range files {
		body := f.body
		if f.tmpl {
			if body, err = d.render(f.name, body, vars); err != nil {
				return err
			}
		}
		if err := os.WriteFile(filepath.Join(d.dir, f.name), []byte(body), 0o600); err != nil {
			return err
		}
	}
	return d.startControlPlane(bin)
}

func (d *demo) render(name, text string, vars map[string]any) (string, error) {
	t, err := template.New(name).Option("missingkey=error").Funcs(template.FuncMap{
		"q":    strconv.Quote, // a TOML basic string for what the demo puts there
		"path": func(n string) string { return filepath.Join(d.dir, n) },
	}).Parse(text)
	if err != nil {
		return "", fmt.Errorf("%s: %w", name, err)
	}
	var b bytes.Buffer
	if err := t.Execute(&b, vars); err != nil {
		return "", fmt.Errorf("%s: %w", name, err)
	}
	return b.String(), nil
}

// startControlPlane runs `autoscaler run` in its own process group (the
// demo stops it, after Ctrl-C too), logging to a file.
func (d *demo) startControlPlane(bin string) error {
	d.logf = filepath.Join(d.dir, "autoscaler.log")
	logFile, err := os.OpenFile(d.logf, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	defer logFile.Close()
	cfg := filepath.Join(d.dir, "fleet.toml")
	d.cp = exec.Command(bin, "run", "--config", cfg)
	d.cp.Stdout, d.cp.Stderr = logFile, logFile
	d.cp.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := d.cp.Start(); err != nil {
		return fmt.Errorf("starting the control plane: %w", err)
	}
	d.cpDone = make(chan struct{})
	go func() {
		d.cpErr = d.cp.Wait()
		close(d.cpDone)
	}()
	o := d.o
	fmt.Fprintf(d.out, `runfleet demo: %d jobs tagged [%s] on a local GitLab, pool %q of up to %d nodes × %d slots (docker provider, SQLite)
  coordinator   %s   (fake GitLab runner API; jobs API %s)
  control plane %s --config %s   (log %s)
  fleet status  %s%s   (or: %s status --admin %s)
  metrics       %s/metrics
`, o.Jobs, strings.Join(demoTags, ","), "demo", o.MaxNodes, o.Slots,
		d.coord.gl.URL(), d.coord.api.URL(), o.Autoscaler, cfg, d.logf,
		d.admin, fleetapi.PathAdminNodes, o.Autoscaler, d.admin, d.admin)
	return nil
}

// stopControlPlane sends SIGTERM and waits; SIGKILL after 15 s.
func (d *demo) stopControlPlane() {
	if d.cp == nil || d.cp.Process == nil {
		return
	}
	select {
	case <-d.cpDone:
		return
	default:
	}
	_ = d.cp.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.cpDone:
	case <-time.After(15 * time.Second):
		_ = d.cp.Process.Kill()
		<-d.cpDone
	}
}

func (d *demo) logTail(lines int) string {
	b, err := os.ReadFile(d.logf)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	ls := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(ls) > lines {
		ls = ls[len(ls)-lines:]
	}
	return strings.Join(ls, "\n")
}

// freeAddr is a loopback address with a port free right now.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}
