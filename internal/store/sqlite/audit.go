package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/repairx/repairxctl/internal/audit"
	"github.com/repairx/repairxctl/internal/store"
)

// AppendAudit implements store.AuditLog.
func (s *Store) AppendAudit(ctx context.Context, ev audit.Event) error {
	if ev.Timestamp.IsZero() || ev.Action == "" {
		return fmt.Errorf("%w: audit event needs a timestamp and an action", store.ErrInvalid)
	}
	var details sql.NullString
	if len(ev.Details) > 0 {
		b, err := json.Marshal(ev.Details)
		if err != nil {
			return fmt.Errorf("%w: audit event %s: details: %v", store.ErrInvalid, ev.Action, err)
		}
		details = sql.NullString{String: string(b), Valid: true}
	}
	_, err := s.w.ExecContext(ctx, `INSERT INTO audit_events (timestamp, user_id, ip, user_agent, action, resource, result, details)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		micros(ev.Timestamp), ev.UserID, ev.IP, ev.UserAgent, ev.Action, ev.Resource, ev.Result, details)
	if err != nil {
		return fmt.Errorf("storing audit event %s: %w", ev.Action, err)
	}
	return nil
}

// ListAudit implements store.AuditLog.
func (s *Store) ListAudit(ctx context.Context, f store.AuditFilter) ([]audit.Event, error) {
	var where []string
	var args []any
	if f.UserID != "" {
		where, args = append(where, "user_id = ?"), append(args, f.UserID)
	}
	if f.Action != "" {
		where, args = append(where, "action = ?"), append(args, f.Action)
	}
	if !f.Since.IsZero() {
		where, args = append(where, "timestamp >= ?"), append(args, ceilMicros(f.Since))
	}
	if !f.Until.IsZero() {
		where, args = append(where, "timestamp < ?"), append(args, ceilMicros(f.Until))
	}
	q := `SELECT timestamp, user_id, ip, user_agent, action, resource, result, details FROM audit_events`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	q += ` ORDER BY timestamp DESC, id DESC`
	if f.Limit > 0 {
		q, args = q+` LIMIT ?`, append(args, f.Limit)
	}
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("listing audit events: %w", err)
	}
	defer rows.Close()
	events := []audit.Event{}
	for rows.Next() {
		var ev audit.Event
		var ts int64
		var details sql.NullString
		if err := rows.Scan(&ts, &ev.UserID, &ev.IP, &ev.UserAgent, &ev.Action, &ev.Resource, &ev.Result, &details); err != nil {
			return nil, fmt.Errorf("listing audit events: %w", err)
		}
		ev.Timestamp = fromMicros(ts)
		if details.Valid {
			if err := json.Unmarshal([]byte(details.String), &ev.Details); err != nil {
				return nil, fmt.Errorf("listing audit events: details of a %s event: %w", ev.Action, err)
			}
		}
		events = append(events, ev)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing audit events: %w", err)
	}
	return events, nil
}
