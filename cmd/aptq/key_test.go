package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/sign"
)

func TestPublicKeyPath(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"signing.asc":     "signing.pub.asc",
		"dir/signing.asc": "dir/signing.pub.asc",
		"signing":         "signing.pub.asc",
		"signing.key":     "signing.key.pub.asc",
	} {
		require.Equal(t, want, publicKeyPath(in), in)
	}
}

func TestKeyGenerate(t *testing.T) {
	t.Parallel()
	out := filepath.Join(t.TempDir(), "signing.asc")
	res := runCLI(t, nil, "key", "generate", "--name", "ACME Releases", "--email", "r@acme.example", "--out", out, "--json")
	require.Equal(t, exitOK, res.code, res.stderr)

	info, err := os.Stat(out)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), info.Mode().Perm())
	info, err = os.Stat(publicKeyPath(out))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o644), info.Mode().Perm())

	private, err := os.ReadFile(out)
	require.NoError(t, err)
	signer, err := sign.ParsePrivateKey(private, nil)
	require.NoError(t, err)
	public, err := os.ReadFile(publicKeyPath(out))
	require.NoError(t, err)
	pk, err := sign.ParsePublicKey(public)
	require.NoError(t, err)
	require.Equal(t, signer.Fingerprint(), pk.Fingerprint)
	require.Equal(t, []string{"ACME Releases <r@acme.example>"}, pk.UserIDs)

	var printed map[string]string
	require.NoError(t, json.Unmarshal([]byte(res.stdout), &printed))
	require.Equal(t, map[string]string{
		"fingerprint": pk.Fingerprint, "private_key": out, "public_key": publicKeyPath(out),
	}, printed)
}

// --out into directories that do not exist yet makes them, private.
func TestKeyGenerateMakesDirectory(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "keys", "prod")
	out := filepath.Join(dir, "signing.asc")
	res := runCLI(t, nil, "key", "generate", "--name", "ACME Releases", "--out", out)
	require.Equal(t, exitOK, res.code, res.stderr)
	for _, d := range []string{dir, filepath.Dir(dir)} {
		info, err := os.Stat(d)
		require.NoError(t, err)
		require.Equal(t, os.FileMode(0o700), info.Mode().Perm(), d)
	}
	info, err := os.Stat(out)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), info.Mode().Perm())
	_, err = os.Stat(publicKeyPath(out))
	require.NoError(t, err)
}

func TestKeyGenerateRefusesToOverwrite(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, existing := range []string{"a.asc", "b.pub.asc"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, existing), []byte("keep me"), 0o600))
	}
	for _, out := range []string{"a.asc", "b.asc"} {
		res := runCLI(t, nil, "key", "generate", "--name", "x", "--out", filepath.Join(dir, out))
		require.Equal(t, exitFailed, res.code, out)
		require.Contains(t, res.stderr, "aptq: exists: ")
		require.Contains(t, res.stderr, "refusing to overwrite")
	}
	for _, existing := range []string{"a.asc", "b.pub.asc"} {
		data, err := os.ReadFile(filepath.Join(dir, existing))
		require.NoError(t, err)
		require.Equal(t, "keep me", string(data))
	}
	_, err := os.Stat(filepath.Join(dir, "b.asc"))
	require.ErrorIs(t, err, os.ErrNotExist, "no half pair is left behind")
	_, err = os.Stat(filepath.Join(dir, "a.pub.asc"))
	require.ErrorIs(t, err, os.ErrNotExist)
}

// keyFiles writes a key pair as key generate does and returns the paths.
func keyFiles(t *testing.T) (privPath, pubPath string, public []byte) {
	t.Helper()
	private, public := newKeyPair(t)
	dir := t.TempDir()
	privPath, pubPath = filepath.Join(dir, "k.asc"), filepath.Join(dir, "k.pub.asc")
	require.NoError(t, os.WriteFile(privPath, private, 0o600))
	require.NoError(t, os.WriteFile(pubPath, public, 0o644))
	return privPath, pubPath, public
}

func TestKeyAddRefusesPrivateKey(t *testing.T) {
	t.Parallel()
	privPath, pubPath, public := keyFiles(t)
	api, srv := newFakeAPI(t, publishes, public)

	res := runCLI(t, map[string]string{"APTQ_URL": srv.URL, "APTQ_TOKEN": fakeToken}, "key", "add", "--repo", "acme", privPath)
	require.Equal(t, exitFailed, res.code)
	require.Contains(t, res.stderr, "aptq: private_key: "+privPath+" is a private key; it was not sent")
	require.Contains(t, res.stderr, pubPath, "the message points to the public key")
	require.Zero(t, api.snapshot().requests)
}

func TestKeyAddRegistersPublicKey(t *testing.T) {
	t.Parallel()
	_, pubPath, public := keyFiles(t)
	pk, err := sign.ParsePublicKey(public)
	require.NoError(t, err)
	api, srv := newFakeAPI(t, publishes, public)

	res := runCLI(t, map[string]string{"APTQ_URL": srv.URL, "APTQ_TOKEN": fakeToken}, "key", "add", "--repo", "acme", pubPath)
	require.Equal(t, exitOK, res.code, res.stderr)
	require.Contains(t, res.stdout, "added key "+pk.Fingerprint)
	require.Equal(t, 1, api.snapshot().requests)
}

func newKeyPair(t *testing.T) (private, public []byte) {
	t.Helper()
	private, public, err := sign.GenerateKey("ACME Releases", "r@acme.example")
	require.NoError(t, err)
	return private, public
}

func TestKeyRemove(t *testing.T) {
	t.Parallel()
	_, _, oldPub := keyFiles(t)
	_, _, newPub := keyFiles(t)
	oldKey, err := sign.ParsePublicKey(oldPub)
	require.NoError(t, err)
	newKey, err := sign.ParsePublicKey(newPub)
	require.NoError(t, err)
	api, srv := newFakeAPI(t, publishes, oldPub, newPub)
	env := map[string]string{"APTQ_URL": srv.URL, "APTQ_TOKEN": fakeToken}

	res := runCLI(t, env, "key", "remove", "--repo", "acme", oldKey.Fingerprint, "--json")
	require.Equal(t, exitOK, res.code, res.stderr)
	require.JSONEq(t, `{"repo":"acme","fingerprint":"`+oldKey.Fingerprint+`","removed":true}`, res.stdout)
	require.Equal(t, []string{oldKey.Fingerprint}, api.snapshot().removedKeys)

	// Lowercase and gpg's grouped form name the same key.
	grouped := strings.ToLower(newKey.Fingerprint[:20] + " " + newKey.Fingerprint[20:])
	res = runCLI(t, env, "key", "remove", "--repo", "acme", grouped)
	require.Equal(t, exitFailed, res.code)
	require.Equal(t, "aptq: last_key: acme keeps at least one key\n", res.stderr)

	res = runCLI(t, env, "key", "remove", "--repo", "acme", "--json", newKey.Fingerprint)
	require.Equal(t, exitFailed, res.code)
	require.JSONEq(t, `{"error":{"code":"last_key","message":"acme keeps at least one key"}}`, res.stdout,
		"--json reports failures on stdout too")
}
