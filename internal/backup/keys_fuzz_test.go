package backup

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

// secretKeyData matches the key material of an age secret key, in either
// case (bech32 is case-insensitive).
var secretKeyData = regexp.MustCompile(`(?i)AGE-SECRET-KEY-1([qpzry9x8gf2tvdw0s3jn54khce6mua7l]{8,})`)

// checkNoSecret fails if msg shows key material that input holds.
func checkNoSecret(t *testing.T, what, input, msg string) {
	t.Helper()
	for _, m := range secretKeyData.FindAllStringSubmatch(input, -1) {
		if strings.Contains(strings.ToLower(msg), strings.ToLower(m[1])) {
			t.Fatalf("%s(%q): the error shows secret key material: %s", what, input, msg)
		}
	}
}

// FuzzParseKeys feeds recipients files and flags (ParseRecipients) and
// identity files (ParseIdentities) with arbitrary text. Errors must never
// repeat secret key material, wherever it stands in the input; parsed
// recipients must round-trip through their string form.
func FuzzParseKeys(f *testing.F) {
	identity, recipient, err := GenerateIdentity()
	if err != nil {
		f.Fatal(err)
	}
	_, other, err := GenerateIdentity()
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{
		string(FormatIdentityFile(identity, recipient, time.Date(2026, 11, 23, 2, 0, 0, 0, time.UTC))),
		recipient, recipient + "," + other, "# comment\n\n" + recipient + "\r\n" + other + "\n", " , ," + recipient + ",",
		identity, " " + identity + " ", strings.ToLower(identity), "key=" + identity, recipient + "\t" + identity,
		recipient + " " + identity, "\ufeff" + identity, "age1pq1xyz", "age1", strings.ToUpper(recipient), "",
		"# only a comment", strings.Repeat("x", 70000) + "\n" + recipient,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		recs, err := ParseRecipients(strings.NewReader(s))
		if err != nil {
			checkNoSecret(t, "ParseRecipients", s, err.Error())
		} else {
			if len(recs) == 0 {
				t.Fatalf("ParseRecipients(%q) returned no recipient and no error", s)
			}
			for _, r := range recs {
				again, err := ParseRecipient(r.String())
				if err != nil || again.String() != r.String() {
					t.Fatalf("recipient %q from %q does not round-trip: %v", r, s, err)
				}
			}
		}
		if _, err := ParseRecipient(s); err != nil {
			checkNoSecret(t, "ParseRecipient", s, err.Error())
		}
		ids, err := ParseIdentities(strings.NewReader(s))
		if err != nil {
			checkNoSecret(t, "ParseIdentities", s, err.Error())
		} else if len(ids) == 0 {
			t.Fatalf("ParseIdentities(%q) returned no identity and no error", s)
		}
	})
}
