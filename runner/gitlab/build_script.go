package gitlab

import (
	"fmt"
	"strings"
)

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'"'"'`) + "'"
}

// stepScript turns a step's lines into one POSIX sh script that echoes each
// command (as GitLab's log shows it) and stops at the first failure.
func stepScript(lines []string) string {
	var b strings.Builder
	b.WriteString("set -e\n(set -o pipefail) 2>/dev/null && set -o pipefail\n")
	for _, l := range lines {
		if strings.TrimSpace(l) == "" {
			continue
		}
		echo := l
		if i := strings.IndexByte(echo, '\n'); i >= 0 {
			echo = echo[:i] + " # collapsed multi-line command"
		}
		fmt.Fprintf(&b, "printf '%%s\\n' %s\n", shellQuote("\x1b[32;1m$ "+echo+"\x1b[0;m"))
		b.WriteString(l)
		b.WriteString("\n")
	}
	return b.String()
}

// section markers fold the log in GitLab's UI.
func sectionStart(unix int64, name, header string) string {
	return fmt.Sprintf("section_start:%d:%s\r\x1b[0K\x1b[36;1m%s\x1b[0;m\n", unix, name, header)
}

func sectionEnd(unix int64, name string) string {
	return fmt.Sprintf("section_end:%d:%s\r\x1b[0K\n", unix, name)
}
