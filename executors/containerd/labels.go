package containerd

import (
	"fmt"
	"maps"
	"regexp"
	"strconv"

	"github.com/runfleet/runfleet/executors"
)

// Roles (LabelRole values) of the objects an Env creates.
const (
	roleJob     = "job"
	roleService = "service"
	roleLease   = "lease"
)

// objectLabels returns the caller's labels overlaid with ours, so callers
// can never spoof or drop the labels cleanup depends on.
func objectLabels(user map[string]string, node, jobID, role string) map[string]string {
	l := make(map[string]string, len(user)+4)
	maps.Copy(l, user)
	l[executors.LabelManaged] = "true"
	l[executors.LabelNode] = node
	l[executors.LabelJob] = jobID
	l[executors.LabelRole] = role
	return l
}

// nodeFilter is the containerd filter selecting objects labelled for node.
func nodeFilter(node string) string {
	return fmt.Sprintf("labels.%q==%s", executors.LabelNode, strconv.Quote(node))
}

var nameRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,99}$`)

// validName checks that s can be part of a container ID and a file name.
func validName(s string) error {
	if !nameRE.MatchString(s) || s == "." || s == ".." {
		return fmt.Errorf("%q must match %s", s, nameRE)
	}
	return nil
}
