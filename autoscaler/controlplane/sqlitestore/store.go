// Package sqlitestore is the control plane's default Store: an embedded
// SQLite database (modernc.org/sqlite, pure Go, no cgo) in one file, in WAL
// mode so a crash loses nothing that was acknowledged.
package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver

	"github.com/runfleet/runfleet/autoscaler/controlplane"
	"github.com/runfleet/runfleet/autoscaler/policy"
)

// Store is a controlplane.Store on SQLite.
type Store struct {
	db *sql.DB
}

var _ controlplane.Store = (*Store)(nil)

const schema = `
CREATE TABLE IF NOT EXISTS nodes (
	name TEXT PRIMARY KEY,
	provider_id TEXT NOT NULL,
	pool TEXT NOT NULL,
	instance_type TEXT NOT NULL,
	zone TEXT NOT NULL,
	spot INTEGER NOT NULL,
	price REAL NOT NULL,
	state TEXT NOT NULL,
	slots INTEGER NOT NULL,
	launched_at INTEGER NOT NULL,
	registered_at INTEGER NOT NULL,
	drain_at INTEGER NOT NULL,
	reason TEXT NOT NULL,
	cordoned INTEGER NOT NULL DEFAULT 0,
	bootstrap_hash TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS tokens (
	hash TEXT PRIMARY KEY,
	node TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS tokens_node ON tokens(node);
CREATE TABLE IF NOT EXISTS capacity_failures (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	instance_type TEXT NOT NULL,
	zone TEXT NOT NULL,
	spot INTEGER NOT NULL,
	price REAL NOT NULL,
	at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS scale_events (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	at INTEGER NOT NULL,
	kind TEXT NOT NULL,
	pool TEXT NOT NULL,
	node TEXT NOT NULL,
	detail TEXT NOT NULL
);
`

// Open opens (creating when missing) the database at path.
func Open(ctx context.Context, path string) (*Store, error) {
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(1)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlite %s: %w", path, err)
	}
	// One writer at a time is SQLite's model; one connection avoids
	// SQLITE_BUSY between our own connections.
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite %s: schema: %w", path, err)
	}
	if err := migrate(ctx, db); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite %s: %w", path, err)
	}
	return &Store{db: db}, nil
}

// migrate adds the columns later versions introduced to a database an
// earlier version created.
func migrate(ctx context.Context, db *sql.DB) error {
	rows, err := db.QueryContext(ctx, `SELECT name FROM pragma_table_info('nodes')`)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	cols := map[string]bool{}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return fmt.Errorf("migrate: %w", err)
		}
		cols[n] = true
	}
	rows.Close()
	if !cols["cordoned"] {
		if _, err := db.ExecContext(ctx, `ALTER TABLE nodes ADD COLUMN cordoned INTEGER NOT NULL DEFAULT 0`); err != nil {
			return fmt.Errorf("migrate: add nodes.cordoned: %w", err)
		}
	}
	if !cols["bootstrap_hash"] {
		if _, err := db.ExecContext(ctx, `ALTER TABLE nodes ADD COLUMN bootstrap_hash TEXT NOT NULL DEFAULT ''`); err != nil {
			return fmt.Errorf("migrate: add nodes.bootstrap_hash: %w", err)
		}
	}
	return nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

