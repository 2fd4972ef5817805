// Package audit defines the audit event that repairxctl records for
// security-relevant actions: logins and logouts, refresh-token reuse, 2FA
// changes, lockouts, IP blocks, role changes and blocked attack attempts.
//
// An Event marshals to the log platform's format,
//
//	{"timestamp", "userId", "ip", "userAgent", "action", "resource", "result", "details"}
//
// with camelCase keys (unlike the snake_case of repairxctl's own reports),
// because the platform's log shipper and Elasticsearch indices already use
// them. The same value is written to the store (store.AuditLog) and, when
// configured, as one JSON line per event to a file.
//
// Action and Result values are part of that format: dashboards and alerts
// select on them, so a constant's value never changes once released.
package audit
