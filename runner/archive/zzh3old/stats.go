package archive

import "fmt"

// Stats summarises what Create put into, or Extract took out of, an archive.
type Stats struct {
	// Files counts regular files and symlinks (directories are not counted).
	Files int
	// Bytes is the uncompressed size of the regular files.
	Bytes int64
	// Warnings are non-fatal findings worth showing in the job log, such as
	// a pattern that matched nothing or a special file that was skipped.
	Warnings []string
}

func (s *Stats) warnf(format string, args ...any) {
	s.Warnings = append(s.Warnings, fmt.Sprintf(format, args...))
}