func unix(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromUnix(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// SaveNode inserts or replaces a node.
func (s *Store) SaveNode(ctx context.Context, n controlplane.Node) error {
	_, err := s.db.ExecContext(ctx, `INSERT OR REPLACE INTO nodes
		(name, provider_id, pool, instance_type, zone, spot, price, state, slots, launched_at, registered_at, drain_at, reason, cordoned, bootstrap_hash)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		n.Name, n.ProviderID, n.Pool, n.Offering.InstanceType, n.Offering.Zone, n.Offering.Spot, n.Offering.PricePerHour,
		string(n.State), n.Slots, unix(n.LaunchedAt), unix(n.RegisteredAt), unix(n.DrainAt), n.Reason, n.Cordoned, n.BootstrapHash)
	if err != nil {
		return fmt.Errorf("save node %s: %w", n.Name, err)
	}
	return nil
}

// DeleteNode removes a node and its tokens.
func (s *Store) DeleteNode(ctx context.Context, name string) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("delete node %s: %w", name, err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `DELETE FROM nodes WHERE name = ?`, name); err != nil {
		return fmt.Errorf("delete node %s: %w", name, err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM tokens WHERE node = ?`, name); err != nil {
		return fmt.Errorf("delete tokens of %s: %w", name, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("delete node %s: %w", name, err)
	}
	return nil
}

// Nodes returns every node, by name.
func (s *Store) Nodes(ctx context.Context) ([]controlplane.Node, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT name, provider_id, pool, instance_type, zone, spot, price, state, slots,
		launched_at, registered_at, drain_at, reason, cordoned, bootstrap_hash FROM nodes ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list nodes: %w", err)
	}
	defer rows.Close()
	var out []controlplane.Node
	for rows.Next() {
		var n controlplane.Node
		var state string
		var launched, registered, drain int64
		if err := rows.Scan(&n.Name, &n.ProviderID, &n.Pool, &n.Offering.InstanceType, &n.Offering.Zone, &n.Offering.Spot,
			&n.Offering.PricePerHour, &state, &n.Slots, &launched, &registered, &drain, &n.Reason, &n.Cordoned, &n.BootstrapHash); err != nil {
			return nil, fmt.Errorf("list nodes: %w", err)
		}
		n.State = policy.NodeState(state)
		n.LaunchedAt, n.RegisteredAt, n.DrainAt = fromUnix(launched), fromUnix(registered), fromUnix(drain)
		out = append(out, n)
	}
	return out, rows.Err()
}

// SaveToken stores a token hash for a node and deletes its earlier ones.
func (s *Store) SaveToken(ctx context.Context, hash, node string) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("save token of %s: %w", node, err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `DELETE FROM tokens WHERE node = ?`, node); err != nil {
		return fmt.Errorf("revoke tokens of %s: %w", node, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO tokens (hash, node) VALUES (?, ?)`, hash, node); err != nil {
		return fmt.Errorf("save token of %s: %w", node, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("save token of %s: %w", node, err)
	}
	return nil
}

// Tokens returns node names by token hash.
func (s *Store) Tokens(ctx context.Context) (map[string]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT hash, node FROM tokens`)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var h, n string
		if err := rows.Scan(&h, &n); err != nil {
			return nil, fmt.Errorf("list tokens: %w", err)
		}
		out[h] = n
	}
	return out, rows.Err()
}

// AddCapacityFailure records a capacity failure.
func (s *Store) AddCapacityFailure(ctx context.Context, f policy.CapacityFailure) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO capacity_failures (instance_type, zone, spot, price, at) VALUES (?, ?, ?, ?, ?)`,
		f.Offering.InstanceType, f.Offering.Zone, f.Offering.Spot, f.Offering.PricePerHour, unix(f.At))
	if err != nil {
		return fmt.Errorf("save capacity failure: %w", err)
	}
	return nil
}

// CapacityFailures returns failures at or after since and prunes older ones.
func (s *Store) CapacityFailures(ctx context.Context, since time.Time) ([]policy.CapacityFailure, error) {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM capacity_failures WHERE at < ?`, unix(since)); err != nil {
		return nil, fmt.Errorf("prune capacity failures: %w", err)
	}
	rows, err := s.db.QueryContext(ctx, `SELECT instance_type, zone, spot, price, at FROM capacity_failures ORDER BY at`)
	if err != nil {
		return nil, fmt.Errorf("list capacity failures: %w", err)
	}
	defer rows.Close()
	var out []policy.CapacityFailure
	for rows.Next() {
		var f policy.CapacityFailure
		var at int64
		if err := rows.Scan(&f.Offering.InstanceType, &f.Offering.Zone, &f.Offering.Spot, &f.Offering.PricePerHour, &at); err != nil {
			return nil, fmt.Errorf("list capacity failures: %w", err)
		}
		f.At = fromUnix(at)
		out = append(out, f)
	}
	return out, rows.Err()
}

// AddScaleEvent records an event.
func (s *Store) AddScaleEvent(ctx context.Context, e controlplane.ScaleEvent) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO scale_events (at, kind, pool, node, detail) VALUES (?, ?, ?, ?, ?)`,
		unix(e.At), e.Kind, e.Pool, e.Node, e.Detail)
	if err != nil {
		return fmt.Errorf("save scale event: %w", err)
	}
	return nil
}

// ScaleEvents returns the newest events first.
func (s *Store) ScaleEvents(ctx context.Context, limit int) ([]controlplane.ScaleEvent, error) {
	if limit <= 0 {
		return nil, errors.New("scale events: limit must be positive")
	}
	rows, err := s.db.QueryContext(ctx, `SELECT at, kind, pool, node, detail FROM scale_events ORDER BY id DESC LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("list scale events: %w", err)
	}
	defer rows.Close()
	var out []controlplane.ScaleEvent
	for rows.Next() {
		var e controlplane.ScaleEvent
		var at int64
		if err := rows.Scan(&at, &e.Kind, &e.Pool, &e.Node, &e.Detail); err != nil {
			return nil, fmt.Errorf("list scale events: %w", err)
		}
		e.At = fromUnix(at)
		out = append(out, e)
	}
	return out, rows.Err()
}
