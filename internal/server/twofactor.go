package server

import (
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"

	"github.com/repairx/repairxctl/internal/audit"
	"github.com/repairx/repairxctl/internal/auth"
	"github.com/repairx/repairxctl/internal/server/decode"
	"github.com/repairx/repairxctl/internal/store"
)

// backupCodeCount is how many single-use backup codes verify hands out.
const backupCodeCount = 10

type setupResponse struct {
	Secret     string `json:"secret"`
	OTPAuthURI string `json:"otpauthUri"`
	// QRCodePNG is the otpauth URI as a QR code, a base64 PNG.
	QRCodePNG string `json:"qrCodePng"`
}

type codeRequest struct {
	Code string `json:"code"`
}

func (s *Server) handle2FASetup(w http.ResponseWriter, r *http.Request, p principal) {
	if p.user.TwoFactorEnabled {
		writeError(w, r, http.StatusConflict, "2fa_enabled", "two-factor authentication is already on: disable it first")
		return
	}
	setup, err := auth.NewTOTP(s.opts.Issuer, p.user.Email)
	if err != nil {
		s.internalError(w, r, "generating a TOTP secret", err)
		return
	}
	ct, keyID, err := auth.Seal(s.opts.Keys.Keys().Data, []byte(setup.Secret), []byte(p.user.ID))
	if err != nil {
		s.internalError(w, r, "sealing a TOTP secret", err)
		return
	}
	if err := s.opts.Store.SaveTOTPSecret(r.Context(), p.user.ID, ct, keyID, s.now()); err != nil {
		if errors.Is(err, store.ErrConflict) {
			writeError(w, r, http.StatusConflict, "2fa_enabled", "two-factor authentication is already on: disable it first")
			return
		}
		s.internalError(w, r, "saving a TOTP secret", err)
		return
	}
	s.audit(r, audit.Event{UserID: p.user.ID, Action: audit.ActionTwoFactorSetup, Resource: "user:" + p.user.ID, Result: audit.ResultSuccess})
	writeJSON(w, http.StatusOK, setupResponse{
		Secret: setup.Secret, OTPAuthURI: setup.URI, QRCodePNG: base64.StdEncoding.EncodeToString(setup.PNG),
	})
}

func (s *Server) decodeCode(w http.ResponseWriter, r *http.Request) (string, bool) {
	var req codeRequest
	if err := decode.JSON(w, r, &req, s.opts.MaxBodyBytes); err != nil {
		writeDecodeError(w, r, err)
		return "", false
	}
	if err := decode.Digits("code", req.Code, 6); err != nil {
		writeDecodeError(w, r, err)
		return "", false
	}
	return req.Code, true
}

// handle2FAVerify enables 2FA with the first code from the app, hands out
// the backup codes once, ends every other session of the user (they were
// started without the second factor) and renews this one with MFA.
func (s *Server) handle2FAVerify(w http.ResponseWriter, r *http.Request, p principal) {
	code, ok := s.decodeCode(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	if p.user.TwoFactorEnabled {
		writeError(w, r, http.StatusConflict, "2fa_enabled", "two-factor authentication is already on")
		return
	}
	ok, err := s.checkTOTP(ctx, p.user.ID, code, s.now())
	if err != nil {
		s.internalError(w, r, "checking a TOTP code", err)
		return
	}
	if !ok {
		if _, err := s.opts.Store.TOTPState(ctx, p.user.ID); errors.Is(err, store.ErrNotFound) {
			writeError(w, r, http.StatusConflict, "2fa_not_set_up", "set up two-factor authentication first: "+path2FASetup)
			return
		}
		s.audit(r, audit.Event{UserID: p.user.ID, Action: audit.ActionTwoFactorVerify, Resource: "user:" + p.user.ID, Result: audit.ResultFailure})
		writeError(w, r, http.StatusUnauthorized, "invalid_2fa", "invalid two-factor code")
		return
	}
	codes, hashes, err := auth.NewBackupCodes(backupCodeCount)
	if err != nil {
		s.internalError(w, r, "generating backup codes", err)
		return
	}
	now := s.now()
	if err := s.opts.Store.EnableTOTP(ctx, p.user.ID, hashes, now); err != nil {
		if errors.Is(err, store.ErrConflict) {
			writeError(w, r, http.StatusConflict, "2fa_enabled", "two-factor authentication is already on")
			return
		}
		s.internalError(w, r, "enabling 2FA", err)
		return
	}
	// Sessions started before enrolment did not show the second factor.
	if _, err := s.opts.Store.RevokeUserRefreshTokens(ctx, p.user.ID, now); err != nil {
		s.internalError(w, r, "ending earlier sessions", err)
		return
	}
	s.revokeSession(ctx, p.claims.SessionID)
	u := p.user
	u.TwoFactorEnabled = true
	resp, err := s.startSession(w, r, u, "", true)
	if err != nil {
		s.internalError(w, r, "starting a session", err)
		return
	}
	resp.BackupCodes = codes
	s.audit(r, audit.Event{UserID: u.ID, Action: audit.ActionTwoFactorVerify, Resource: "user:" + u.ID, Result: audit.ResultSuccess,
		Details: map[string]any{"backupCodes": len(codes)}})
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) handle2FADisable(w http.ResponseWriter, r *http.Request, p principal) {
	code, ok := s.decodeCode(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	if !p.user.TwoFactorEnabled {
		writeError(w, r, http.StatusConflict, "2fa_not_enabled", "two-factor authentication is off")
		return
	}
	// Guessing the code to switch 2FA off counts like guessing a password:
	// the same lockout, so a stolen session cannot try a million codes.
	now := s.now()
	lock, err := s.opts.Store.Lockout(ctx, p.user.ID)
	if err != nil {
		s.internalError(w, r, "reading the lockout", err)
		return
	}
	if lock.Locked(now) {
		w.Header().Set("Retry-After", strconv.Itoa(int(lock.LockedUntil.Sub(now).Seconds())+1))
		writeError(w, r, http.StatusLocked, "account_locked", "too many failed attempts: try again later")
		return
	}
	ok, err = s.checkTOTP(ctx, p.user.ID, code, now)
	if err != nil {
		s.internalError(w, r, "checking a TOTP code", err)
		return
	}
	if !ok {
		if _, err := s.opts.Store.RecordFailure(ctx, p.user.ID, now, s.opts.Lockout); err != nil {
			s.log.ErrorContext(r.Context(), "recording a failed code", "request_id", state(r).id, "error", err.Error())
		}
		s.audit(r, audit.Event{UserID: p.user.ID, Action: audit.ActionTwoFactorDisable, Resource: "user:" + p.user.ID, Result: audit.ResultFailure})
		writeError(w, r, http.StatusUnauthorized, "invalid_2fa", "invalid two-factor code")
		return
	}
	if err := s.opts.Store.DisableTOTP(ctx, p.user.ID, s.now()); err != nil {
		s.internalError(w, r, "disabling 2FA", err)
		return
	}
	s.audit(r, audit.Event{UserID: p.user.ID, Action: audit.ActionTwoFactorDisable, Resource: "user:" + p.user.ID, Result: audit.ResultSuccess})
	w.WriteHeader(http.StatusNoContent)
}
