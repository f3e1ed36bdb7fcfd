package docker

import (
	"fmt"
	"maps"
	"regexp"

	"github.com/runfleet/runfleet/executors"
)

// Roles (LabelRole values) of the objects an Env creates.
const (
	roleJob     = "job"
	roleService = "service"
	roleNetwork = "network"
	roleVolume  = "volume"
)

var labelManagedTrue = executors.LabelManaged + "=true"

func nodeLabel(node string) string { return executors.LabelNode + "=" + node }

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

var nameRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$`)

// validName checks that s can be part of a Docker object name.
func validName(s string) error {
	if !nameRE.MatchString(s) {
		return fmt.Errorf("%q must match %s", s, nameRE)
	}
	return nil
}
