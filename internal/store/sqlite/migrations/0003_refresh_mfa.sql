-- Whether a session was started with a second factor, carried through
-- every rotation (refresh must not derive it from the user's state now).
ALTER TABLE refresh_tokens ADD COLUMN mfa INTEGER NOT NULL DEFAULT 0 CHECK (mfa IN (0, 1));
