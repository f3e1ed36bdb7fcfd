// Package helperimage builds the sources helper image (git and a shell,
// runfleet/git-helper:latest by default) from the host, so a node needs
// no registry for it: a root filesystem holding the host's git, the
// dynamic loader and the libraries git links, and a shell with the few
// tools the helper's script calls (the host's static busybox when there
// is one). Ensure imports it into an engine that lacks it, through the
// engine's own import (Docker: docker import of the root filesystem;
// containerd: an OCI image archive).
package helperimage
