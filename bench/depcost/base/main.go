// Command base links repairxctl's foundation libraries without the upstream
// Prometheus and Alertmanager parsers; bench/depcost.sh compares it with
// ../full to measure what those parsers add to build time and binary size.
package main

import (
	_ "github.com/charmbracelet/lipgloss/table"
	_ "github.com/spf13/cobra/doc"
	_ "github.com/spf13/viper"
	_ "go.yaml.in/yaml/v3"
)

func main() {}
