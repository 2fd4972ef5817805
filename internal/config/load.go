package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"
	"go.yaml.in/yaml/v3"
)

// FlagKeyAnnotation marks a flag as setting a config key; its value is the
// key. Load binds every annotated flag it is given.
const FlagKeyAnnotation = "repairxctl/config-key"

// LoadOptions says where Load finds its inputs.
type LoadOptions struct {
	// File is an explicit config file (--config or REPAIRX_CONFIG); it must
	// exist. Empty means search SearchPaths and use the first that exists.
	File string
	// FileSource names where File came from, for errors: "flag --config"
	// or "env REPAIRX_CONFIG".
	FileSource string
	// Flags are the parsed flags of the command being run. Flags annotated
	// with FlagKeyAnnotation override every other source when set.
	Flags *pflag.FlagSet
	// Getenv reads the environment; nil means os.Getenv. Only used for the
	// XDG paths: keys are read from the process environment by viper.
	Getenv func(string) string
}

// Load reads the configuration from every source, decodes it once into a
// Config and validates it. Any error is an *Errors naming each bad key and
// where its value came from.
func Load(opts LoadOptions) (*Config, error) {
	getenv := opts.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	keys := Keys(DefaultDataDir(getenv))

	v := viper.New()
	v.SetConfigType("yaml")
	for _, k := range keys {
		v.SetDefault(k.Name, k.Default)
		if !k.Map {
			_ = v.BindEnv(k.Name, EnvName(k.Name))
		}
	}

	flagByKey := map[string]*pflag.Flag{}
	if opts.Flags != nil {
		opts.Flags.VisitAll(func(f *pflag.Flag) {
			if ks := f.Annotations[FlagKeyAnnotation]; len(ks) == 1 {
				flagByKey[ks[0]] = f
				_ = v.BindPFlag(ks[0], f)
			}
		})
	}

	path, data, err := findFile(opts.File, opts.FileSource, getenv)
	if err != nil {
		return nil, err
	}
	var fileKeys map[string]int
	if path != "" {
		fileKeys, err = fileKeyLines(data)
		if err != nil {
			return nil, &Errors{{Key: "", Source: "file " + path, Msg: yamlMessage(err)}}
		}
		if err := v.ReadConfig(bytes.NewReader(data)); err != nil {
			return nil, readError(keys, path, data, err)
		}
	}

	cfg := &Config{File: path, sources: map[string]string{}}
	for _, k := range keys {
		switch f := flagByKey[k.Name]; {
		case f != nil && f.Changed:
			cfg.sources[k.Name] = "flag --" + f.Name
		case envSet(EnvName(k.Name)) && !k.Map:
			cfg.sources[k.Name] = "env " + EnvName(k.Name)
		}
	}
	overridden := map[string]bool{}
	for k := range cfg.sources {
		overridden[k] = true
	}
	for fk, line := range fileKeys {
		if !overridden[known(keys, fk)] {
			cfg.sources[fk] = fmt.Sprintf("file %s:%d", path, line)
		}
	}

	// Report every problem in one pass: unknown keys, then values that do
	// not decode, or (when all decode) values that do not validate.
	errs := unknownKeys(keys, fileKeys, path)
	err = v.Unmarshal(cfg, viper.DecodeHook(decodeHook), func(dc *mapstructure.DecoderConfig) {
		dc.WeaklyTypedInput = false
	})
	if err != nil {
		des := decodeErrors(err)
		for _, de := range des {
			lookup := sourceKey(de.key)
			msg := de.msg
			if isSecretKey(keys, lookup) {
				// The value may be the secret itself: never echo it.
				msg = "expected a string: the secret, file:PATH or env:NAME"
			}
			errs = append(errs, Error{Key: de.key, Source: cfg.Source(lookup), Msg: msg})
		}
		if len(des) == 0 {
			errs = append(errs, Error{Msg: err.Error()})
		}
		return nil, &errs
	}
	cfg.resolveRelativePaths()
	if verr := cfg.validate(); verr != nil {
		errs = append(errs, *verr...)
	}
	if len(errs) > 0 {
		return nil, &errs
	}
	return cfg, nil
}

func envSet(name string) bool {
	v, ok := os.LookupEnv(name)
	return ok && v != ""
}

// findFile returns the config file to read and its content, or "" when no
// file is named and none of the search paths exists.
func findFile(explicit, source string, getenv func(string) string) (string, []byte, error) {
	if explicit != "" {
		data, err := os.ReadFile(explicit)
		if err != nil {
			return "", nil, &Errors{{Source: source, Msg: fmt.Sprintf("cannot read config file: %v", unwrapPathError(err))}}
		}
		return explicit, data, nil
	}
	for _, p := range SearchPaths(getenv) {
		data, err := os.ReadFile(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return "", nil, &Errors{{Source: "file " + p, Msg: fmt.Sprintf("cannot read config file: %v", unwrapPathError(err))}}
		}
		return p, data, nil
	}
	return "", nil, nil
}

