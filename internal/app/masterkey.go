package app

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"clientst0r/internal/config"
	"clientst0r/internal/db"
)

// MasterKey returns the installation's master key: configured, or read from the data directory's
// key file (which opening the installation created on first start).
func MasterKey(cfg config.Config) ([]byte, error) {
	k, _, err := masterKey(cfg)
	return k, err
}

// masterKey returns the configured master key or, on SQLite without one, reads <data dir>/master.key,
// generating it (mode 0600) on first start. generated reports that it was just created.
func masterKey(cfg config.Config) (key []byte, generated bool, err error) {
	if cfg.MasterKey != nil {
		return cfg.MasterKey, false, nil
	}
	path := filepath.Join(cfg.DataDir, "master.key")
	b, err := os.ReadFile(path)
	if err == nil {
		k, err := config.DecodeKey(string(b))
		if err != nil {
			return nil, false, fmt.Errorf("master key file %s %v", path, err)
		}
		return k, false, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, false, fmt.Errorf("read master key: %w", err)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, false, fmt.Errorf("create data directory: %w", err)
	}
	k := make([]byte, 32)
	if _, err := io.ReadFull(rand.Reader, k); err != nil {
		return nil, false, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, false, fmt.Errorf("write master key: %w", err)
	}
	if _, err := f.WriteString(base64.StdEncoding.EncodeToString(k) + "\n"); err != nil {
		f.Close()
		return nil, false, fmt.Errorf("write master key: %w", err)
	}
	return k, true, f.Close()
}

// canaryName is the app_meta row holding a digest of the master key.
const canaryName = "master_key_canary"

// checkCanary refuses a master key other than the one the database was first used with: with the
// wrong key every secret would be unreadable and every API key invalid, so better not to start.
func checkCanary(ctx context.Context, d *db.DB, canary string) error {
	var stored string
	err := d.W.QueryRowContext(ctx, `SELECT value FROM app_meta WHERE name = $1`, canaryName).Scan(&stored)
	if errors.Is(err, sql.ErrNoRows) {
		_, err = d.W.ExecContext(ctx, `INSERT INTO app_meta (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING`, canaryName, canary)
		if err != nil {
			return fmt.Errorf("record master key canary: %w", err)
		}
		return checkCanary(ctx, d, canary)
	}
	if err != nil {
		return fmt.Errorf("read master key canary: %w", err)
	}
	if subtle.ConstantTimeCompare([]byte(stored), []byte(canary)) != 1 {
		return errors.New("the master key does not match this database (CLIENTST0R_MASTER_KEY or master.key was changed); refusing to start")
	}
	return nil
}
