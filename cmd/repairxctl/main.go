// Command repairxctl is the operations toolkit for the RepairX platform.
package main

import (
	"os"

	"github.com/repairx/repairxctl/internal/commands"
)

func main() { os.Exit(commands.Main()) }