func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", pe.Path, pe.Err)
	}
	return err
}

// fileKeyLines flattens a YAML config file into dotted keys (lower-cased, as
// viper sees them) with the line each is set on.
func fileKeyLines(data []byte) (map[string]int, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	out := map[string]int{}
	if len(doc.Content) == 0 {
		return out, nil
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("line %d: the config file must be a mapping of keys to values", root.Line)
	}
	var walk func(prefix string, n *yaml.Node)
	walk = func(prefix string, n *yaml.Node) {
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			key := strings.ToLower(k.Value)
			if prefix != "" {
				key = prefix + "." + key
			}
			out[key] = k.Line
			if val.Kind == yaml.MappingNode {
				walk(key, val)
			}
		}
	}
	walk("", root)
	return out, nil
}

// readError explains why viper could not read a file that parses as YAML:
// a scalar whose explicit tag its value does not fit (url: !!int abc).
// yaml's message quotes the value, so each such scalar is found to name its
// key and line, and the message is replaced for a secret key.
func readError(keys []Key, path string, data []byte, err error) *Errors {
	var errs Errors
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) == nil {
		var walk func(key string, n *yaml.Node)
		walk = func(key string, n *yaml.Node) {
			switch n.Kind {
			case yaml.ScalarNode:
				var v any
				if derr := n.Decode(&v); derr != nil {
					msg := yamlMessage(derr)
					if isSecretKey(keys, key) {
						msg = "expected a string: the secret, file:PATH or env:NAME"
					}
					errs = append(errs, Error{Key: key, Source: fmt.Sprintf("file %s:%d", path, n.Line), Msg: msg})
				}
			case yaml.MappingNode:
				for i := 0; i+1 < len(n.Content); i += 2 {
					sub := strings.ToLower(n.Content[i].Value)
					if key != "" {
						sub = key + "." + sub
					}
					walk(sub, n.Content[i])
					walk(sub, n.Content[i+1])
				}
			default:
				for _, c := range n.Content {
					walk(key, c)
				}
			}
		}
		walk("", &doc)
	}
	if len(errs) == 0 {
		// Not found: keep yaml's message but not the values it quotes.
		msg := regexp.MustCompile("`[^`]*`").ReplaceAllString(err.Error(), "a value")
		errs = Errors{{Source: "file " + path, Msg: msg}}
	}
	return &errs
}

// known returns the declared key that fileKey sets or lies under, or "".
func known(keys []Key, fileKey string) string {
	for _, k := range keys {
		if fileKey == k.Name || (k.Map && strings.HasPrefix(fileKey, k.Name+".")) {
			return k.Name
		}
	}
	return ""
}

func unknownKeys(keys []Key, fileKeys map[string]int, path string) Errors {
	var errs Errors
	for fk, line := range fileKeys {
		if known(keys, fk) != "" {
			continue
		}
		// Parents of declared keys are fine; children of a declared leaf are
		// a type error that decoding reports with a better message.
		related := false
		for _, k := range keys {
			if strings.HasPrefix(k.Name, fk+".") || strings.HasPrefix(fk, k.Name+".") {
				related = true
				break
			}
		}
		if related {
			continue
		}
		msg := "unknown key"
		if s := suggest(keys, fk); s != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", s)
		}
		errs = append(errs, Error{Key: fk, Source: fmt.Sprintf("file %s:%d", path, line), Msg: msg})
	}
	sort.Slice(errs, func(i, j int) bool { return errs[i].Key < errs[j].Key })
	return errs
}

