package pgstore

import (
	"context"
	"embed"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/fleetkit/fleetkit/store"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// migrations are the embedded schema changes, loaded once.
var migrations, migrationsErr = store.LoadMigrations(migrationFS, "migrations")

// migrate applies the pending migrations, each in a transaction of its own
// that first takes a transaction-scoped advisory lock: nodes opening one
// database at once apply each migration exactly once, one after another,
// and a node that waited sees the version the other recorded.
func (s *Store) migrate(ctx context.Context) error {
	if migrationsErr != nil {
		return migrationsErr
	}
	for {
		applied, err := s.migrateOne(ctx)
		if err != nil {
			return err
		}
		if !applied {
			return nil
		}
	}
}

// migrateOne applies the next pending migration, if any, and reports
// whether it applied one.
func (s *Store) migrateOne(ctx context.Context) (applied bool, err error) {
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, qMigrationLock, migrationLockKey); err != nil {
			return fmt.Errorf("lock for migration: %w", err)
		}
		if _, err := tx.Exec(ctx, qMigrationTable); err != nil {
			return fmt.Errorf("create schema_migrations: %w", err)
		}
		var current int
		if err := tx.QueryRow(ctx, qMigrationVersion).Scan(&current); err != nil {
			return fmt.Errorf("read schema version: %w", err)
		}
		pending, err := store.Pending(migrations, current)
		if err != nil {
			return err
		}
		if len(pending) == 0 {
			return nil
		}
		m := pending[0]
		if _, err := tx.Exec(ctx, m.SQL, pgx.QueryExecModeSimpleProtocol); err != nil {
			return fmt.Errorf("apply migration %s: %w", m.Name, err)
		}
		if _, err := tx.Exec(ctx, qMigrationRecord, m.Version, m.Name); err != nil {
			return fmt.Errorf("record migration %s: %w", m.Name, err)
		}
		applied = true
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("migrate: %w", s.interpretError(err))
	}
	return applied, nil
}
