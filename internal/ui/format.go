package ui

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Format is an output format selected with -o/--output.
type Format string

// The output formats. NDJSON is offered only by commands that stream rows.
const (
	Table  Format = "table"
	JSON   Format = "json"
	YAML   Format = "yaml"
	NDJSON Format = "ndjson"
)

// ParseFormat checks s against the formats a command supports.
func ParseFormat(s string, supported ...Format) (Format, error) {
	f := Format(s)
	if slices.Contains(supported, f) {
		return f, nil
	}
	names := make([]string, len(supported))
	for i, f := range supported {
		names[i] = string(f)
	}
	return "", fmt.Errorf("output format %q is not supported here: use one of %s", s, strings.Join(names, ", "))
}

// WriteJSON writes v as indented JSON with a trailing newline. HTML escaping
// is off: output is for programs and people, not for embedding in HTML.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// WriteNDJSON writes v as one line of JSON.
func WriteNDJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// WriteYAML writes v as YAML with exactly the field names and order of its
// JSON form, so the two formats share one schema (the json tags).
func WriteYAML(w io.Writer, v any) error {
	var buf bytes.Buffer
	if err := WriteNDJSON(&buf, v); err != nil {
		return err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(buf.Bytes(), &doc); err != nil {
		return err
	}
	blockStyle(&doc)
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return err
	}
	return enc.Close()
}

// blockStyle turns the flow style that JSON input produces into block style,
// keeping empty collections in flow style ([] and {}) so they stay visible.
func blockStyle(n *yaml.Node) {
	if n.Kind == yaml.MappingNode || n.Kind == yaml.SequenceNode {
		if len(n.Content) > 0 {
			n.Style = 0
		}
	}
	if n.Kind == yaml.ScalarNode && n.Style == yaml.DoubleQuotedStyle {
		// Keep quotes only where YAML needs them (e.g. "true", "1.0", "").
		n.Style = 0
	}
	for _, c := range n.Content {
		blockStyle(c)
	}
}

// Printer writes a command's result in the chosen format.
type Printer struct {
	IO     *IOStreams
	Format Format
}

// Print renders v: JSON, YAML or NDJSON from its json tags, or for Table by
// calling human, which writes the text form.
func (p *Printer) Print(v any, human func(w io.Writer) error) error {
	switch p.Format {
	case JSON:
		return WriteJSON(p.IO.Out, v)
	case YAML:
		return WriteYAML(p.IO.Out, v)
	case NDJSON:
		return WriteNDJSON(p.IO.Out, v)
	default:
		return human(p.IO.Out)
	}
}
