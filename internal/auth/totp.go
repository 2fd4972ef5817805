package auth

import (
	"bytes"
	"crypto/subtle"
	"errors"
	"fmt"
	"image/png"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

const (
	// TOTPPeriod is the TOTP time step in seconds.
	TOTPPeriod = 30
	// TOTPDigits is the length of a TOTP code.
	TOTPDigits = 6
	// MaxTOTPSkew bounds the skew CheckTOTP honours: 2 steps each way is a
	// minute of clock drift, and every step widens a guesser's window.
	MaxTOTPSkew = 2
	// totpSecretBytes is the secret size RFC 4226 recommends (160 bits).
	totpSecretBytes = 20
	// totpQRSize is the width and height of the QR code image in pixels.
	totpQRSize = 256
)

// totpOpts are the parameters every authenticator app supports: SHA-1, six
// digits, 30-second steps.
var totpOpts = totp.ValidateOpts{
	Period:    TOTPPeriod,
	Digits:    otp.DigitsSix,
	Algorithm: otp.AlgorithmSHA1,
}

// TOTPSetup is what a user needs to enrol an authenticator app.
type TOTPSetup struct {
	// Secret is the base32 shared secret (to type in, and to Seal for the
	// store; it is never stored in the clear).
	Secret string
	// URI is the otpauth:// key URI the QR code encodes.
	URI string
	// PNG is a 256×256 QR code of URI.
	PNG []byte
}

// NewTOTP generates a TOTP secret for account at issuer, the names an
// authenticator app shows. Neither may be empty or contain ':', which
// separates them in the key URI's label.
func NewTOTP(issuer, account string) (TOTPSetup, error) {
	if issuer == "" || account == "" || strings.Contains(issuer, ":") || strings.Contains(account, ":") {
		return TOTPSetup{}, errors.New("TOTP issuer and account name must be non-empty and must not contain ':'")
	}
	key, err := totp.Generate(totp.GenerateOpts{
		Issuer:      issuer,
		AccountName: account,
		Period:      TOTPPeriod,
		SecretSize:  totpSecretBytes,
		Digits:      otp.DigitsSix,
		Algorithm:   otp.AlgorithmSHA1,
	})
	if err != nil {
		return TOTPSetup{}, fmt.Errorf("generating TOTP secret: %w", err)
	}
	img, err := key.Image(totpQRSize, totpQRSize)
	if err != nil {
		return TOTPSetup{}, fmt.Errorf("drawing TOTP QR code: %w", err)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return TOTPSetup{}, fmt.Errorf("encoding TOTP QR code: %w", err)
	}
	return TOTPSetup{Secret: key.Secret(), URI: key.URL(), PNG: buf.Bytes()}, nil
}

// TOTPStep returns the time step of t: Unix seconds divided by TOTPPeriod.
func TOTPStep(t time.Time) int64 {
	s := t.Unix()
	step := s / TOTPPeriod
	if s < 0 && s%TOTPPeriod != 0 {
		step-- // floor, not truncation
	}
	return step
}

// CheckTOTP reports whether code is the TOTP code of secret for now's time
// step or one up to skew steps (at most MaxTOTPSkew) before or after it,
// and returns the step it matched, preferring now's step and then the
// nearest. The caller must record the step (store.AcceptStep) and refuse
// one not greater than the last, or a code could be replayed within its
// window. A code that is not exactly six ASCII digits, or a secret that is
// not base32, matches nothing. Every candidate is computed and compared in
// constant time.
func CheckTOTP(secret, code string, now time.Time, skew uint) (step int64, ok bool) {
	if len(code) != TOTPDigits {
		return 0, false
	}
	for i := 0; i < len(code); i++ {
		if code[i] < '0' || code[i] > '9' {
			return 0, false
		}
	}
	if skew > MaxTOTPSkew {
		skew = MaxTOTPSkew
	}
	base := TOTPStep(now)
	// Candidates in order of preference: now, now-1, now+1, now-2, ...
	candidates := make([]int64, 0, 2*skew+1)
	candidates = append(candidates, base)
	for i := int64(1); i <= int64(skew); i++ {
		candidates = append(candidates, base-i, base+i)
	}
	matched := false
	for _, s := range candidates {
		if s < 0 {
			continue
		}
		want, err := totp.GenerateCodeCustom(secret, time.Unix(s*TOTPPeriod, 0), totpOpts)
		if err != nil {
			return 0, false
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 && !matched {
			step, matched = s, true
		}
	}
	return step, matched
}
