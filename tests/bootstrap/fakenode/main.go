// Command fakenode is a test double of the AWS side of a node, for the bootstrap test
// (tests/bootstrap). It runs inside a Debian container and answers, strictly and as the
// real things document, what the node user-data asks of AWS and of the init system:
//
//   - fakenode serve: the IMDSv2 endpoint on 169.254.169.254:80 (token PUT required, no
//     token → 401) and a file server for the agent binary on 127.0.0.1:8081;
//   - invoked as aws: the two AWS CLI calls that read a secret (ssm get-parameter
//     --with-decryption, secretsmanager get-secret-value), answered from secrets.json;
//     anything else is a usage error;
//   - invoked as systemctl: daemon-reload and enable [--now] UNIT (which, like systemctl,
//     refuses a unit file that does not exist and links it into its target's .wants);
//   - file downloads are recorded as GET PATH;
//   - invoked as amazon-cloudwatch-agent-ctl: checks the -c file: config is valid JSON.
//
// Every invocation is appended to calls.jsonl in the state directory (FAKENODE_DIR,
// default /opt/fake) for the test to read.
package main

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

func main() {
	dir := os.Getenv("FAKENODE_DIR")
	if dir == "" {
		dir = "/opt/fake"
	}
	args := os.Args[1:]
	name := filepath.Base(os.Args[0])
	if name != "fakenode" {
		record(dir, name, args)
	}
	switch name {
	case "aws":
		os.Exit(awsCLI(dir, args))
	case "systemctl":
		os.Exit(systemctl(dir, args))
	case "amazon-cloudwatch-agent-ctl":
		os.Exit(cloudwatchCtl(args))
	}
	if len(args) == 0 || args[0] != "serve" {
		fmt.Fprintln(os.Stderr, "usage: fakenode serve [flags]")
		os.Exit(2)
	}
	if err := serve(dir, args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "fakenode:", err)
		os.Exit(1)
	}
}

// call is one line of calls.jsonl.
type call struct {
	Cmd  string   `json:"cmd"`
	Args []string `json:"args"`
}

func record(dir, name string, args []string) {
	b, _ := json.Marshal(call{Cmd: name, Args: args})
	f, err := os.OpenFile(filepath.Join(dir, "calls.jsonl"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fakenode: record:", err)
		return
	}
	defer f.Close()
	f.Write(append(b, '\n'))
}

// awsCLI answers `aws ssm get-parameter` and `aws secretsmanager get-secret-value` as AWS
// CLI v2 does: exit 0 with the value on stdout (--output text), 254 for a service error,
// 252 for a usage error.
func awsCLI(dir string, args []string) int {
	if len(args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: aws [options] <command> <subcommand> [<subcommand> ...] [parameters]")
		return 252
	}
	opts := map[string]string{}
	flags := map[string]bool{}
	for i := 2; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "--") {
			fmt.Fprintf(os.Stderr, "aws: error: unexpected argument %q\n", a)
			return 252
		}
		switch a {
		case "--with-decryption", "--no-with-decryption":
			flags[a] = true
			continue
		}
		if i+1 >= len(args) {
			fmt.Fprintf(os.Stderr, "aws: error: argument %s: expected one argument\n", a)
			return 252
		}
		opts[a] = args[i+1]
		i++
	}
	region := opts["--region"]
	if region == "" {
		region = os.Getenv("AWS_REGION")
	}
	if region == "" {
		region = os.Getenv("AWS_DEFAULT_REGION")
	}
	if region == "" {
		fmt.Fprintln(os.Stderr, "You must specify a region. You can also configure your region by running \"aws configure\".")
		return 253
	}
	if args[0]+" "+args[1] == "autoscaling complete-lifecycle-action" {
		return completeLifecycleAction(opts)
	}
	var arn, op, query string
	switch args[0] + " " + args[1] {
	case "ssm get-parameter":
		arn, op, query = opts["--name"], "GetParameter", "Parameter.Value"
		if !flags["--with-decryption"] {
			// The real call would return the SecureString's ciphertext: never what a node wants.
			fmt.Fprintln(os.Stderr, "fakenode: ssm get-parameter without --with-decryption returns ciphertext")
			return 252
		}
	case "secretsmanager get-secret-value":
		arn, op, query = opts["--secret-id"], "GetSecretValue", "SecretString"
	default:
		fmt.Fprintf(os.Stderr, "aws: error: fakenode does not implement %q\n", args[0]+" "+args[1])
		return 252
	}
	if arn == "" {
		fmt.Fprintf(os.Stderr, "aws: error: the following arguments are required: the secret's name\n")
		return 252
	}
	if opts["--query"] != query || opts["--output"] != "text" {
		fmt.Fprintf(os.Stderr, "fakenode: want --query %s --output text, got %q %q\n", query, opts["--query"], opts["--output"])
		return 252
	}
	parts := strings.Split(arn, ":")
	if len(parts) < 6 || parts[0] != "arn" || parts[2] != args[0] {
		fmt.Fprintf(os.Stderr, "\nAn error occurred (ValidationException) when calling the %s operation: %q is not an ARN of %s\n", op, arn, args[0])
		return 254
	}
	if parts[3] != region {
		fmt.Fprintf(os.Stderr, "\nAn error occurred (ValidationException) when calling the %s operation: ARN region %s does not match the request's region %s\n", op, parts[3], region)
		return 254
	}
	secrets := map[string]string{}
	b, err := os.ReadFile(filepath.Join(dir, "secrets.json"))
	if err == nil {
		err = json.Unmarshal(b, &secrets)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "fakenode: secrets.json:", err)
		return 255
	}
	v, ok := secrets[arn]
	if !ok {
		code := map[string]string{"ssm": "ParameterNotFound", "secretsmanager": "ResourceNotFoundException"}[args[0]]
		fmt.Fprintf(os.Stderr, "\nAn error occurred (%s) when calling the %s operation: \n", code, op)
		return 254
	}
	fmt.Println(v)
	return 0
}

