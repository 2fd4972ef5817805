package auth

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

var keyIDPattern = regexp.MustCompile(`^[0-9a-f]{16}$`)

func TestLoadOrCreateKeysCreatesThenLoads(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data", "repairxctl")
	path := filepath.Join(dir, "keys.json")

	k1, created, err := LoadOrCreateKeys(path, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if !created {
		t.Fatal("first call: created = false")
	}
	if err := k1.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, k := range map[string]Key{"signing": k1.Signing.Current, "data": k1.Data.Current} {
		if !keyIDPattern.MatchString(k.ID) {
			t.Errorf("%s key id %q is not 16 hex digits", name, k.ID)
		}
		if len(k.Secret) != KeySize || bytes.Equal(k.Secret, make([]byte, KeySize)) {
			t.Errorf("%s key secret is not %d random bytes", name, KeySize)
		}
		if !k.Created.Equal(testNow) {
			t.Errorf("%s key created %v, want %v", name, k.Created, testNow)
		}
	}
	if bytes.Equal(k1.Signing.Current.Secret, k1.Data.Current.Secret) {
		t.Fatal("signing and data keys share a secret")
	}

	if fi := mustStat(t, path); fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %04o, want 0600", fi.Mode().Perm())
	}
	if fi := mustStat(t, dir); fi.Mode().Perm() != 0o700 {
		t.Fatalf("key directory mode %04o, want 0700", fi.Mode().Perm())
	}
	assertOnlyFile(t, dir, "keys.json")

	// The file is the documented format.
	var raw map[string]any
	if err := json.Unmarshal(mustRead(t, path), &raw); err != nil {
		t.Fatal(err)
	}
	if raw["format_version"] != float64(KeyFileVersion) {
		t.Fatalf("format_version = %v", raw["format_version"])
	}
	sec := raw["signing"].(map[string]any)["current"].(map[string]any)["secret"].(string)
	if got, _ := base64.StdEncoding.DecodeString(sec); !bytes.Equal(got, k1.Signing.Current.Secret) {
		t.Fatal("signing secret in the file is not the base64 of the key")
	}

	later := testNow.Add(time.Hour)
	k2, created, err := LoadOrCreateKeys(path, later)
	if err != nil {
		t.Fatal(err)
	}
	if created {
		t.Fatal("second call: created = true")
	}
	if !reflect.DeepEqual(normaliseKeys(k1), normaliseKeys(k2)) {
		t.Fatalf("reloaded keys differ:\n%#v\n%#v", k1, k2)
	}
}

// normaliseKeys makes empty and nil Previous compare equal.
func normaliseKeys(k *Keys) Keys {
	c := *k
	for _, ks := range []*KeySet{&c.Signing, &c.Data} {
		if len(ks.Previous) == 0 {
			ks.Previous = nil
		}
	}
	return c
}

func TestLoadOrCreateKeysRefusesLoosePermissions(t *testing.T) {
	for _, mode := range []os.FileMode{0o640, 0o604, 0o644, 0o660, 0o666, 0o610} {
		t.Run(fmt.Sprintf("%04o", mode), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "keys.json")
			if _, _, err := LoadOrCreateKeys(path, testNow); err != nil {
				t.Fatal(err)
			}
			before := mustRead(t, path)
			if err := os.Chmod(path, mode); err != nil {
				t.Fatal(err)
			}
			_, _, err := LoadOrCreateKeys(path, testNow)
			if err == nil || !strings.Contains(err.Error(), "chmod 600 "+path) {
				t.Fatalf("err = %v, want one telling to chmod 600 %s", err, path)
			}
			if !bytes.Equal(before, mustRead(t, path)) {
				t.Fatal("key file changed")
			}
		})
	}
}

func TestLoadOrCreateKeysRefusesWritableDirectory(t *testing.T) {
	for _, mode := range []os.FileMode{0o770, 0o702, 0o777} {
		t.Run(fmt.Sprintf("%04o", mode), func(t *testing.T) {
			dir := t.TempDir()
			if err := os.Chmod(dir, mode); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, "keys.json")
			_, _, err := LoadOrCreateKeys(path, testNow)
			if err == nil || !strings.Contains(err.Error(), "chmod 700 "+dir) {
				t.Fatalf("err = %v, want one telling to chmod 700 %s", err, dir)
			}
			if _, err := os.Stat(path); !os.IsNotExist(err) {
				t.Fatalf("key file was created in a writable directory (stat: %v)", err)
			}
		})
	}
	// Readable (but not writable) by others is accepted: the file's own
	// mode protects it.
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadOrCreateKeys(filepath.Join(dir, "keys.json"), testNow); err != nil {
		t.Fatalf("0755 directory: %v", err)
	}
}

