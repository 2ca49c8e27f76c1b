package app

// The RMM vendors, registered with the sync engine by their packages.
import (
	_ "clientst0r/internal/rmm/automate"
	_ "clientst0r/internal/rmm/datto"
	_ "clientst0r/internal/rmm/ninjaone"
	_ "clientst0r/internal/rmm/syncro"
)
