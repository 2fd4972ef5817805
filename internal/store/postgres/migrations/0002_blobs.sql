-- Named values shared by every node (the sealed key ring). The store never
-- sees their plaintext.
CREATE TABLE blobs (
	name       TEXT COLLATE "C" PRIMARY KEY,
	value      BYTEA            NOT NULL,
	updated_at TIMESTAMPTZ      NOT NULL
);
