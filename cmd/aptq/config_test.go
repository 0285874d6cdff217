package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/BurntSushi/toml"
	"github.com/stretchr/testify/require"
)

// configBundle is a fake API and a HOME whose config file names it.
type configBundle struct {
	api  *fakeAPI
	url  string
	home string
	file string // $HOME/.config/aptq/config.toml
}

func setupConfig(t *testing.T, content string) configBundle {
	t.Helper()
	_, _, public := keyFiles(t)
	api, srv := newFakeAPI(t, publishes, public)
	home := t.TempDir()
	file := filepath.Join(home, ".config", "aptq", "config.toml")
	if content != "" {
		require.NoError(t, os.MkdirAll(filepath.Dir(file), 0o700))
		require.NoError(t, os.WriteFile(file, []byte(content), 0o600))
	}
	return configBundle{api: api, url: srv.URL, home: home, file: file}
}

func TestConfigPrecedence(t *testing.T) {
	t.Parallel()
	const unreachable = "http://127.0.0.1:1"
	b := setupConfig(t, "")
	require.NoError(t, os.MkdirAll(filepath.Dir(b.file), 0o700))
	require.NoError(t, os.WriteFile(b.file, []byte(`
default_profile = "good"

[profiles.good]
server = "`+b.url+`"
token = "`+fakeToken+`"

[profiles.badtoken]
server = "`+b.url+`"
token = "revoked"
`), 0o600))

	// An XDG config home whose profile holds a revoked token: found first,
	// it must win over the good profile in $HOME/.config.
	xdg := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(xdg, "aptq"), 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(xdg, "aptq", "config.toml"), []byte(`
default_profile = "x"

[profiles.x]
server = "`+b.url+`"
token = "revoked"
`), 0o600))

	tests := []struct {
		name string
		env  map[string]string
		args []string
		want int
	}{
		{name: "default profile", want: exitOK},
		{name: "env token over profile", env: map[string]string{"APTQ_TOKEN": "revoked"}, want: exitAuth},
		{name: "flag token over env", env: map[string]string{"APTQ_TOKEN": "revoked"}, args: []string{"--token", fakeToken}, want: exitOK},
		{name: "env server over profile", env: map[string]string{"APTQ_URL": unreachable}, want: exitTimeout},
		{name: "flag server over env", env: map[string]string{"APTQ_URL": unreachable}, args: []string{"--server", b.url}, want: exitOK},
		{name: "env profile", env: map[string]string{"APTQ_PROFILE": "badtoken"}, want: exitAuth},
		{name: "flag profile over env", env: map[string]string{"APTQ_PROFILE": "badtoken"}, args: []string{"--profile", "good"}, want: exitOK},
		{name: "unknown profile", args: []string{"--profile", "nope"}, want: exitUsage},
		{name: "XDG_CONFIG_HOME first", env: map[string]string{"XDG_CONFIG_HOME": xdg}, want: exitAuth},
		{name: "explicit file", env: map[string]string{"HOME": "/nonexistent"}, args: []string{"--config", b.file}, want: exitOK},
		{name: "explicit file from env", env: map[string]string{"HOME": "/nonexistent", "APTQ_CONFIG": b.file}, want: exitOK},
		{name: "explicit file missing", args: []string{"--config", b.file + ".missing"}, want: exitUsage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := map[string]string{"HOME": b.home}
			for k, v := range tt.env {
				env[k] = v
			}
			res := runCLI(t, env, append([]string{"--timeout", "300ms", "repo", "list"}, tt.args...)...)
			require.Equal(t, tt.want, res.code, res.stderr)
		})
	}
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	tests := map[string]struct{ content, want string }{
		"syntax":          {content: "default_profile = \n", want: "aptq: usage: config "},
		"unknown setting": {content: "[profiles.a]\nsever = \"x\"\n", want: "unknown setting profiles.a.sever"},
		"missing default": {content: "default_profile = \"b\"\n[profiles.a]\n", want: `profile "b" is not in`},
		"key not string":  {content: "default_profile = \"a\"\n[profiles.a]\nkey = 3\n", want: "want a string or a list of strings"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := setupConfig(t, tt.content)
			res := runCLI(t, map[string]string{"HOME": b.home}, "repo", "list")
			require.Equal(t, exitUsage, res.code, res.stderr)
			require.Contains(t, res.stderr, tt.want)

			// Commands that need no server still work.
			res = runCLI(t, map[string]string{"HOME": b.home}, "key", "generate", "--name", "x",
				"--out", filepath.Join(t.TempDir(), "k.asc"))
			require.Equal(t, exitOK, res.code, res.stderr)
		})
	}
}

