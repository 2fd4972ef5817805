-- Whether a session was started with a second factor, carried through
-- every rotation (refresh must not derive it from the user's state now).
ALTER TABLE refresh_tokens ADD COLUMN mfa BOOLEAN NOT NULL DEFAULT false;
