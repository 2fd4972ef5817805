package server_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"
)

// FuzzLoginRequest throws arbitrary bodies at the login route through the
// whole chain: the answer is always a clean 4xx (never a 5xx, never a
// panic), and a refusal never echoes the input.
func FuzzLoginRequest(f *testing.F) {
	for _, seed := range []string{
		`{"email":"bench@example.test","password":"correct horse battery"}`,
		`{"email":"bench@example.test","password":"x","totp":"123456"}`,
		`{"email":"a@b","password":"p","backupCode":"abcd-efgh-ijkl-mnop"}`,
		`{"email":"' OR 1=1--","password":"x"}`,
		`{"email":"a@b.test","password":"x","email":"b@b.test"}`,
		`{"email":"a@b.test\u0000","password":"x"}`,
		"{\"email\":\"\xff\",\"password\":\"x\"}",
		`{"email":1,"password":true}`,
		`[]`, `null`, ``, `{`, `{"email":"a@b.test","password":"x"} {}`,
	} {
		f.Add([]byte(seed))
	}
	h, _, _, _ := inProcess(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequest(http.MethodPost, "/api/v1/auth/login", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		// A fresh address each time keeps the auth tier out of the way.
		req.RemoteAddr = "198.51.100.1:1234"
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		switch rec.Code {
		case http.StatusOK, http.StatusBadRequest, http.StatusUnauthorized, http.StatusRequestEntityTooLarge,
			http.StatusLocked, http.StatusTooManyRequests, http.StatusForbidden:
		default:
			t.Fatalf("status %d for %q: %s", rec.Code, body, rec.Body.Bytes())
		}
		if rec.Code == http.StatusBadRequest && len(body) >= 8 && bytes.Contains(rec.Body.Bytes(), body) {
			t.Fatalf("the refusal echoes the body: %s", rec.Body.Bytes())
		}
	})
}
