package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/client"
	"github.com/aptq/aptq/sign"
)

// gpgHome makes a throwaway GNUPGHOME and stops its gpg-agent at the end.
func gpgHome(t *testing.T) string {
	t.Helper()
	for _, tool := range []string{"gpg", "gpgconf"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not found: install gnupg (`make services` does)", tool)
		}
	}
	// Short: gpg-agent's socket path must fit in a sockaddr_un.
	home, err := os.MkdirTemp("", "gpg")
	require.NoError(t, err)
	require.NoError(t, os.Chmod(home, 0o700))
	// The agent tunes passphrase hashing to take ~100 ms per use; tests
	// unlock keys often and need no such protection.
	require.NoError(t, os.WriteFile(filepath.Join(home, "gpg-agent.conf"), []byte("s2k-count 65536\n"), 0o600))
	t.Cleanup(func() {
		_ = exec.Command("gpgconf", "--homedir", home, "--kill", "all").Run()
		_ = os.RemoveAll(home)
	})
	return home
}

func gpgRun(t *testing.T, home string, stdin []byte, args ...string) []byte {
	t.Helper()
	cmd := exec.Command("gpg", append([]string{"--homedir", home, "--batch"}, args...)...)
	cmd.Stdin = bytes.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run(), "gpg %s: %s", strings.Join(args, " "), stderr.String())
	return stdout.Bytes()
}

// gpgKey makes an ed25519 signing key in home and returns its fingerprint
// and armored public key.
func gpgKey(t *testing.T, home, uid, passphrase string) (string, []byte) {
	t.Helper()
	gpgRun(t, home, nil, "--pinentry-mode", "loopback", "--passphrase", passphrase,
		"--quick-gen-key", uid, "ed25519", "sign", "never")
	for line := range strings.Lines(string(gpgRun(t, home, nil, "--with-colons", "--list-keys", uid))) {
		if f := strings.Split(line, ":"); f[0] == "fpr" {
			return f[9], gpgRun(t, home, nil, "--armor", "--export", f[9])
		}
	}
	t.Fatalf("no fingerprint for %s", uid)
	return "", nil
}

// resign runs release resign against a fake API holding registered keys.
func resign(t *testing.T, env map[string]string, registered [][]byte, args ...string) (result, *fakeAPI) {
	t.Helper()
	api, srv := newFakeAPI(t, publishes, registered...)
	env["APTQ_URL"], env["APTQ_TOKEN"], env["APTQ_NO_VERIFY"] = srv.URL, fakeToken, "1"
	res := runCLI(t, env, append([]string{"release", "resign", "--repo", "acme", "--release", "stable", "--json"}, args...)...)
	return res, api
}

func signedBy(t *testing.T, res result) []string {
	t.Helper()
	var out outcome
	require.NoError(t, json.Unmarshal([]byte(res.stdout), &out), res.stdout)
	return out.SignedBy
}

func TestSignWithGPG(t *testing.T) {
	t.Parallel()
	home := gpgHome(t)
	fpr, pub := gpgKey(t, home, "Test <t@example.com>", "")

	// By fingerprint with --gpg, and by user ID from APTQ_GPG_KEY.
	for _, env := range []map[string]string{
		{"GNUPGHOME": home, "__args": "--gpg " + fpr},
		{"GNUPGHOME": home, "APTQ_GPG_KEY": "t@example.com"},
	} {
		args := strings.Fields(env["__args"])
		delete(env, "__args")
		res, api := resign(t, env, [][]byte{pub}, args...)
		require.Equal(t, exitOK, res.code, res.stderr)
		require.Equal(t, []string{fpr}, signedBy(t, res), "the fake verified gpg's signature with sign.Verify")
		sig := api.snapshot().signatures[0]
		require.Contains(t, sig.InRelease, "Hash: SHA512")
		require.True(t, strings.HasPrefix(sig.ReleaseGPG, "-----BEGIN PGP SIGNATURE-----"))
	}
}

func TestSignWithTwoGPGKeys(t *testing.T) {
	t.Parallel()
	home := gpgHome(t)
	oldFpr, oldPub := gpgKey(t, home, "Old <old@example.com>", "")
	newFpr, newPub := gpgKey(t, home, "New <new@example.com>", "")

	// Only the new key is registered: its signature is the one that counts.
	res, api := resign(t, map[string]string{"GNUPGHOME": home}, [][]byte{newPub}, "--gpg", oldFpr, "--gpg", newFpr)
	require.Equal(t, exitOK, res.code, res.stderr)
	require.Equal(t, []string{newFpr}, signedBy(t, res))

	// Both files carry both signatures: a client trusting only the old key
	// accepts them too.
	sig := api.snapshot().signatures[0]
	signers, err := sign.Verify([]byte(fakeRelease), []byte(sig.InRelease), []byte(sig.ReleaseGPG), [][]byte{oldPub})
	require.NoError(t, err)
	require.Equal(t, []string{oldFpr}, signers)
}

