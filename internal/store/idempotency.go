package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"clientst0r/internal/apperr"
	"clientst0r/internal/db"
)

// IdempotencyWindow is how long an Idempotency-Key is remembered.
const IdempotencyWindow = 24 * time.Hour

// idempotencyStale is how long an unfinished request holds its key before another may take it over
// (the first one crashed or was cut off).
const idempotencyStale = 2 * time.Minute

// SavedResponse is a first response kept for replay.
type SavedResponse struct {
	Status   int
	Body     []byte
	Location string
}

var (
	errIdemInFlight = apperr.Conflictf("A request with this Idempotency-Key is still being processed.")
	errIdemMismatch = &apperr.Error{Kind: apperr.Invalid, Detail: "This Idempotency-Key was already used with a different request."}
)

// ClaimIdempotencyKey records that a request with (scope, key, request hash) has started. It returns
// the saved response when the same request already completed, an error when the key is in flight
// or was used for a different request, and (nil, nil) when the caller should go ahead.
func (s *Store) ClaimIdempotencyKey(ctx context.Context, scope, key, hash string) (*SavedResponse, error) {
	var saved *SavedResponse
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		now := s.Now()
		var (
			id        int64
			gotHash   string
			status    int
			body, loc string
			created   time.Time
		)
		err := tx.QueryRowContext(ctx, `SELECT id, request_hash, status_code, response_body, location, created_at
			FROM idempotency_keys WHERE scope = $1 AND key = $2`+s.forUpdate(), scope, key).
			Scan(&id, &gotHash, &status, &body, &loc, &created)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return err
		case now.Sub(created) >= IdempotencyWindow:
			if _, err := tx.ExecContext(ctx, `DELETE FROM idempotency_keys WHERE id = $1`, id); err != nil {
				return err
			}
		case gotHash != hash:
			return errIdemMismatch
		case status != 0:
			saved = &SavedResponse{Status: status, Body: []byte(body), Location: loc}
			return nil
		case now.Sub(created) < idempotencyStale:
			return errIdemInFlight
		default:
			_, err := tx.ExecContext(ctx, `UPDATE idempotency_keys SET created_at = $1 WHERE id = $2`, now, id)
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO idempotency_keys (scope, key, request_hash, created_at) VALUES ($1, $2, $3, $4)`,
			scope, key, hash, now)
		if _, ok := db.IsUnique(err); ok {
			return errIdemInFlight
		}
		return err
	})
	return saved, wrap(err, "claim idempotency key")
}

// CompleteIdempotencyKey saves the response of a claimed request, or releases the claim when the
// response is not worth replaying (a server error: the client should be able to try again).
func (s *Store) CompleteIdempotencyKey(ctx context.Context, scope, key string, r SavedResponse) error {
	var err error
	if r.Status >= 500 {
		_, err = s.db.W.ExecContext(ctx, `DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2`, scope, key)
	} else {
		_, err = s.db.W.ExecContext(ctx, `UPDATE idempotency_keys SET status_code = $1, response_body = $2, location = $3
			WHERE scope = $4 AND key = $5`, r.Status, string(r.Body), r.Location, scope, key)
	}
	return wrap(err, "complete idempotency key")
}
