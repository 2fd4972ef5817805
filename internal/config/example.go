package config

import _ "embed"

// Example is a commented example configuration that passes validation;
// `config init` writes it.
//
//go:embed example.yaml
var Example []byte