func TestSignWithGPGPassphrase(t *testing.T) {
	t.Parallel()
	home := gpgHome(t)
	fpr, pub := gpgKey(t, home, "Locked <locked@example.com>", "s3cret")

	// Wrong first: gpg-agent caches a passphrase once it was right.
	res, _ := resign(t, map[string]string{"GNUPGHOME": home, "APTQ_SIGNING_KEY_PASSPHRASE": "wrong"}, [][]byte{pub}, "--gpg", fpr)
	require.Equal(t, exitFailed, res.code, res.stderr)
	require.Contains(t, res.stderr, "aptq: sign: sign round 9: gpg --clearsign: ")

	file := filepath.Join(t.TempDir(), "passphrase")
	require.NoError(t, os.WriteFile(file, []byte("s3cret\n"), 0o600))
	res, _ = resign(t, map[string]string{"GNUPGHOME": home}, [][]byte{pub}, "--gpg", fpr, "--passphrase-file", file)
	require.Equal(t, exitOK, res.code, res.stderr)
	require.Equal(t, []string{fpr}, signedBy(t, res))
}

func TestSignWithGPGUnknownKey(t *testing.T) {
	t.Parallel()
	home := gpgHome(t)
	_, pub := gpgKey(t, home, "Test <t@example.com>", "")
	res, api := resign(t, map[string]string{"GNUPGHOME": home}, [][]byte{pub}, "--gpg", "nobody@example.com")
	require.Equal(t, exitFailed, res.code, res.stderr)
	require.Contains(t, res.stderr, "aptq: signing_key: --gpg nobody@example.com: gpg has no secret key for it in GNUPGHOME="+home)
	require.Zero(t, api.snapshot().requests, "checked before anything is sent")
}

func TestSignWithTwoKeys(t *testing.T) {
	t.Parallel()
	oldPriv, _, oldPub := keyFiles(t)
	newPriv, _, newPub := keyFiles(t)
	newKey, err := sign.ParsePublicKey(newPub)
	require.NoError(t, err)
	oldKey, err := sign.ParsePublicKey(oldPub)
	require.NoError(t, err)

	// Key rotation: the server has only the new key; the CLI signs with both.
	res, api := resign(t, map[string]string{}, [][]byte{newPub}, "--key", oldPriv, "--key", newPriv)
	require.Equal(t, exitOK, res.code, res.stderr)
	require.Equal(t, []string{newKey.Fingerprint}, signedBy(t, res))

	sig := api.snapshot().signatures[0]
	for _, k := range []sign.PublicKey{oldKey, newKey} {
		signers, err := sign.Verify([]byte(fakeRelease), []byte(sig.InRelease), []byte(sig.ReleaseGPG), [][]byte{k.Armored})
		require.NoError(t, err, "a client trusting only %s accepts the release", k.Fingerprint)
		require.Equal(t, []string{k.Fingerprint}, signers)
	}

	// With only the old key, the server refuses the set: none is registered.
	res, _ = resign(t, map[string]string{}, [][]byte{newPub}, "--key", oldPriv)
	require.Equal(t, exitFailed, res.code, res.stderr)
	require.Contains(t, res.stderr, "aptq: unknown_key: sign round 9: ")
}