// completeLifecycleAction checks `aws autoscaling complete-lifecycle-action` as the API
// would (the call itself is recorded): group, hook, instance and a result of CONTINUE or
// ABANDON are required.
func completeLifecycleAction(opts map[string]string) int {
	for _, k := range []string{"--auto-scaling-group-name", "--lifecycle-hook-name", "--instance-id", "--lifecycle-action-result"} {
		if opts[k] == "" {
			fmt.Fprintf(os.Stderr, "aws: error: the following arguments are required: %s\n", k)
			return 252
		}
	}
	if r := opts["--lifecycle-action-result"]; r != "CONTINUE" && r != "ABANDON" {
		fmt.Fprintf(os.Stderr, "\nAn error occurred (ValidationError) when calling the CompleteLifecycleAction operation: LifecycleActionResult %q is not CONTINUE or ABANDON\n", r)
		return 254
	}
	return 0
}

// systemctl implements the verbs the bootstrap uses, offline, the way systemctl does on a
// system whose manager is not running: enable links the unit into its WantedBy target;
// start marks the unit active (nothing runs here) and is-active reports it; --now is only
// recorded.
func systemctl(dir string, args []string) int {
	var verbs []string
	for _, a := range args {
		if !strings.HasPrefix(a, "-") {
			verbs = append(verbs, a)
		}
	}
	if len(verbs) == 0 {
		return 0
	}
	switch verbs[0] {
	case "start":
		for _, u := range verbs[1:] {
			if err := os.MkdirAll(filepath.Join(dir, "active"), 0o755); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
			if err := os.WriteFile(filepath.Join(dir, "active", u), nil, 0o644); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
		}
	case "is-active":
		for _, u := range verbs[1:] {
			if _, err := os.Stat(filepath.Join(dir, "active", u)); err != nil {
				return 3 // inactive
			}
		}
	case "enable":
		if len(verbs) < 2 {
			fmt.Fprintln(os.Stderr, "Too few arguments.")
			return 1
		}
		for _, u := range verbs[1:] {
			if !strings.Contains(u, ".") {
				u += ".service"
			}
			if err := enable(u); err != nil {
				fmt.Fprintln(os.Stderr, "Failed to enable unit:", err)
				return 1
			}
		}
	}
	return 0
}

func enable(unit string) error {
	var path string
	for _, d := range []string{"/etc/systemd/system", "/lib/systemd/system", "/usr/lib/systemd/system"} {
		if _, err := os.Stat(filepath.Join(d, unit)); err == nil {
			path = filepath.Join(d, unit)
			break
		}
	}
	if path == "" {
		return fmt.Errorf("Unit file %s does not exist.", unit)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var wanted []string
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "WantedBy="); ok {
			wanted = append(wanted, strings.Fields(v)...)
		}
	}
	if len(wanted) == 0 {
		return fmt.Errorf("unit %s has no [Install] WantedBy=", unit)
	}
	for _, w := range wanted {
		d := filepath.Join("/etc/systemd/system", w+".wants")
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
		link := filepath.Join(d, unit)
		os.Remove(link)
		if err := os.Symlink(path, link); err != nil {
			return err
		}
	}
	return nil
}

