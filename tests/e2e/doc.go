// Package e2e holds end-to-end tests of `runner run` and `runner exec`: the
// real agent binary against the strict fake GitLab (gitlabtest) and the
// real Docker engine. They fail loudly when Docker is unreachable.
package e2e