func TestEncryptedKeyPassphrase(t *testing.T) {
	t.Parallel()
	home := gpgHome(t)
	fpr, pub := gpgKey(t, home, "Enc <enc@example.com>", "s3cret")
	keyPath := filepath.Join(t.TempDir(), "enc.asc")
	require.NoError(t, os.WriteFile(keyPath, gpgRun(t, home, nil, "--pinentry-mode", "loopback", "--passphrase", "s3cret",
		"--armor", "--export-secret-keys", fpr), 0o600))
	passFile := filepath.Join(t.TempDir(), "pass")
	require.NoError(t, os.WriteFile(passFile, []byte("s3cret\r\n"), 0o600))

	res, api := resign(t, map[string]string{}, [][]byte{pub}, "--key", keyPath)
	require.Equal(t, exitFailed, res.code)
	require.Contains(t, res.stderr, "aptq: signing_key: --key "+keyPath+": ")
	require.Contains(t, res.stderr, "passphrase")
	require.Zero(t, api.snapshot().requests)

	for name, env := range map[string]map[string]string{
		"env":           {"APTQ_SIGNING_KEY_PASSPHRASE": "s3cret"},
		"env file":      {"APTQ_SIGNING_KEY_PASSPHRASE_FILE": passFile},
		"flag":          {"__flag": "1"},
		"flag over env": {"__flag": "1", "APTQ_SIGNING_KEY_PASSPHRASE": "wrong"},
	} {
		args := []string{"--key", keyPath}
		if env["__flag"] != "" {
			args = append(args, "--passphrase-file", passFile)
			delete(env, "__flag")
		}
		res, _ := resign(t, env, [][]byte{pub}, args...)
		require.Equal(t, exitOK, res.code, "%s: %s", name, res.stderr)
		require.Equal(t, []string{fpr}, signedBy(t, res), name)
	}
}

func TestSigningSourceErrors(t *testing.T) {
	t.Parallel()
	priv, _, pub := keyFiles(t)
	tests := map[string]struct {
		env  map[string]string
		args []string
		want string
	}{
		"key and gpg":   {args: []string{"--key", priv, "--gpg", "ABCD"}, want: "--key and --gpg cannot be mixed"},
		"both env":      {env: map[string]string{"APTQ_SIGNING_KEY": priv, "APTQ_GPG_KEY": "ABCD"}, want: "both set"},
		"no key at all": {want: "no signing key"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			env := tt.env
			if env == nil {
				env = map[string]string{}
			}
			res, api := resign(t, env, [][]byte{pub}, tt.args...)
			require.Equal(t, exitUsage, res.code, res.stderr)
			require.Contains(t, res.stderr, tt.want)
			require.Zero(t, api.snapshot().requests)
			var out outcome
			require.NoError(t, json.Unmarshal([]byte(res.stdout), &out), res.stdout)
			require.Equal(t, "usage", out.Error.Code)
			require.Equal(t, client.JobError{Code: "usage", Message: out.Error.Message}, *out.Error)
		})
	}
}

func TestSigningKeysFromOneVariable(t *testing.T) {
	t.Parallel()
	oldPriv, _, oldPub := keyFiles(t)
	newPriv, _, newPub := keyFiles(t)
	var both []byte
	for _, p := range []string{oldPriv, newPriv} {
		data, err := os.ReadFile(p)
		require.NoError(t, err)
		both = append(both, data...)
	}
	newKey, err := sign.ParsePublicKey(newPub)
	require.NoError(t, err)
	res, api := resign(t, map[string]string{"APTQ_SIGNING_KEY": string(both)}, [][]byte{newPub})
	require.Equal(t, exitOK, res.code, res.stderr)
	require.Equal(t, []string{newKey.Fingerprint}, signedBy(t, res))
	sig := api.snapshot().signatures[0]
	_, err = sign.Verify([]byte(fakeRelease), []byte(sig.InRelease), []byte(sig.ReleaseGPG), [][]byte{oldPub})
	require.NoError(t, err, "the old key signed too")
}

func TestSplitArmored(t *testing.T) {
	t.Parallel()
	a := "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nxx\n-----END PGP PRIVATE KEY BLOCK-----"
	b := "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nyy\n-----END PGP PRIVATE KEY BLOCK-----"
	require.Equal(t, []string{a}, splitArmored("\n"+a+"\n"))
	require.Equal(t, []string{a, b}, splitArmored(a+"\n\n"+b+"\n"))
}

func TestSigningKeysFromOneFile(t *testing.T) {
	t.Parallel()
	oldPriv, _, oldPub := keyFiles(t)
	newPriv, _, newPub := keyFiles(t)
	var both []byte
	for _, p := range []string{oldPriv, newPriv} {
		data, err := os.ReadFile(p)
		require.NoError(t, err)
		both = append(both, data...)
	}
	path := filepath.Join(t.TempDir(), "both.asc")
	require.NoError(t, os.WriteFile(path, both, 0o600))
	res, api := resign(t, map[string]string{}, [][]byte{newPub}, "--key", path)
	require.Equal(t, exitOK, res.code, res.stderr)
	sig := api.snapshot().signatures[0]
	_, err := sign.Verify([]byte(fakeRelease), []byte(sig.InRelease), []byte(sig.ReleaseGPG), [][]byte{oldPub})
	require.NoError(t, err, "the old key signed too")
}