// suggest returns the declared key closest to k, if it is a likely typo.
func suggest(keys []Key, k string) string {
	best, bestD := "", 3
	for _, key := range keys {
		if d := editDistance(k, key.Name); d < bestD {
			best, bestD = key.Name, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// decodeHook converts the strings that environment variables and flags
// produce, and refuses the silent conversions viper's weak typing would make
// (a bare number as a duration would mean nanoseconds).
func decodeHook(from, to reflect.Type, data any) (any, error) {
	durationType := reflect.TypeOf(time.Duration(0))
	switch {
	case to == durationType && from.Kind() == reflect.String:
		s := data.(string)
		d, err := time.ParseDuration(s)
		if err != nil {
			return nil, fmt.Errorf("%q is not a duration: use a number with a unit, as in 30s, 5m or 1h", s)
		}
		return d, nil
	case to == durationType && from == durationType:
		return data, nil
	case to == durationType:
		return nil, fmt.Errorf("%v is not a duration: use a number with a unit, as in 30s, 5m or 1h", data)
	case (to.Kind() == reflect.Int || to.Kind() == reflect.Int64) && from.Kind() == reflect.String:
		n, err := strconv.ParseInt(strings.TrimSpace(data.(string)), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not a whole number", data)
		}
		if to.Kind() == reflect.Int {
			return int(n), nil
		}
		return n, nil
	case to.Kind() == reflect.Float64 && from.Kind() == reflect.String:
		f, err := strconv.ParseFloat(strings.TrimSpace(data.(string)), 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not a number", data)
		}
		return f, nil
	case to.Kind() == reflect.Bool && from.Kind() == reflect.String:
		b, err := strconv.ParseBool(data.(string))
		if err != nil {
			return nil, fmt.Errorf("%q is not a boolean: use true or false", data)
		}
		return b, nil
	case to.Kind() == reflect.Slice && to.Elem().Kind() == reflect.String && from.Kind() == reflect.String:
		s := strings.TrimSpace(data.(string))
		if s == "" {
			return []string{}, nil
		}
		parts := strings.Split(s, ",")
		for i := range parts {
			parts[i] = strings.TrimSpace(parts[i])
		}
		return parts, nil
	}
	return data, nil
}

type decodeErr struct{ key, msg string }

var indexRE = regexp.MustCompile(`\[([^\]]*)\]`)

// sourceKey turns mapstructure's "alerts.required_labels[team][1]" into the
// dotted key the sources are recorded under ("alerts.required_labels.team").
func sourceKey(name string) string {
	return strings.TrimSuffix(indexRE.ReplaceAllStringFunc(name, func(m string) string {
		inner := m[1 : len(m)-1]
		if _, err := strconv.Atoi(inner); err == nil {
			return ""
		}
		return "." + strings.ToLower(inner)
	}), ".")
}

func isSecretKey(keys []Key, name string) bool {
	for _, k := range keys {
		if k.Secret && (name == k.Name || strings.HasPrefix(name, k.Name+".")) {
			return true
		}
		if rest, ok := strings.CutPrefix(name, k.Name+"."); ok && len(k.SecretFields) > 0 {
			_, field, _ := strings.Cut(rest, ".")
			if slices.Contains(k.SecretFields, field) {
				return true
			}
		}
	}
	return false
}

// resolveRelativePaths makes paths given in the config file relative to the
// file's directory, as a reader of /etc/repairxctl/config.yaml expects (and
// as cron, running elsewhere, needs). Paths from flags and the environment
// stay relative to the working directory.
func (c *Config) resolveRelativePaths() {
	if c.File == "" {
		return
	}
	base := filepath.Dir(c.File)
	fromFile := func(key string) bool { return strings.HasPrefix(c.Source(key), "file ") }
	rel := func(key string, p *string) {
		if *p != "" && !filepath.IsAbs(*p) && fromFile(key) {
			*p = filepath.Join(base, *p)
		}
	}
	rel("data_dir", &c.DataDir)
	rel("alerts.policy", &c.Alerts.Policy)
	rel("server.tls.cert_file", &c.Server.TLS.CertFile)
	rel("server.tls.key_file", &c.Server.TLS.KeyFile)
	rel("audit.file", &c.Audit.File)
	c.resolveBackupPaths(rel)
	if c.Database.URL.Reference() == "file" {
		p := strings.TrimPrefix(string(c.Database.URL), "file:")
		rel("database.url", &p)
		c.Database.URL = Secret("file:" + p)
	}
}

// decodeErrors flattens mapstructure's joined errors into key and message.
func decodeErrors(err error) []decodeErr {
	var out []decodeErr
	var walk func(error)
	walk = func(err error) {
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				walk(e)
			}
			return
		}
		var de *mapstructure.DecodeError
		if errors.As(err, &de) {
			inner := de.Unwrap()
			var deeper *mapstructure.DecodeError
			if errors.As(inner, &deeper) || isJoin(inner) {
				walk(inner)
				return
			}
			msg := inner.Error()
			var ute *mapstructure.UnconvertibleTypeError
			if errors.As(inner, &ute) {
				msg = fmt.Sprintf("expected %s, got %s", ute.Expected.Type(), describe(ute.Value))
			}
			out = append(out, decodeErr{key: de.Name(), msg: msg})
		}
	}
	walk(err)
	sort.Slice(out, func(i, j int) bool { return out[i].key < out[j].key })
	return out
}

func isJoin(err error) bool {
	_, ok := err.(interface{ Unwrap() []error })
	return ok
}

func describe(v any) string {
	switch v.(type) {
	case map[string]any:
		return "a mapping"
	case []any:
		return "a list"
	case nil:
		return "nothing"
	}
	return fmt.Sprintf("%T %v", v, v)
}

func yamlMessage(err error) string {
	return strings.TrimPrefix(err.Error(), "yaml: ")
}

// AbsDataDir is the data directory made absolute.
func (c *Config) absDataDir() error {
	abs, err := filepath.Abs(c.DataDir)
	if err != nil {
		return err
	}
	c.DataDir = abs
	return nil
}