func TestLoadOrCreateKeysCorruptFile(t *testing.T) {
	good, err := NewKeys(testNow)
	if err != nil {
		t.Fatal(err)
	}
	goodJSON := func(edit func(m map[string]any)) string {
		var m map[string]any
		b, _ := json.Marshal(keyFile{FormatVersion: 1, Signing: toFile(good.Signing), Data: toFile(good.Data)})
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		edit(m)
		out, _ := json.Marshal(m)
		return string(out)
	}
	signingCurrent := func(m map[string]any) map[string]any {
		return m["signing"].(map[string]any)["current"].(map[string]any)
	}
	full := goodJSON(func(map[string]any) {})

	tests := []struct {
		name    string
		content string
		want    string
	}{
		{"empty file", "", "corrupt"},
		{"not JSON", "this is not json", "corrupt"},
		{"truncated", full[:len(full)/2], "corrupt"},
		{"trailing garbage", full + "}", "corrupt"},
		{"JSON array", "[]", "corrupt"},
		{"no format version", goodJSON(func(m map[string]any) { delete(m, "format_version") }), "format_version 0"},
		{"future format version", goodJSON(func(m map[string]any) { m["format_version"] = 2 }), "format_version 2"},
		{"short secret", goodJSON(func(m map[string]any) {
			signingCurrent(m)["secret"] = base64.StdEncoding.EncodeToString(make([]byte, 16))
		}), "secret is 16 bytes"},
		{"bad base64", goodJSON(func(m map[string]any) { signingCurrent(m)["secret"] = "!!!notbase64!!!" }), "base64"},
		{"secret of wrong type", goodJSON(func(m map[string]any) { signingCurrent(m)["secret"] = 42 }), "wrong type"},
		{"empty key id", goodJSON(func(m map[string]any) { signingCurrent(m)["id"] = "" }), "key id"},
		{"key id with a slash", goodJSON(func(m map[string]any) { signingCurrent(m)["id"] = "a/b" }), "key id"},
		{"no data key", goodJSON(func(m map[string]any) { delete(m, "data") }), "data.current"},
		{"duplicate key id", goodJSON(func(m map[string]any) {
			s := m["signing"].(map[string]any)
			s["previous"] = []any{s["current"]}
		}), "duplicate key id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "keys.json")
			if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			k, created, err := LoadOrCreateKeys(path, testNow)
			if err == nil || k != nil || created {
				t.Fatalf("LoadOrCreateKeys = %v, %v, %v; want an error", k, created, err)
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), path) {
				t.Fatalf("err = %q, want it to name %s and say %q", err, path, tt.want)
			}
			assertNoSecret(t, err.Error(), good.Signing.Current.Secret, good.Data.Current.Secret)
			if got := string(mustRead(t, path)); got != tt.content {
				t.Fatal("a corrupt key file was modified")
			}
			assertOnlyFile(t, filepath.Dir(path), "keys.json")
		})
	}
}

func TestLoadOrCreateKeysNotARegularFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys.json")
	if err := os.Mkdir(path, 0o700); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadOrCreateKeys(path, testNow); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Fatalf("err = %v, want 'not a regular file'", err)
	}
}

func TestLoadOrCreateKeysConcurrentCreate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys.json")
	const n = 16
	var (
		wg      sync.WaitGroup
		results [n]*Keys
		creates [n]bool
		errs    [n]error
	)
	for i := range n {
		wg.Go(func() { results[i], creates[i], errs[i] = LoadOrCreateKeys(path, testNow) })
	}
	wg.Wait()
	created := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("call %d: %v", i, errs[i])
		}
		if creates[i] {
			created++
		}
		if !reflect.DeepEqual(normaliseKeys(results[i]), normaliseKeys(results[0])) {
			t.Fatalf("call %d got different keys from call 0", i)
		}
	}
	if created != 1 {
		t.Fatalf("%d calls report creating the file, want 1", created)
	}
	onDisk, _, err := LoadOrCreateKeys(path, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(normaliseKeys(onDisk), normaliseKeys(results[0])) {
		t.Fatal("the file holds other keys than the callers got")
	}
	assertOnlyFile(t, filepath.Dir(path), "keys.json")
}

