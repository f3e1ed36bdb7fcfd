package main

import (
	"fmt"
	"io"
)

// printNext tells the user the first two commands to type after the demo:
// register this machine against a real GitLab or GitHub, then run it.
func printNext(w io.Writer) {
	fmt.Fprint(w, `
Next, register this machine with your GitLab or GitHub and run it:
  sudo bin/runner register      # asks for the URL (GitLab, or https://github.com/ORG), the token and the executor
  sudo bin/runner run
`)
}
