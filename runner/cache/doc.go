// Package cache owns the job caches of the runner agent: cache keys and
// their sanitising, the Store contract (Get/Put of whole zip archives by
// key, atomic writes, a miss is fs.ErrNotExist), the local directory store
// with LRU eviction, and Restore/Save, which move a build directory's cached
// paths in and out of a store through runner/archive.
package cache
