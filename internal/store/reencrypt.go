package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"clientst0r/internal/vault"
)

// sealedColumns lists every column that holds vault ciphertext, by table, so a key rotation can
// re-encrypt them all.
var sealedColumns = map[string][]string{
	"passwords":    {"password_ct", "otp_ct", "notes_ct"},
	"webhooks":     {"secret", "previous_secret"},
	"users":        {"totp_secret_ct", "totp_pending_ct"},
	"integrations": {"credentials"},
}

// sealedOrg is the organization a table's ciphertexts are bound to: its organization_id column
// unless named here (accounts belong to no organization and bind to 0).
var sealedOrg = map[string]string{"users": "0"}

// RotateKey adds a data key; new writes use it at once, on this node and (told in the same
// transaction) on the others. Re-encryption of existing secrets is the job ReencryptArgs, queued here
// in the same transaction's spirit (right after the key commits).
func (s *Store) RotateKey(ctx context.Context) (uint32, error) {
	id, err := s.keyring.Rotate(ctx, s.Now())
	if err != nil {
		return 0, err
	}
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		if err := s.enqueuer.InsertTx(ctx, tx, ReencryptArgs{}, s.Now()); err != nil {
			return err
		}
		if s.nodes != nil {
			if err := s.nodes.NotifyTx(ctx, tx, topicKeyring, fmt.Sprint(id)); err != nil {
				return err
			}
		}
		return s.audit(ctx, tx, nil, "vault.rotate_key", "vault_key", ptr(int64(id)), fmt.Sprintf("data key %d", id), nil)
	})
	return id, wrap(err, "rotate key")
}

func ptr[T any](v T) *T { return &v }

// ReencryptArgs re-encrypts every secret sealed under an older data key.
type ReencryptArgs struct{}

// Kind names the job.
func (ReencryptArgs) Kind() string { return "vault.reencrypt" }

// Reencrypt moves every ciphertext to the current key, in batches of batch rows, each batch its own
// transaction, so it can stop and resume at any point; old keys keep decrypting throughout. It
// returns how many values it re-sealed.
func (s *Store) Reencrypt(ctx context.Context, batch int) (int, error) {
	if err := s.keyring.Refresh(ctx); err != nil { // another process may have rotated
		return 0, err
	}
	current := s.keyring.Current()
	total := 0
	for table, cols := range sealedColumns {
		for after := int64(0); ; {
			n, last, err := s.reencryptBatch(ctx, table, cols, current, after, batch)
			if err != nil {
				return total, err
			}
			total += n
			if last == 0 {
				break
			}
			after = last
		}
	}
	return total, nil
}

func (s *Store) reencryptBatch(ctx context.Context, table string, cols []string, current uint32, after int64, batch int) (n int, last int64, err error) {
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		org := sealedOrg[table]
		if org == "" {
			org = "organization_id"
		}
		rows, err := tx.QueryContext(ctx, fmt.Sprintf(`SELECT id, %s, %s FROM %s WHERE id > $1 ORDER BY id LIMIT $2`,
			org, strings.Join(cols, ", "), table), after, batch)
		if err != nil {
			return err
		}
		type row struct {
			id, org int64
			cts     [][]byte
		}
		var todo []row
		for rows.Next() {
			r := row{cts: make([][]byte, len(cols))}
			dest := []any{&r.id, &r.org}
			for i := range r.cts {
				dest = append(dest, &r.cts[i])
			}
			if err := rows.Scan(dest...); err != nil {
				rows.Close()
				return err
			}
			todo, last = append(todo, r), r.id
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, r := range todo {
			var set []string
			var args []any
			for i, ct := range r.cts {
				if ct == nil || vault.KeyID(ct) == current {
					continue
				}
				b := vault.Binding{Table: table, Column: cols[i], Org: r.org, Row: r.id}
				plain, err := s.keyring.OpenCT(ctx, ct, b)
				if err != nil {
					return fmt.Errorf("%s %d %s: %w", table, r.id, cols[i], err)
				}
				args = append(args, s.keyring.Seal(plain, b))
				set = append(set, fmt.Sprintf("%s = $%d", cols[i], len(args)))
			}
			if len(set) == 0 {
				continue
			}
			args = append(args, r.id)
			if _, err := tx.ExecContext(ctx, `UPDATE `+table+` SET `+strings.Join(set, ", ")+fmt.Sprintf(" WHERE id = $%d", len(args)), args...); err != nil {
				return err
			}
			n += len(set)
		}
		return nil
	})
	return n, last, wrap(err, "re-encrypt "+table)
}