func TestConfigProfileSigningKey(t *testing.T) {
	t.Parallel()
	b := setupPkg(t, publishes)
	home := t.TempDir()
	file := filepath.Join(home, "aptq.toml")
	require.NoError(t, os.WriteFile(file, []byte(`
default_profile = "ci"
[profiles.ci]
server = "`+b.env["APTQ_URL"]+`"
token = "`+fakeToken+`"
key = ["`+b.keyPath+`"]
`), 0o644))
	res := runCLI(t, map[string]string{"HOME": home, "APTQ_CONFIG": file, "APTQ_NO_VERIFY": "1"},
		"release", "resign", "--repo", "acme", "--release", "stable")
	require.Equal(t, exitOK, res.code, res.stderr)
	require.Contains(t, res.stderr, "warning: "+file+" holds a token and is readable by others (mode 0644)")
	require.Len(t, b.api.snapshot().signatures, 1)
}

func TestLogin(t *testing.T) {
	t.Parallel()
	b := setupConfig(t, "")
	env := map[string]string{"HOME": b.home}

	res := runCLIStdin(t, env, fakeToken+"\n", "login", "--server", b.url, "--json")
	require.Equal(t, exitOK, res.code, res.stderr)
	var out map[string]any
	require.NoError(t, json.Unmarshal([]byte(res.stdout), &out), res.stdout)
	require.Equal(t, map[string]any{"profile": "default", "server": b.url, "config": b.file, "repos": float64(1)}, out)

	info, err := os.Stat(b.file)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), info.Mode().Perm())
	info, err = os.Stat(filepath.Dir(b.file))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o700), info.Mode().Perm())

	// A second profile keeps the first, and the first stays the default.
	res = runCLI(t, env, "login", "--server", b.url, "--profile", "staging", "--token", fakeToken)
	require.Equal(t, exitOK, res.code, res.stderr)
	require.Contains(t, res.stdout, `saved as profile "staging" in `+b.file)
	require.Contains(t, res.stderr, `the default profile is still "default"`)
	var cf configFile
	_, err = toml.DecodeFile(b.file, &cf)
	require.NoError(t, err)
	require.Equal(t, configFile{DefaultProfile: "default", Profiles: map[string]profile{
		"default": {Server: b.url, Token: fakeToken},
		"staging": {Server: b.url, Token: fakeToken},
	}}, cf)

	// The saved profile works without any APTQ_* variable.
	res = runCLI(t, env, "repo", "list")
	require.Equal(t, exitOK, res.code, res.stderr)
	require.Contains(t, res.stdout, "acme")
}

func TestLoginRefused(t *testing.T) {
	t.Parallel()
	b := setupConfig(t, "")
	env := map[string]string{"HOME": b.home}

	res := runCLIStdin(t, env, "revoked\n", "login", "--server", b.url)
	require.Equal(t, exitAuth, res.code, res.stderr)
	require.Contains(t, res.stderr, "aptq: unauthorized: ")
	_, err := os.Stat(b.file)
	require.ErrorIs(t, err, os.ErrNotExist, "a refused token is not saved")

	res = runCLIStdin(t, env, "\n", "login", "--server", b.url)
	require.Equal(t, exitUsage, res.code, res.stderr)
	require.Contains(t, res.stderr, "no token")

	res = runCLIStdin(t, env, fakeToken+"\n", "login")
	require.Equal(t, exitUsage, res.code, res.stderr)
	require.Contains(t, res.stderr, "--server URL is required")

	res = runCLIStdin(t, map[string]string{}, fakeToken+"\n", "login", "--server", b.url)
	require.Equal(t, exitUsage, res.code, res.stderr)
	require.Contains(t, res.stderr, "nowhere to save the token")
}
