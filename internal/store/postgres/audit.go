package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/repairx/repairxctl/internal/audit"
	"github.com/repairx/repairxctl/internal/store"
)

// storable returns s as PostgreSQL's text can hold it: invalid UTF-8 and
// NUL bytes become U+FFFD. Audit fields carry what clients sent (a
// User-Agent header may hold any byte), and an event the database refused
// would be an event lost; valid text is unchanged.
func storable(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	return strings.ReplaceAll(s, "\x00", "\uFFFD")
}

// AppendAudit implements store.AuditLog. The strings of the event are
// stored as storable makes them.
func (s *Store) AppendAudit(ctx context.Context, ev audit.Event) error {
	ctx, cancel := bound(ctx)
	defer cancel()
	if ev.Timestamp.IsZero() || ev.Action == "" {
		return fmt.Errorf("%w: audit event needs a timestamp and an action", store.ErrInvalid)
	}
	var details *string
	if len(ev.Details) > 0 {
		b, err := json.Marshal(ev.Details)
		if err != nil {
			return fmt.Errorf("%w: audit event %s: details: %v", store.ErrInvalid, ev.Action, err)
		}
		d := string(b) // json.Marshal writes valid UTF-8 and escapes NUL
		details = &d
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO audit_events (timestamp, user_id, ip, user_agent, action, resource, result, details)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8::json)`,
		trunc(ev.Timestamp), storable(ev.UserID), storable(ev.IP), storable(ev.UserAgent), storable(ev.Action),
		storable(ev.Resource), storable(ev.Result), details)
	if err != nil {
		return failed(fmt.Sprintf("storing audit event %s", ev.Action), err)
	}
	return nil
}

// ListAudit implements store.AuditLog. Bounds are rounded up to the
// microsecond, so that they compare with the stored times as the
// interface says.
func (s *Store) ListAudit(ctx context.Context, f store.AuditFilter) ([]audit.Event, error) {
	ctx, cancel := bound(ctx)
	defer cancel()
	var where []string
	var args []any
	add := func(cond string, arg any) {
		args = append(args, arg)
		where = append(where, fmt.Sprintf(cond, len(args)))
	}
	if f.UserID != "" {
		add("user_id = $%d", storable(f.UserID))
	}
	if f.Action != "" {
		add("action = $%d", storable(f.Action))
	}
	if !f.Since.IsZero() {
		add("timestamp >= $%d", ceil(f.Since))
	}
	if !f.Until.IsZero() {
		add("timestamp < $%d", ceil(f.Until))
	}
	q := `SELECT timestamp, user_id, ip, user_agent, action, resource, result, details::text FROM audit_events`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	q += ` ORDER BY timestamp DESC, id DESC`
	if f.Limit > 0 {
		args = append(args, f.Limit)
		q += fmt.Sprintf(` LIMIT $%d`, len(args))
	}
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, failed("listing audit events", err)
	}
	events, err := collect(rows, scanEvent)
	if err != nil {
		return nil, failed("listing audit events", err)
	}
	return events, nil
}

func scanEvent(row pgx.Row) (audit.Event, error) {
	var ev audit.Event
	var ts time.Time
	var details *string
	if err := row.Scan(&ts, &ev.UserID, &ev.IP, &ev.UserAgent, &ev.Action, &ev.Resource, &ev.Result, &details); err != nil {
		return audit.Event{}, err
	}
	ev.Timestamp = ts.UTC()
	if details != nil {
		if err := json.Unmarshal([]byte(*details), &ev.Details); err != nil {
			return audit.Event{}, fmt.Errorf("details of a %s event: %w", ev.Action, err)
		}
	}
	return ev, nil
}
