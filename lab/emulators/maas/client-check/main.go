// client-check: the ecosystem's Go MAAS client (github.com/canonical/gomaasclient, unmodified)
// against the lab's region emulator: list machines, read block devices and partitions, commission.
// Usage: client-check <MAAS URL ending in /MAAS> <api key file> [commission]
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/canonical/gomaasclient/client"
	"github.com/canonical/gomaasclient/entity"
)

func must(err error, what string) {
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", what, err)
		os.Exit(1)
	}
}

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: client-check <url> <key file> [commission]")
		os.Exit(2)
	}
	key, err := os.ReadFile(os.Args[2])
	must(err, "reading the key")
	c, err := client.GetClient(os.Args[1], strings.TrimSpace(string(key)), "2.0")
	must(err, "connecting")
	machines, err := c.Machines.Get(&entity.MachinesParams{})
	must(err, "listing machines")
	out := map[string]any{"machines": len(machines)}
	if len(machines) > 0 {
		m := machines[0]
		out["hostname"] = m.Hostname
		out["status"] = m.StatusName
		devices, err := c.BlockDevices.Get(m.SystemID)
		must(err, "reading block devices")
		var names []string
		for _, d := range devices {
			parts, err := c.BlockDevicePartitions.Get(m.SystemID, d.ID)
			must(err, "reading partitions")
			for _, p := range parts {
				names = append(names, fmt.Sprintf("%s:%d", p.Path, p.Size))
			}
		}
		out["partitions"] = names
		if len(os.Args) > 3 && os.Args[3] == "commission" {
			after, err := c.Machine.Commission(m.SystemID, &entity.MachineCommissionParams{TestingScripts: "none"})
			must(err, "commissioning")
			out["commissioned"] = after.StatusName
		}
	}
	b, _ := json.Marshal(out)
	fmt.Println(string(b))
}
