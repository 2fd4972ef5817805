-- Named values shared by every node (the sealed key ring). The store never
-- sees their plaintext.
CREATE TABLE blobs (
	name       TEXT    PRIMARY KEY,
	value      BLOB    NOT NULL,
	updated_at INTEGER NOT NULL
) STRICT;
