package sign

// Tests against the real GnuPG tools: apt verifies with gpgv, and users may
// sign with gpg, so both directions must interoperate.

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// gpgHome makes a throwaway GNUPGHOME and stops its gpg-agent at the end.
func gpgHome(t testing.TB) string {
	t.Helper()
	for _, tool := range []string{"gpg", "gpgv", "gpgconf"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not found: install gnupg and gpgv (`make services` does)", tool)
		}
	}
	home := t.TempDir()
	t.Cleanup(func() {
		_ = exec.Command("gpgconf", "--homedir", home, "--kill", "all").Run()
	})
	return home
}

// run runs a GnuPG tool in home and returns its stdout; it fails the test
// when the tool exits non-zero.
func run(t testing.TB, home string, stdin []byte, tool string, args ...string) []byte {
	t.Helper()
	out, err := runExit(home, stdin, tool, args...)
	require.NoError(t, err, "%s %s:\n%s", tool, strings.Join(args, " "), out)
	return out
}

func runExit(home string, stdin []byte, tool string, args ...string) ([]byte, error) {
	cmd := exec.Command(tool, append([]string{"--homedir", home}, args...)...)
	cmd.Stdin = bytes.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		return append(stdout.Bytes(), stderr.Bytes()...), err
	}
	return stdout.Bytes(), nil
}

// gpgKey makes a key in home with gpg and returns its fingerprint.
func gpgKey(t testing.TB, home, uid, algo, usage, passphrase string) string {
	t.Helper()
	run(t, home, nil, "gpg", "--batch", "--pinentry-mode", "loopback", "--passphrase", passphrase,
		"--quick-gen-key", uid, algo, usage, "never")
	for line := range strings.Lines(string(run(t, home, nil, "gpg", "--with-colons", "--list-keys", uid))) {
		if fields := strings.Split(line, ":"); fields[0] == "fpr" {
			return fields[9]
		}
	}
	t.Fatalf("no fingerprint for %s", uid)
	return ""
}

// gpgvVerdict is what apt concludes from gpgv's status output (apt's
// methods/gpgv.cc): a file is accepted when it has a good signature and no bad
// one; signatures by keys missing from the keyring are tolerated.
type gpgvVerdict struct {
	Good     []string // primary-key fingerprints of valid signatures
	Bad      int
	NoPubKey int
}

func (v gpgvVerdict) aptAccepts() bool { return len(v.Good) > 0 && v.Bad == 0 }

// gpgv verifies files (InRelease, or Release.gpg and Release) against keyring.
func gpgv(t testing.TB, keyring []byte, files ...[]byte) gpgvVerdict {
	t.Helper()
	home := gpgHome(t)
	ring := filepath.Join(home, "keyring.gpg")
	require.NoError(t, os.WriteFile(ring, keyring, 0o600))
	args := []string{"--status-fd", "1", "--keyring", ring}
	for i, f := range files {
		name := filepath.Join(home, []string{"signed", "data"}[i])
		require.NoError(t, os.WriteFile(name, f, 0o600))
		args = append(args, name)
	}
	out, _ := runExit(home, nil, "gpgv", args...) // exit 2 with a missing key is fine for apt
	var v gpgvVerdict
	for line := range strings.Lines(string(out)) {
		fields := strings.Fields(line)
		if len(fields) < 2 || fields[0] != "[GNUPG:]" {
			continue
		}
		switch fields[1] {
		case "VALIDSIG":
			v.Good = append(v.Good, fields[len(fields)-1])
		case "NO_PUBKEY":
			v.NoPubKey++
		case "BADSIG", "EXPSIG", "EXPKEYSIG", "REVKEYSIG":
			v.Bad++
		case "ERRSIG":
			if fields[7] != "9" { // 9: no public key, reported by NO_PUBKEY
				v.Bad++
			}
		}
	}
	slices.Sort(v.Good)
	return v
}

func TestVerifyAcceptsGPGSignatures(t *testing.T) {
	t.Parallel()
	home := gpgHome(t)
	fpr := gpgKey(t, home, "Test <t@example.com>", "ed25519", "sign", "")
	// Register the key as the server stores it: normalized by ParsePublicKey.
	pk, err := ParsePublicKey(run(t, home, nil, "gpg", "--armor", "--export", fpr))
	require.NoError(t, err)
	require.Equal(t, fpr, pk.Fingerprint)
	require.Equal(t, []string{"Test <t@example.com>"}, pk.UserIDs)
	pub := pk.Armored
	keyring, err := Dearmor(pub)
	require.NoError(t, err)

	tests := []struct {
		name    string
		release string
		digest  []string
	}{
		{name: "release", release: testRelease},
		{name: "release SHA512", release: testRelease, digest: []string{"--digest-algo", "SHA512"}},
		{name: "dash and From lines", release: "Origin: x\n-dash\nFrom me\n- dash space\n"},
		// gpg keeps trailing whitespace in the text and leaves it out of the signature.
		{name: "trailing whitespace", release: "Origin: x  \nLabel: y\t\n"},
		{name: "no final newline", release: "Origin: x\nLabel: y"},
		{name: "blank last line", release: "Origin: x\n\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			release := []byte(tt.release)
			sign := func(args ...string) []byte {
				args = append([]string{"--batch", "--local-user", fpr}, append(tt.digest, args...)...)
				return run(t, home, release, "gpg", append(args, "--output", "-")...)
			}
			inRelease := sign("--clearsign")
			releaseGPG := sign("--detach-sign", "--armor")

			signers, err := Verify(release, inRelease, releaseGPG, [][]byte{pub})
			require.NoError(t, err)
			require.Equal(t, []string{fpr}, signers)
			require.True(t, gpgv(t, keyring, inRelease).aptAccepts(), "gpgv with the normalized key")

			_, err = Verify(append(release, "X: y\n"...), inRelease, releaseGPG, [][]byte{pub})
			require.ErrorIs(t, err, ErrContentMismatch)
		})
	}
}

