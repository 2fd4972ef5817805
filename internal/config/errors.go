package config

import (
	"fmt"
	"strings"
)

// Error is one invalid configuration value: which key, where its value came
// from and what is wrong with it.
type Error struct {
	Key    string `json:"key"`
	Source string `json:"source"`
	Msg    string `json:"message"`
}

func (e Error) Error() string {
	var b strings.Builder
	b.WriteString("config")
	if e.Key != "" {
		b.WriteString(": " + e.Key)
	}
	b.WriteString(": " + e.Msg)
	if e.Source != "" {
		fmt.Fprintf(&b, " (from %s)", e.Source)
	}
	return b.String()
}

// Errors is every problem Load found, so a user fixes them in one pass.
type Errors []Error

func (es *Errors) Error() string {
	lines := make([]string, len(*es))
	for i, e := range *es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}
