package main

// The optional config file holds named profiles, so that a workstation can
// talk to several servers without exporting APTQ_* by hand:
//
//	default_profile = "prod"
//
//	[profiles.prod]
//	server = "https://aptq.example.com"
//	token = "…"                      # aptq login writes this, mode 0600
//	key = "~/keys/signing.asc"       # or a list: ["old.asc", "new.asc"]
//	# gpg = ["ABCD…"]                # sign through gpg instead
//	# passphrase_file = "~/keys/passphrase"
//
// Precedence, for each setting: flag > APTQ_* environment > profile > default.

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"
)

// profile is one [profiles.NAME] table.
type profile struct {
	Server         string     `toml:"server,omitempty"`
	Token          string     `toml:"token,omitempty"`
	Key            stringList `toml:"key,omitempty"`
	GPG            stringList `toml:"gpg,omitempty"`
	PassphraseFile string     `toml:"passphrase_file,omitempty"`
}

// configFile is the whole file.
type configFile struct {
	DefaultProfile string             `toml:"default_profile,omitempty"`
	Profiles       map[string]profile `toml:"profiles,omitempty"`
}

// stringList reads a TOML string or array of strings: key = "a.asc" and
// key = ["old.asc", "new.asc"] both work.
type stringList []string

func (l *stringList) UnmarshalTOML(v any) error {
	switch v := v.(type) {
	case string:
		*l = stringList{v}
	case []any:
		out := make(stringList, 0, len(v))
		for _, e := range v {
			s, ok := e.(string)
			if !ok {
				return fmt.Errorf("want strings, got %T", e)
			}
			out = append(out, s)
		}
		*l = out
	default:
		return fmt.Errorf("want a string or a list of strings, got %T", v)
	}
	return nil
}

// loadedConfig is the profile in effect and where it came from.
type loadedConfig struct {
	path    string // the config file; "" when there is none
	name    string // the profile's name; "" when none applies
	profile profile
}

// configFilePath is --config, else APTQ_CONFIG, else
// $XDG_CONFIG_HOME/aptq/config.toml, else ~/.config/aptq/config.toml. It
// reads HOME through getenv, never the process's own, so that tests (and
// callers with an empty environment) never pick up a developer's file.
// explicit tells whether the user named the file.
func (a *app) configFilePath() (path string, explicit bool) {
	if p := firstNonEmpty(a.configPath, a.getenv("APTQ_CONFIG")); p != "" {
		return a.expandHome(p), true
	}
	if x := a.getenv("XDG_CONFIG_HOME"); x != "" {
		return filepath.Join(x, "aptq", "config.toml"), false
	}
	if h := a.getenv("HOME"); h != "" {
		return filepath.Join(h, ".config", "aptq", "config.toml"), false
	}
	return "", false
}

// expandHome turns a leading "~/" into $HOME, for paths written in the file.
func (a *app) expandHome(p string) string {
	if rest, ok := strings.CutPrefix(p, "~/"); ok {
		if h := a.getenv("HOME"); h != "" {
			return filepath.Join(h, rest)
		}
	}
	return p
}

// readConfig parses the file at path; a missing file is an empty config.
func readConfig(path string) (configFile, bool, error) {
	var cf configFile
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return cf, false, nil
	}
	if err != nil {
		return cf, false, usageErrorf("config: %v", err)
	}
	md, err := toml.NewDecoder(bytes.NewReader(data)).Decode(&cf)
	if err != nil {
		return cf, true, usageErrorf("config %s: %v", path, err)
	}
	// A typo ("sever") would otherwise be ignored in silence.
	if und := md.Undecoded(); len(und) > 0 {
		keys := make([]string, len(und))
		for i, k := range und {
			keys[i] = k.String()
		}
		return cf, true, usageErrorf("config %s: unknown setting %s (known: default_profile; "+
			"in [profiles.NAME]: server, token, key, gpg, passphrase_file)", path, strings.Join(keys, ", "))
	}
	return cf, true, nil
}

// profileName is --profile, else APTQ_PROFILE, else the file's default_profile.
func (a *app) profileName(cf configFile) string {
	return firstNonEmpty(a.profile, a.getenv("APTQ_PROFILE"), cf.DefaultProfile)
}

// loadConfig finds the profile in effect. No file and no profile asked for
// is fine: flags and the environment then say everything.
func (a *app) loadConfig() (loadedConfig, error) {
	path, explicit := a.configFilePath()
	if path == "" {
		if name := a.profileName(configFile{}); name != "" {
			return loadedConfig{}, usageErrorf("profile %q: no config file (set HOME, XDG_CONFIG_HOME or --config)", name)
		}
		return loadedConfig{}, nil
	}
	cf, exists, err := readConfig(path)
	if err != nil {
		return loadedConfig{}, err
	}
	if !exists && explicit {
		return loadedConfig{}, usageErrorf("config %s does not exist (aptq login creates it)", path)
	}
	lc := loadedConfig{path: path}
	if !exists {
		if name := a.profileName(cf); name != "" {
			return lc, usageErrorf("profile %q: no config file at %s (aptq login --profile %s creates it)", name, path, name)
		}
		return lc, nil
	}
	lc.name = a.profileName(cf)
	if lc.name == "" {
		return lc, nil
	}
	p, ok := cf.Profiles[lc.name]
	if !ok {
		return lc, usageErrorf("profile %q is not in %s (it has: %s)", lc.name, path, profileNames(cf))
	}
	if p.Token != "" {
		a.warnIfReadable(path)
	}
	p.PassphraseFile = a.expandHome(p.PassphraseFile)
	for i := range p.Key {
		p.Key[i] = a.expandHome(p.Key[i])
	}
	lc.profile = p
	return lc, nil
}

func profileNames(cf configFile) string {
	if len(cf.Profiles) == 0 {
		return "none"
	}
	names := make([]string, 0, len(cf.Profiles))
	for n := range cf.Profiles {
		names = append(names, n)
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// warnIfReadable warns when a file that holds a token is readable by others,
// as ssh does for private keys (aptq login writes it 0600).
func (a *app) warnIfReadable(path string) {
	if info, err := os.Stat(path); err == nil && info.Mode().Perm()&0o077 != 0 {
		a.progress("warning: %s holds a token and is readable by others (mode %04o): chmod 600 %s",
			path, info.Mode().Perm(), path)
	}
}

// writeConfig replaces the file at path with cf: mode 0600 in a directory
// made 0700, through a temporary file and a rename so that a crash never
// leaves half a file. Comments in the old file are not kept.
func writeConfig(path string, cf configFile) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	var buf bytes.Buffer
	buf.WriteString("# aptq CLI configuration: see `aptq login --help`. Rewritten by aptq login.\n")
	enc := toml.NewEncoder(&buf)
	enc.Indent = ""
	if err := enc.Encode(cf); err != nil {
		return fmt.Errorf("config: encode: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".config-*.toml")
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	defer os.Remove(tmp.Name()) // after the rename: a no-op
	// CreateTemp makes the file 0600 already; Chmod says so explicitly and
	// also holds on systems whose default differs.
	if err := tmp.Chmod(0o600); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("config: %w", err)
	}
	if _, err := tmp.Write(buf.Bytes()); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("config: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("config: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	return nil
}
