-- The initial schema of the embedded store. Times are INTEGER Unix
-- microseconds (UTC); NULL where the Go field is a nil pointer or zero time.
-- Booleans are INTEGER 0/1. Never edit this file once released: add
-- 0002_*.sql instead (the runner refuses a changed checksum).

CREATE TABLE organisations (
	id         TEXT    PRIMARY KEY,
	name       TEXT    NOT NULL UNIQUE,
	created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE users (
	id                 TEXT    PRIMARY KEY,
	org_id             TEXT    NOT NULL REFERENCES organisations (id),
	email              TEXT    NOT NULL UNIQUE,
	password_hash      TEXT    NOT NULL,
	role               TEXT    NOT NULL CHECK (role IN ('customer', 'technician', 'manager', 'admin', 'owner')),
	disabled           INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
	two_factor_enabled INTEGER NOT NULL DEFAULT 0 CHECK (two_factor_enabled IN (0, 1)),
	created_at         INTEGER NOT NULL,
	updated_at         INTEGER NOT NULL
) STRICT;

CREATE INDEX users_org_email ON users (org_id, email);

CREATE TABLE totp (
	user_id           TEXT    PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
	secret_ciphertext BLOB    NOT NULL,
	key_id            TEXT    NOT NULL,
	enabled           INTEGER NOT NULL DEFAULT 0 CHECK (enabled IN (0, 1)),
	last_step         INTEGER NOT NULL DEFAULT 0,
	created_at        INTEGER NOT NULL,
	enabled_at        INTEGER
) STRICT;

CREATE TABLE backup_codes (
	user_id   TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	code_hash BLOB    NOT NULL,
	used      INTEGER NOT NULL DEFAULT 0 CHECK (used IN (0, 1)),
	PRIMARY KEY (user_id, code_hash)
) STRICT, WITHOUT ROWID;

CREATE TABLE refresh_tokens (
	id         TEXT    PRIMARY KEY,
	user_id    TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	family_id  TEXT    NOT NULL,
	token_hash BLOB    NOT NULL UNIQUE,
	expires_at INTEGER NOT NULL,
	created_at INTEGER NOT NULL,
	used_at    INTEGER,
	revoked_at INTEGER
) STRICT;

CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id, created_at);
CREATE INDEX refresh_tokens_expires ON refresh_tokens (expires_at);

-- Keyed by user id or another key the server chooses: no foreign key, so
-- that logins for unknown addresses can be counted the same way.
CREATE TABLE lockouts (
	user_id         TEXT    PRIMARY KEY,
	failed_count    INTEGER NOT NULL DEFAULT 0,
	lockout_count   INTEGER NOT NULL DEFAULT 0,
	locked_until    INTEGER,
	last_failure_at INTEGER
) STRICT;

-- Audit rows outlive what they name: no foreign keys.
CREATE TABLE audit_events (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	timestamp  INTEGER NOT NULL,
	user_id    TEXT    NOT NULL DEFAULT '',
	ip         TEXT    NOT NULL DEFAULT '',
	user_agent TEXT    NOT NULL DEFAULT '',
	action     TEXT    NOT NULL,
	resource   TEXT    NOT NULL DEFAULT '',
	result     TEXT    NOT NULL DEFAULT '',
	details    TEXT
) STRICT;

CREATE INDEX audit_events_time ON audit_events (timestamp);
CREATE INDEX audit_events_user_time ON audit_events (user_id, timestamp);
CREATE INDEX audit_events_action_time ON audit_events (action, timestamp);
