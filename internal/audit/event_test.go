package audit

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

// TestEventJSONShape pins the platform's field names: the log shipper and the
// Elasticsearch mappings depend on them.
func TestEventJSONShape(t *testing.T) {
	ev := Event{
		Timestamp: time.Date(2030, 1, 2, 3, 4, 5, 600_000_000, time.UTC),
		UserID:    "u-1",
		IP:        "192.0.2.7",
		UserAgent: "curl/8.5.0",
		Action:    ActionRoleChange,
		Resource:  "user/u-2",
		Result:    ResultSuccess,
		Details:   map[string]any{"from": "technician", "to": "manager"},
	}
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"timestamp":"2030-01-02T03:04:05.6Z","userId":"u-1","ip":"192.0.2.7","userAgent":"curl/8.5.0",` +
		`"action":"user.role_change","resource":"user/u-2","result":"success","details":{"from":"technician","to":"manager"}}`
	if string(b) != want {
		t.Errorf("JSON:\n got %s\nwant %s", b, want)
	}

	var back Event
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !back.Timestamp.Equal(ev.Timestamp) {
		t.Errorf("timestamp round trip: %v, want %v", back.Timestamp, ev.Timestamp)
	}
	back.Timestamp = ev.Timestamp
	if !reflect.DeepEqual(back, ev) {
		t.Errorf("round trip:\n got %#v\nwant %#v", back, ev)
	}
}

func TestEventJSONOmitsEmptyDetails(t *testing.T) {
	b, err := json.Marshal(Event{Action: ActionLogin, Result: ResultFailure})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	wantKeys := []string{"timestamp", "userId", "ip", "userAgent", "action", "resource", "result"}
	for _, k := range wantKeys {
		if _, ok := m[k]; !ok {
			t.Errorf("key %q missing from %s", k, b)
		}
	}
	if _, ok := m["details"]; ok || len(m) != len(wantKeys) {
		t.Errorf("keys of %s: want exactly %v", b, wantKeys)
	}
}

func TestActionsAreDistinct(t *testing.T) {
	actions := []string{
		ActionLogin, ActionLogout, ActionRefreshTokenReuse, ActionTwoFactorSetup, ActionTwoFactorVerify,
		ActionTwoFactorDisable, ActionLockout, ActionIPBlock, ActionAttackBlocked, ActionRoleChange,
		ActionUserCreate, ActionUserDisable, ActionUserUnlock, ActionTwoFactorReset,
	}
	seen := map[string]bool{}
	for _, a := range actions {
		if a == "" || seen[a] {
			t.Errorf("action %q empty or duplicated", a)
		}
		seen[a] = true
	}
}