func TestSaveKeysRotation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys.json")
	k, _, err := LoadOrCreateKeys(path, testNow)
	if err != nil {
		t.Fatal(err)
	}
	old := k.Signing.Current
	next, err := NewKey(testNow.Add(24 * time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	rotated := &Keys{Signing: k.Signing.Rotate(next), Data: k.Data}
	if err := SaveKeys(path, rotated); err != nil {
		t.Fatal(err)
	}
	got, created, err := LoadOrCreateKeys(path, testNow)
	if err != nil || created {
		t.Fatalf("reload: %v, created=%v", err, created)
	}
	if got.Signing.Current.ID != next.ID || len(got.Signing.Previous) != 1 || got.Signing.Previous[0].ID != old.ID {
		t.Fatalf("after rotation current=%s previous=%v; want %s, [%s]", got.Signing.Current.ID, got.Signing.Previous, next.ID, old.ID)
	}
	if !got.Signing.Previous[0].Created.Equal(old.Created) {
		t.Fatal("previous key lost its creation time")
	}
	if fi := mustStat(t, path); fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode after SaveKeys %04o, want 0600", fi.Mode().Perm())
	}
	assertOnlyFile(t, filepath.Dir(path), "keys.json")

	// A second rotation puts the newest replaced key first.
	third, _ := NewKey(testNow)
	r2 := got.Signing.Rotate(third)
	if ids := []string{r2.Current.ID, r2.Previous[0].ID, r2.Previous[1].ID}; !reflect.DeepEqual(ids, []string{third.ID, next.ID, old.ID}) {
		t.Fatalf("order after two rotations %v", ids)
	}
	if len(got.Signing.Previous) != 1 {
		t.Fatal("Rotate modified the receiver's Previous")
	}

	bad := &Keys{Signing: KeySet{Current: Key{ID: "x", Secret: []byte("short")}}, Data: k.Data}
	if err := SaveKeys(path, bad); err == nil {
		t.Fatal("SaveKeys accepted a short key")
	}
	if got2, _, err := LoadOrCreateKeys(path, testNow); err != nil || got2.Signing.Current.ID != next.ID {
		t.Fatal("a refused SaveKeys changed the file")
	}
}

func TestKeySetLookup(t *testing.T) {
	ks := KeySet{Current: testKey("cur", 1), Previous: []Key{testKey("p1", 2), testKey("p2", 3)}}
	tests := []struct {
		id     string
		wantOK bool
		secret byte
	}{
		{"cur", true, 1},
		{"p1", true, 2},
		{"p2", true, 3},
		{"", false, 0},
		{"CUR", false, 0},
		{"p3", false, 0},
	}
	for _, tt := range tests {
		k, ok := ks.Lookup(tt.id)
		if ok != tt.wantOK || (ok && (k.ID != tt.id || k.Secret[0] != tt.secret)) {
			t.Errorf("Lookup(%q) = %v, %v", tt.id, k.ID, ok)
		}
	}
	if _, ok := (KeySet{}).Lookup(""); ok {
		t.Error("the zero KeySet found a key with an empty id")
	}
}

func TestKeysNeverPrintSecrets(t *testing.T) {
	k := &Keys{
		Signing: KeySet{Current: testKey("sig-current", 0xa1), Previous: []Key{testKey("sig-old", 0xa2)}},
		Data:    KeySet{Current: testKey("data-current", 0xa3)},
	}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("keys", "key", k.Signing.Current, "previous", k.Signing.Previous[0])
	outputs := map[string]string{
		"%v":    fmt.Sprintf("%v", *k),
		"%+v":   fmt.Sprintf("%+v", *k),
		"%#v":   fmt.Sprintf("%#v", k.Signing.Current),
		"%s":    fmt.Sprintf("%s", k.Data.Current),
		"slog":  logged.String(),
		"error": fmt.Errorf("wrapped %v", k.Data.Current).Error(),
	}
	for verb, out := range outputs {
		assertNoSecret(t, out, k.Signing.Current.Secret, k.Signing.Previous[0].Secret, k.Data.Current.Secret)
		if !strings.Contains(out, "current") {
			t.Errorf("%s output %q does not name the key", verb, out)
		}
	}
}

func TestStaticKeys(t *testing.T) {
	k, err := NewKeys(testNow)
	if err != nil {
		t.Fatal(err)
	}
	var src KeySource = NewStaticKeys(k)
	if src.Keys() != k {
		t.Fatal("StaticKeys returned other keys")
	}
}

func mustStat(t *testing.T, path string) os.FileInfo {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// assertOnlyFile fails if dir holds anything but name (a left-over
// temporary file, say).
func assertOnlyFile(t *testing.T, dir, name string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if len(names) != 1 || names[0] != name {
		t.Fatalf("directory holds %v, want only %s", names, name)
	}
}
