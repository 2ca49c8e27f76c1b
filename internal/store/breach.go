package store

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// BreachCandidate is a vault entry's current password, for a breach check. The ciphertext travels
// along so the result is recorded only if the password did not change meanwhile.
type BreachCandidate struct {
	ID       int64
	OrgID    int64
	Password string
	ct       []byte
}

// BreachCandidates returns up to limit entries with a password and an id above after, in id order,
// decrypted. The breach jobs run it; it needs no caller.
func (s *Store) BreachCandidates(ctx context.Context, after int64, limit int) ([]BreachCandidate, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT id, organization_id, password_ct FROM passwords
		WHERE id > $1 AND password_ct IS NOT NULL ORDER BY id LIMIT $2`, after, limit)
	if err != nil {
		return nil, wrap(err, "breach candidates")
	}
	defer rows.Close()
	var out []BreachCandidate
	for rows.Next() {
		var c BreachCandidate
		if err := rows.Scan(&c.ID, &c.OrgID, &c.ct); err != nil {
			return nil, wrap(err, "breach candidates")
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap(err, "breach candidates")
	}
	for i := range out {
		p := &Password{Scoped: Scoped{ID: out[i].ID, OrgID: out[i].OrgID}}
		plain, err := s.keyring.OpenCT(ctx, out[i].ct, sealBinding(p, "password_ct"))
		if err != nil {
			return nil, fmt.Errorf("store: password of entry %d: %w", out[i].ID, err)
		}
		out[i].Password = string(plain)
	}
	return out, nil
}

// BreachCandidate returns one entry's password for a check (ok is false when it has none).
func (s *Store) BreachCandidate(ctx context.Context, id int64) (BreachCandidate, bool, error) {
	got, err := s.BreachCandidates(ctx, id-1, 1)
	if err != nil || len(got) == 0 || got[0].ID != id {
		return BreachCandidate{}, false, err
	}
	return got[0], true, nil
}

// BreachResult is the outcome of checking one password.
type BreachResult struct {
	Candidate BreachCandidate
	Status    string // clean, breached, error
	Count     int
}

// RecordBreaches stores check results in one transaction, skipping entries whose password changed
// since it was read, and emits vault.breach once per breached password value.
func (s *Store) RecordBreaches(ctx context.Context, results []BreachResult) error {
	now := s.Now()
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		for _, r := range results {
			var (
				ct                         []byte
				notified, title, user, url string
				orgName                    string
			)
			err := tx.QueryRowContext(ctx, `SELECT p.password_ct, p.breach_notified, p.title, p.username, p.url, o.name
				FROM passwords p JOIN organizations o ON o.id = p.organization_id WHERE p.id = $1`+s.forUpdateOf("p"), r.Candidate.ID).
				Scan(&ct, &notified, &title, &user, &url, &orgName)
			if errors.Is(err, sql.ErrNoRows) {
				continue
			}
			if err != nil {
				return err
			}
			if !bytes.Equal(ct, r.Candidate.ct) {
				continue // changed meanwhile: its own check is queued
			}
			value := s.secrets.Digest("vault.breach\x00" + r.Candidate.Password)
			notify := r.Status == "breached" && notified != value
			if notify {
				notified = value
			}
			if _, err := tx.ExecContext(ctx, `UPDATE passwords SET breach_status = $1, breach_count = $2, breach_checked_at = $3,
				breach_notified = $4 WHERE id = $5`, r.Status, r.Count, now, notified, r.Candidate.ID); err != nil {
				return err
			}
			if notify {
				if err := s.RecordEvent(ctx, tx, EventOrg{r.Candidate.OrgID, orgName}, EventVaultBreach, map[string]any{
					"password_id": r.Candidate.ID, "title": title, "username": user, "url": url, "breach_count": r.Count}); err != nil {
					return err
				}
			}
		}
		return nil
	})
	s.changed("passwords")
	return wrap(err, "record breaches")
}
