// Package journal is the agent's crash-safe record of the jobs it runs.
//
// Before a job starts, the agent writes one small record for it under its
// state directory (atomically: temp file, fsync, rename, fsync of the
// directory; mode 0600), and deletes it only once the platform has
// acknowledged the job's final state. A record left behind means the agent
// died mid-job (SIGKILL, OOM kill, node reboot): at the next start the
// agent reports each such job failed on its platform exactly once, reaps
// its engine objects, and only then deletes the record.
//
// Next to a GitLab record the job's log is spooled (masked, as sent), so
// that the closing report can carry the log's checksum and resend what
// GitLab is missing.
package journal