func TestParsePrivateKeyFromGPG(t *testing.T) {
	t.Parallel()
	home := gpgHome(t)
	// future-default: an ed25519 primary key plus a cv25519 encryption subkey,
	// both protected by the passphrase.
	fpr := gpgKey(t, home, "Enc <enc@example.com>", "future-default", "default", "s3cret")
	priv := run(t, home, nil, "gpg", "--batch", "--pinentry-mode", "loopback", "--passphrase", "s3cret",
		"--armor", "--export-secret-keys", fpr)
	pub := run(t, home, nil, "gpg", "--armor", "--export", fpr)

	_, err := ParsePrivateKey(priv, nil)
	require.ErrorIs(t, err, ErrPassphrase)
	_, err = ParsePrivateKey(priv, []byte("wrong"))
	require.ErrorIs(t, err, ErrPassphrase)

	s, err := ParsePrivateKey(priv, []byte("s3cret"))
	require.NoError(t, err)
	require.Equal(t, fpr, s.Fingerprint())
	release := []byte(testRelease)
	inRelease, releaseGPG, err := Sign(release, s)
	require.NoError(t, err)
	signers, err := Verify(release, inRelease, releaseGPG, [][]byte{pub})
	require.NoError(t, err)
	require.Equal(t, []string{fpr}, signers)

	keyring := run(t, home, nil, "gpg", "--export", fpr)
	require.True(t, gpgv(t, keyring, inRelease).aptAccepts())
	require.True(t, gpgv(t, keyring, releaseGPG, release).aptAccepts())
}

func TestGPGVAcceptsOurSignatures(t *testing.T) {
	t.Parallel()
	a, aPub := newKey(t, "a")
	b, bPub := newKey(t, "b")
	keyring := func(pubs ...[]byte) []byte {
		var ring []byte
		for _, p := range pubs {
			bin, err := Dearmor(p)
			require.NoError(t, err)
			ring = append(ring, bin...)
		}
		return ring
	}
	both := []string{a.Fingerprint(), b.Fingerprint()}
	slices.Sort(both)

	tests := []struct {
		name     string
		release  string
		signers  []*Signer
		keyring  []byte
		wantGood []string
		wantOK   bool
	}{
		{name: "one signer", release: testRelease, signers: []*Signer{a}, keyring: keyring(aPub), wantGood: []string{a.Fingerprint()}, wantOK: true},
		{name: "dash lines, no final newline", release: "Origin: x\n-dash\nFrom me", signers: []*Signer{a}, keyring: keyring(aPub), wantGood: []string{a.Fingerprint()}, wantOK: true},
		{name: "rotation, keyring has the old key", release: testRelease, signers: []*Signer{a, b}, keyring: keyring(aPub), wantGood: []string{a.Fingerprint()}, wantOK: true},
		{name: "rotation, keyring has the new key", release: testRelease, signers: []*Signer{a, b}, keyring: keyring(bPub), wantGood: []string{b.Fingerprint()}, wantOK: true},
		{name: "rotation, keyring has both", release: testRelease, signers: []*Signer{a, b}, keyring: keyring(aPub, bPub), wantGood: both, wantOK: true},
		{name: "wrong key", release: testRelease, signers: []*Signer{a}, keyring: keyring(bPub)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			release := []byte(tt.release)
			inRelease, releaseGPG, err := Sign(release, tt.signers...)
			require.NoError(t, err)

			for name, v := range map[string]gpgvVerdict{
				"InRelease":   gpgv(t, tt.keyring, inRelease),
				"Release.gpg": gpgv(t, tt.keyring, releaseGPG, release),
			} {
				require.Equal(t, tt.wantOK, v.aptAccepts(), "%s: %+v", name, v)
				require.Equal(t, tt.wantGood, v.Good, name)
				require.Equal(t, len(tt.signers)-len(tt.wantGood), v.NoPubKey, name)
			}
		})
	}
}