func cloudwatchCtl(args []string) int {
	for i, a := range args {
		if a == "-c" && i+1 < len(args) {
			path, ok := strings.CutPrefix(args[i+1], "file:")
			if !ok {
				fmt.Fprintln(os.Stderr, "fakenode: -c wants file:PATH")
				return 1
			}
			b, err := os.ReadFile(path)
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
			if !json.Valid(b) {
				fmt.Fprintf(os.Stderr, "fakenode: %s is not valid JSON\n", path)
				return 1
			}
			return 0
		}
	}
	fmt.Fprintln(os.Stderr, "fakenode: amazon-cloudwatch-agent-ctl without -c")
	return 1
}

// serve runs the IMDSv2 endpoint and the file server until killed, and writes the file
// ready in the state directory once both listen.
func serve(dir string, args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	imdsAddr := fs.String("imds", "169.254.169.254:80", "IMDS listen address")
	filesAddr := fs.String("files", "127.0.0.1:8081", "file server listen address")
	instanceID := fs.String("instance-id", "i-0123456789abcdef0", "instance ID")
	if err := fs.Parse(args); err != nil {
		return err
	}
	li, err := net.Listen("tcp", *imdsAddr)
	if err != nil {
		return err
	}
	lf, err := net.Listen("tcp", *filesAddr)
	if err != nil {
		return err
	}
	errc := make(chan error, 2)
	go func() {
		errc <- http.Serve(li, newIMDS(dir, *instanceID, map[string]string{
			"placement/region":            "eu-west-1",
			"placement/availability-zone": "eu-west-1a",
			"instance-type":               "m6i.large",
		}))
	}()
	files := http.NewServeMux()
	fileServer := http.FileServer(http.Dir(filepath.Join(dir, "files")))
	files.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
		record(dir, "GET", []string{r.URL.Path})
		fileServer.ServeHTTP(w, r)
	})
	go func() { errc <- http.Serve(lf, files) }()
	if err := os.WriteFile(filepath.Join(dir, "ready"), nil, 0o644); err != nil {
		return err
	}
	return <-errc
}

// imds is a strict IMDSv2: sessions only (the launch template sets http_tokens =
// "required").
type imds struct {
	dir        string // its file lifecycle-state, when present, is the Auto Scaling target lifecycle state
	instanceID string
	meta       map[string]string
	mu         sync.Mutex
	tokens     map[string]bool
}

func newIMDS(dir, instanceID string, meta map[string]string) *imds {
	return &imds{dir: dir, instanceID: instanceID, meta: meta, tokens: map[string]bool{}}
}

func (m *imds) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/latest/api/token" {
		if r.Method != http.MethodPut {
			http.Error(w, "", http.StatusMethodNotAllowed)
			return
		}
		// IMDS refuses token requests that went through a proxy.
		if r.Header.Get("X-Forwarded-For") != "" {
			http.Error(w, "", http.StatusForbidden)
			return
		}
		ttl, err := strconv.Atoi(r.Header.Get("X-aws-ec2-metadata-token-ttl-seconds"))
		if err != nil || ttl < 1 || ttl > 21600 {
			http.Error(w, "", http.StatusBadRequest)
			return
		}
		b := make([]byte, 24)
		rand.Read(b)
		tok := hex.EncodeToString(b)
		m.mu.Lock()
		m.tokens[tok] = true
		m.mu.Unlock()
		w.Header().Set("X-aws-ec2-metadata-token-ttl-seconds", strconv.Itoa(ttl))
		fmt.Fprint(w, tok)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "", http.StatusMethodNotAllowed)
		return
	}
	m.mu.Lock()
	ok := m.tokens[r.Header.Get("X-aws-ec2-metadata-token")]
	m.mu.Unlock()
	if !ok {
		http.Error(w, "", http.StatusUnauthorized)
		return
	}
	key, found := strings.CutPrefix(r.URL.Path, "/latest/meta-data/")
	if !found {
		http.NotFound(w, r)
		return
	}
	if key == "instance-id" {
		fmt.Fprint(w, m.instanceID)
		return
	}
	if v, ok := m.meta[key]; ok {
		fmt.Fprint(w, v)
		return
	}
	if key == "autoscaling/target-lifecycle-state" {
		// 404 without the file: an instance outside an Auto Scaling group.
		if b, err := os.ReadFile(filepath.Join(m.dir, "lifecycle-state")); err == nil {
			fmt.Fprint(w, strings.TrimSpace(string(b)))
			return
		}
	}
	// spot/instance-action and everything else: 404, as on an instance with no notice.
	http.NotFound(w, r)
}
