package sqlitestore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/fleetkit/fleetkit/store"
)

const sqlCreateMigrations = `CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER NOT NULL PRIMARY KEY,
    name       TEXT    NOT NULL,
    applied_at INTEGER NOT NULL
)`

// migrations returns the embedded migrations.
func migrations() ([]store.Migration, error) {
	return store.LoadMigrations(migrationFS, "migrations")
}

// migrate applies the pending migrations on c, each in a write transaction
// of its own that also records its version in schema_migrations. The
// version is read again inside each transaction, so processes opening the
// same database at once apply every migration exactly once.
func migrate(ctx context.Context, c *sql.Conn) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	if _, err := c.ExecContext(ctx, sqlCreateMigrations); err != nil {
		return fmt.Errorf("migrate: create schema_migrations: %w", err)
	}
	for {
		done, err := migrateOne(ctx, c, ms)
		if err != nil || done {
			return err
		}
	}
}

// migrateOne applies the next pending migration; done means there was
// none.
func migrateOne(ctx context.Context, c *sql.Conn, ms []store.Migration) (done bool, err error) {
	if _, err := c.ExecContext(ctx, sqlBegin); err != nil {
		return false, fmt.Errorf("migrate: begin: %w", err)
	}
	defer func() {
		if err != nil || done {
			_, _ = c.ExecContext(context.WithoutCancel(ctx), sqlRollback)
		}
	}()
	var current int
	if err := c.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		return false, fmt.Errorf("migrate: read schema version: %w", err)
	}
	pending, err := store.Pending(ms, current)
	if err != nil {
		return false, fmt.Errorf("migrate: %w", err)
	}
	if len(pending) == 0 {
		return true, nil
	}
	m := pending[0]
	if _, err := c.ExecContext(ctx, m.SQL); err != nil {
		return false, fmt.Errorf("migrate: apply %s: %w", m.Name, err)
	}
	if _, err := c.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
		m.Version, m.Name, time.Now().UnixMicro()); err != nil {
		return false, fmt.Errorf("migrate: record %s: %w", m.Name, err)
	}
	if _, err := c.ExecContext(ctx, sqlCommit); err != nil {
		return false, fmt.Errorf("migrate: commit %s: %w", m.Name, err)
	}
	return false, nil
}

// SchemaVersion returns the schema version the database records.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	if err := s.checkOpen("schema version"); err != nil {
		return 0, err
	}
	var v int
	if err := s.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v); err != nil {
		return 0, fmt.Errorf("sqlitestore: schema version: %w", interpretError(err))
	}
	return v, nil
}
