// Package ciyaml reads a local .gitlab-ci.yml well enough to run one of its
// jobs without GitLab (`runner exec`): images, services, variables,
// before_script/script/after_script, cache, artifacts, timeout and the
// `default:` section. It does not evaluate rules, needs, extends or
// !reference; a job that uses them gets a clear error instead of a silent
// misreading.
package ciyaml
