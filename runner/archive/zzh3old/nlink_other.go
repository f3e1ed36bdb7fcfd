//go:build !unix

package archive

import "io/fs"

// singleLink reports false where link counts are unknown, so existing
// files are always replaced rather than rewritten in place.
func singleLink(fs.FileInfo) bool { return false }
