-- +goose Up
-- Two-factor sign-in (TOTP, RFC 6238). The secret is sealed by the vault keyring, bound to
-- users/<column>/0/<user id>; totp_pending_ct holds a secret shown for enrolment until a code
-- confirms it. totp_last_step is the last time step accepted, so each code works once.
ALTER TABLE users ADD COLUMN totp_secret_ct BLOB;
ALTER TABLE users ADD COLUMN totp_pending_ct BLOB;
ALTER TABLE users ADD COLUMN totp_enabled_at TIMESTAMP;
ALTER TABLE users ADD COLUMN totp_last_step INTEGER NOT NULL DEFAULT 0;

-- An organization may require two-factor of every member (the installation may require it of all).
ALTER TABLE organizations ADD COLUMN require_two_factor BOOLEAN NOT NULL DEFAULT FALSE;

-- Sessions end after a period without use as well as at their absolute expiry.
ALTER TABLE sessions ADD COLUMN last_seen_at TIMESTAMP NOT NULL DEFAULT '1970-01-01 00:00:00+00:00';
UPDATE sessions SET last_seen_at = created_at;
CREATE INDEX sessions_last_seen_at ON sessions (last_seen_at);

-- One-time recovery codes, stored as digests like session tokens.
CREATE TABLE recovery_codes (
    id         INTEGER PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    digest     TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    used_at    TIMESTAMP
);
CREATE UNIQUE INDEX recovery_codes__user_digest_key ON recovery_codes (user_id, digest);

-- A sign-in between the password and the two-factor code: not a session, short-lived, with a
-- bounded number of attempts.
CREATE TABLE pending_logins (
    id         INTEGER PRIMARY KEY,
    digest     TEXT NOT NULL,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    ip_address TEXT NOT NULL DEFAULT '',
    user_agent TEXT NOT NULL DEFAULT '',
    attempts   INTEGER NOT NULL DEFAULT 0,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX pending_logins__digest_key ON pending_logins (digest);
CREATE INDEX pending_logins_user_id ON pending_logins (user_id);
CREATE INDEX pending_logins_expires_at ON pending_logins (expires_at);

-- +goose Down
DROP TABLE pending_logins;
DROP TABLE recovery_codes;
DROP INDEX sessions_last_seen_at;
ALTER TABLE sessions DROP COLUMN last_seen_at;
ALTER TABLE organizations DROP COLUMN require_two_factor;
ALTER TABLE users DROP COLUMN totp_last_step;
ALTER TABLE users DROP COLUMN totp_enabled_at;
ALTER TABLE users DROP COLUMN totp_pending_ct;
ALTER TABLE users DROP COLUMN totp_secret_ct;
