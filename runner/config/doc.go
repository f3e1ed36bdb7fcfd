// Package config owns the agent's configuration: the TOML file that
// operators edit (gitlab-runner's shape, so migration is a copy), its
// environment overrides, and the typed runtime configuration the agent runs
// on, with byte sizes and durations parsed once at load time.
package config
