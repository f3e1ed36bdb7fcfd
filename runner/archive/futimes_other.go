//go:build !linux

package archive

import (
	"errors"
	"os"
	"time"
)

// fdTimes is false where times cannot be set through a descriptor: files
// are then written one at a time and their times set by name.
const fdTimes = false

func setFileTimes(*os.File, time.Time) error {
	return errors.New("setting times on an open file is not supported here")
}
