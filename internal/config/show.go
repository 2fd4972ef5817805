package config

import (
	"reflect"
	"strings"
	"time"
)

// Setting is one effective configuration value and where it came from.
// Secret values are redacted.
type Setting struct {
	Key    string `json:"key"`
	Value  any    `json:"value"`
	Source string `json:"source"`
}

// Settings lists every declared key's effective value, in declaration order.
func (c *Config) Settings() []Setting {
	flat := map[string]any{}
	flatten(reflect.ValueOf(*c), "", flat)
	var out []Setting
	for _, k := range Keys("") {
		out = append(out, Setting{Key: k.Name, Value: flat[k.Name], Source: c.Source(k.Name)})
	}
	return out
}

// Tree returns the effective configuration as nested maps, shaped like the
// config file (so `config show -o yaml` output is itself a valid config
// file), with secrets redacted and durations written as "1m0s".
func (c *Config) Tree() map[string]any {
	root := map[string]any{}
	for _, s := range c.Settings() {
		parts := strings.Split(s.Key, ".")
		m := root
		for _, p := range parts[:len(parts)-1] {
			next, ok := m[p].(map[string]any)
			if !ok {
				next = map[string]any{}
				m[p] = next
			}
			m = next
		}
		m[parts[len(parts)-1]] = s.Value
	}
	return root
}

var (
	durationType = reflect.TypeOf(time.Duration(0))
	secretType   = reflect.TypeOf(Secret(""))
)

// flatten walks the mapstructure-tagged fields of v into out, keyed by
// dotted path, converting values to their displayable form.
func flatten(v reflect.Value, prefix string, out map[string]any) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := strings.Split(f.Tag.Get("mapstructure"), ",")[0]
		if tag == "" || tag == "-" || !f.IsExported() {
			continue
		}
		key := tag
		if prefix != "" {
			key = prefix + "." + tag
		}
		fv := v.Field(i)
		switch {
		case f.Type == secretType:
			out[key] = fv.Interface().(Secret).Redacted()
		case f.Type == durationType:
			out[key] = fv.Interface().(time.Duration).String()
		case f.Type.Kind() == reflect.Struct:
			flatten(fv, key, out)
		case f.Type.Kind() == reflect.Map && fv.IsNil():
			out[key] = map[string]any{}
		case f.Type.Kind() == reflect.Slice && fv.IsNil():
			out[key] = []any{}
		default:
			out[key] = fv.Interface()
		}
	}
}
