-- The initial schema of the shared store: the same tables as the embedded
-- store's 0001_init.sql, in PostgreSQL's types.
--
-- Times are TIMESTAMPTZ (microseconds, as the store interface promises; the
-- application always passes them, the database never reads its clock), NULL
-- where the Go field is a nil pointer or the zero time. Only
-- schema_migrations, which the migration runner shares with SQLite, keeps
-- Unix microseconds in a BIGINT.
--
-- Text that is sorted or paged (organisation names, e-mail addresses) and
-- every key column is COLLATE "C": byte order, as the interface demands and
-- Go compares strings, whatever the database's default collation, and
-- comparisons by memcmp rather than by locale.
--
-- Never edit this file once released: add 0002_*.sql instead (the runner
-- refuses a changed checksum).

CREATE TABLE organisations (
	id         TEXT COLLATE "C" PRIMARY KEY,
	name       TEXT COLLATE "C" NOT NULL CONSTRAINT organisations_name_key UNIQUE,
	created_at TIMESTAMPTZ      NOT NULL
);

CREATE TABLE users (
	id                 TEXT COLLATE "C" PRIMARY KEY,
	org_id             TEXT COLLATE "C" NOT NULL REFERENCES organisations (id),
	email              TEXT COLLATE "C" NOT NULL CONSTRAINT users_email_key UNIQUE,
	password_hash      TEXT             NOT NULL,
	role               TEXT             NOT NULL CHECK (role IN ('customer', 'technician', 'manager', 'admin', 'owner')),
	disabled           BOOLEAN          NOT NULL DEFAULT false,
	two_factor_enabled BOOLEAN          NOT NULL DEFAULT false,
	created_at         TIMESTAMPTZ      NOT NULL,
	updated_at         TIMESTAMPTZ      NOT NULL
);

-- ListUsers of one organisation, in e-mail order (users_email_key serves
-- the listing of all).
CREATE INDEX users_org_email ON users (org_id, email);

CREATE TABLE totp (
	user_id           TEXT COLLATE "C" PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
	secret_ciphertext BYTEA            NOT NULL,
	key_id            TEXT             NOT NULL,
	enabled           BOOLEAN          NOT NULL DEFAULT false,
	last_step         BIGINT           NOT NULL DEFAULT 0,
	created_at        TIMESTAMPTZ      NOT NULL,
	enabled_at        TIMESTAMPTZ
);

CREATE TABLE backup_codes (
	user_id   TEXT COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	code_hash BYTEA            NOT NULL,
	used      BOOLEAN          NOT NULL DEFAULT false,
	PRIMARY KEY (user_id, code_hash)
);

-- seq is the insertion order, which breaks ties of created_at in
-- ListRefreshTokens as SQLite's rowid does.
CREATE TABLE refresh_tokens (
	id         TEXT COLLATE "C" PRIMARY KEY,
	seq        BIGINT           GENERATED ALWAYS AS IDENTITY,
	user_id    TEXT COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	family_id  TEXT COLLATE "C" NOT NULL,
	token_hash BYTEA            NOT NULL CONSTRAINT refresh_tokens_hash_key UNIQUE,
	expires_at TIMESTAMPTZ      NOT NULL,
	created_at TIMESTAMPTZ      NOT NULL,
	used_at    TIMESTAMPTZ,
	revoked_at TIMESTAMPTZ
);

CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id, created_at, seq);
CREATE INDEX refresh_tokens_expires ON refresh_tokens (expires_at);

-- Keyed by user id or another key the server chooses: no foreign key, so
-- that logins for unknown addresses can be counted the same way.
CREATE TABLE lockouts (
	user_id         TEXT COLLATE "C" PRIMARY KEY,
	failed_count    INTEGER          NOT NULL DEFAULT 0,
	lockout_count   INTEGER          NOT NULL DEFAULT 0,
	locked_until    TIMESTAMPTZ,
	last_failure_at TIMESTAMPTZ
);

-- Audit rows outlive what they name: no foreign keys. details is JSON, not
-- JSONB: it keeps the text as written (key order, and \u0000, which JSONB
-- refuses), so no event is lost to its details. id is the insertion order
-- that breaks ties of timestamp.
CREATE TABLE audit_events (
	id         BIGINT           GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	timestamp  TIMESTAMPTZ      NOT NULL,
	user_id    TEXT COLLATE "C" NOT NULL DEFAULT '',
	ip         TEXT             NOT NULL DEFAULT '',
	user_agent TEXT             NOT NULL DEFAULT '',
	action     TEXT COLLATE "C" NOT NULL,
	resource   TEXT             NOT NULL DEFAULT '',
	result     TEXT             NOT NULL DEFAULT '',
	details    JSON
);

-- Newest first, optionally by user or action: each index is read backwards.
CREATE INDEX audit_events_time ON audit_events (timestamp, id);
CREATE INDEX audit_events_user_time ON audit_events (user_id, timestamp, id);
CREATE INDEX audit_events_action_time ON audit_events (action, timestamp, id);
