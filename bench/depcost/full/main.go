// Command full is ../base plus the upstream parsers alerts validate reuses.
package main

import (
	_ "github.com/charmbracelet/lipgloss/table"
	_ "github.com/prometheus/alertmanager/config"
	_ "github.com/prometheus/alertmanager/template"
	_ "github.com/prometheus/prometheus/model/rulefmt"
	_ "github.com/prometheus/prometheus/promql/parser"
	_ "github.com/spf13/cobra/doc"
	_ "github.com/spf13/viper"
	_ "go.yaml.in/yaml/v3"
)

func main() {}
