package systest

import (
	"os"
	"path/filepath"
)

// AddConf writes an apt.conf snippet under Dir and makes every later run
// of apt-get and apt-cache read it (Run reads no apt.conf.d): e.g. an
// Acquire::IndexTargets entry for an index apt does not fetch by default.
func (a *Apt) AddConf(name, conf string) error {
	file := filepath.Join(a.Dir, "etc", name)
	if err := os.WriteFile(file, []byte(conf), 0o644); err != nil {
		return err
	}
	a.opts = append([]string{"-c", file}, a.opts...)
	return nil
}
