package auth

import (
	"bytes"
	"encoding/base32"
	"image/png"
	"net/url"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"
)

// rfcSecret is the SHA-1 seed of RFC 6238's test vectors,
// "12345678901234567890", in base32.
const rfcSecret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"

func TestCheckTOTPRFC6238Vectors(t *testing.T) {
	// RFC 6238 appendix B, SHA-1, last six of the eight digits.
	tests := []struct {
		unix int64
		code string
	}{
		{59, "287082"},
		{1111111109, "081804"},
		{1111111111, "050471"},
		{1234567890, "005924"},
		{2000000000, "279037"},
		{20000000000, "353130"},
	}
	for _, tt := range tests {
		step, ok := CheckTOTP(rfcSecret, tt.code, time.Unix(tt.unix, 0), 0)
		if !ok || step != tt.unix/30 {
			t.Errorf("T=%d code %s: step %d, ok %v; want %d, true", tt.unix, tt.code, step, ok, tt.unix/30)
		}
	}
}

// codeAt is the code of secret at t, from the library itself.
func codeAt(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(secret, at, totpOpts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCheckTOTPWindow(t *testing.T) {
	const secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
	now := time.Unix(1_700_000_015, 0) // the middle of a step
	base := now.Unix() / 30
	at := func(steps int64) string { return codeAt(t, secret, now.Add(time.Duration(steps)*30*time.Second)) }

	// Precondition: the codes of the steps used here are all different, or
	// a "refused" case could pass by coincidence.
	seen := map[string]int64{}
	for s := int64(-4); s <= 4; s++ {
		if prev, dup := seen[at(s)]; dup {
			t.Fatalf("steps %d and %d share a code; pick another secret", prev, s)
		}
		seen[at(s)] = s
	}

	tests := []struct {
		name     string
		code     string
		skew     uint
		wantOK   bool
		wantStep int64
	}{
		{"current step, no skew", at(0), 0, true, base},
		{"previous step, no skew", at(-1), 0, false, 0},
		{"current step, skew 1", at(0), 1, true, base},
		{"previous step, skew 1", at(-1), 1, true, base - 1},
		{"next step, skew 1", at(1), 1, true, base + 1},
		{"two back, skew 1", at(-2), 1, false, 0},
		{"two ahead, skew 1", at(2), 1, false, 0},
		{"two back, skew 2", at(-2), 2, true, base - 2},
		{"three back, skew 10 is capped at MaxTOTPSkew", at(-3), 10, false, 0},
		{"two ahead, skew 10", at(2), 10, true, base + 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			step, ok := CheckTOTP(secret, tt.code, now, tt.skew)
			if ok != tt.wantOK || step != tt.wantStep {
				t.Fatalf("CheckTOTP = %d, %v; want %d, %v", step, ok, tt.wantStep, tt.wantOK)
			}
		})
	}
}

func TestCheckTOTPStepBoundaries(t *testing.T) {
	const secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
	start := time.Unix(1_700_000_010, 0) // a multiple of 30
	code := codeAt(t, secret, start)
	for _, off := range []time.Duration{0, 29*time.Second + 999*time.Millisecond} {
		step, ok := CheckTOTP(secret, code, start.Add(off), 0)
		if !ok || step != start.Unix()/30 {
			t.Errorf("at +%v: %d, %v; want %d, true", off, step, ok, start.Unix()/30)
		}
	}
	next := start.Add(30 * time.Second)
	if code == codeAt(t, secret, next) {
		t.Fatal("precondition: consecutive steps share a code; pick another time")
	}
	if _, ok := CheckTOTP(secret, code, next, 0); ok {
		t.Error("code accepted in the next step without skew")
	}
	if got := TOTPStep(start.Add(-time.Nanosecond)); got != start.Unix()/30-1 {
		t.Errorf("TOTPStep just before a boundary = %d", got)
	}
	if got := TOTPStep(time.Unix(-1, 0)); got != -1 {
		t.Errorf("TOTPStep(-1s) = %d, want -1 (floor)", got)
	}
}

func TestCheckTOTPRejectsMalformed(t *testing.T) {
	const secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
	now := time.Unix(1_700_000_015, 0)
	good := codeAt(t, secret, now)
	tests := map[string]struct{ secret, code string }{
		"five digits":          {secret, good[:5]},
		"seven digits":         {secret, good + "0"},
		"leading space":        {secret, " " + good[:5]},
		"trailing newline":     {secret, good[:5] + "\n"},
		"space inside":         {secret, good[:3] + " " + good[3:]},
		"letter":               {secret, good[:5] + "a"},
		"Arabic-Indic digits":  {secret, "١٢٣٤٥٦"},
		"full-width digits":    {secret, "１２３４５６"},
		"signed number":        {secret, "+12345"},
		"empty":                {secret, ""},
		"secret not base32":    {"not base32!", good},
		"empty secret, a code": {"", good},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if step, ok := CheckTOTP(tt.secret, tt.code, now, 1); ok || step != 0 {
				t.Fatalf("CheckTOTP(%q) = %d, %v; want 0, false", tt.code, step, ok)
			}
		})
	}
	// Before 1970 there are no steps to match.
	if _, ok := CheckTOTP(secret, codeAt(t, secret, time.Unix(0, 0)), time.Unix(-31, 0), 1); ok {
		t.Error("a code matched a negative step")
	}
}

func TestNewTOTP(t *testing.T) {
	setup, err := NewTOTP("RepairX", "alice@example.com")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(setup.Secret)
	if err != nil || len(raw) != totpSecretBytes {
		t.Fatalf("secret %d bytes, %v; want %d", len(raw), err, totpSecretBytes)
	}
	u, err := url.Parse(setup.URI)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if u.Scheme != "otpauth" || u.Host != "totp" || u.Path != "/RepairX:alice@example.com" {
		t.Errorf("URI %s: wrong scheme, type or label", setup.URI)
	}
	for k, want := range map[string]string{"secret": setup.Secret, "issuer": "RepairX", "algorithm": "SHA1", "digits": "6", "period": "30"} {
		if q.Get(k) != want {
			t.Errorf("URI %s = %q, want %q", k, q.Get(k), want)
		}
	}
	img, err := png.Decode(bytes.NewReader(setup.PNG))
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 256 || b.Dy() != 256 {
		t.Errorf("QR code is %dx%d, want 256x256", b.Dx(), b.Dy())
	}
	now := time.Unix(1_700_000_000, 0)
	if _, ok := CheckTOTP(setup.Secret, codeAt(t, setup.Secret, now), now, 0); !ok {
		t.Error("the new secret's own code is refused")
	}

	other, err := NewTOTP("RepairX", "alice@example.com")
	if err != nil || other.Secret == setup.Secret {
		t.Fatalf("two setups share a secret (%v)", err)
	}

	for _, bad := range [][2]string{{"", "alice"}, {"RepairX", ""}, {"Repair:X", "alice"}, {"RepairX", "al:ice"}} {
		if _, err := NewTOTP(bad[0], bad[1]); err == nil {
			t.Errorf("NewTOTP(%q, %q) succeeded", bad[0], bad[1])
		}
	}
}
