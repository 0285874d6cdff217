package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"

	"github.com/spf13/cobra"

	"github.com/aptq/aptq/sign"
)

// signFlags choose the keys a command signs rounds with.
type signFlags struct {
	keys           []string // --key, repeatable: private key files
	gpg            []string // --gpg, repeatable: key IDs in the gpg keyring
	passphraseFile string
	verify         verifyFlags
}

func (s *signFlags) register(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringArrayVar(&s.keys, "key", nil, "private signing key file; repeat to sign with several keys, e.g. the old\n"+
		"and the new one during a key rotation (default: env APTQ_SIGNING_KEY, else the profile's key)")
	f.StringArrayVar(&s.gpg, "gpg", nil, "sign through the system gpg with this key ID or fingerprint (gpg-agent,\n"+
		"smartcards and HSMs work; honours GNUPGHOME); repeatable; not with --key")
	f.StringVar(&s.passphraseFile, "passphrase-file", "", "file holding the signing key's passphrase (default: env\n"+
		"APTQ_SIGNING_KEY_PASSPHRASE, else APTQ_SIGNING_KEY_PASSPHRASE_FILE)")
	s.verify.register(cmd)
}

const signingHelp = `
Signing: each round is signed here, never on the server, with every key given:
  --key FILE.asc        an armored private key file (repeatable; a file may
                        hold several keys in a row, which all sign); default:
                        env APTQ_SIGNING_KEY (a path, or the armored key
                        itself), else the profile's key
  --gpg KEYID           through the system gpg (repeatable), e.g. a key in
                        gpg-agent or on a smartcard; default: env APTQ_GPG_KEY
                        (IDs separated by commas), else the profile's gpg
--key and --gpg cannot be mixed. An encrypted key's passphrase comes from
--passphrase-file, else APTQ_SIGNING_KEY_PASSPHRASE, else the file named by
APTQ_SIGNING_KEY_PASSPHRASE_FILE (one passphrase for all keys; for --gpg it is
passed to gpg with --pinentry-mode loopback, else gpg-agent asks for it).
Signing with two keys lets apt clients that trust either one accept the
release, which is how a key rotation is done without breaking them.`

// releaseSigner signs a round's Release: InRelease (clearsigned) and
// Release.gpg (detached, armored), each with one signature per key.
type releaseSigner interface {
	Sign(ctx context.Context, release []byte) (inRelease, releaseGPG []byte, err error)
	// Fingerprints are the primary key fingerprints it signs with.
	Fingerprints() []string
	// PublicKeys are the armored public keys it signs with, which the
	// previous generation must verify with before a round is signed.
	PublicKeys(ctx context.Context) ([][]byte, error)
}

// loadSigner resolves the signing keys, by precedence flags > environment >
// profile, and loads them before anything is uploaded, so that a missing key
// or a wrong passphrase fails at once.
func (a *app) loadSigner(ctx context.Context, s signFlags) (releaseSigner, error) {
	keys, gpgIDs, err := a.signingSources(s)
	if err != nil {
		return nil, err
	}
	passphrase, err := a.passphrase(s)
	if err != nil {
		return nil, err
	}
	if len(gpgIDs) > 0 {
		return a.newGPGSigner(ctx, gpgIDs, passphrase)
	}
	var signers keySigner
	for _, k := range keys {
		loaded, err := loadKey(k, passphrase)
		if err != nil {
			return nil, err
		}
		signers = append(signers, loaded...)
	}
	return signers, nil
}

// keySource is one --key value: a path, or (from APTQ_SIGNING_KEY) the armored key.
type keySource struct {
	name    string // how the user named it, for errors
	path    string
	armored []byte
}

func (a *app) signingSources(s signFlags) ([]keySource, []string, error) {
	const none = "no signing key: pass --key FILE.asc or --gpg KEYID, set APTQ_SIGNING_KEY " +
		"(a path or the armored private key) or APTQ_GPG_KEY, or name a key in the config profile"
	var keys []keySource
	switch {
	case len(s.keys) > 0 && len(s.gpg) > 0:
		return nil, nil, usageErrorf("--key and --gpg cannot be mixed: sign with key files or with gpg " +
			"(import the key files into gpg to use both)")
	case len(s.gpg) > 0:
		return nil, s.gpg, nil
	case len(s.keys) > 0:
		for _, k := range s.keys {
			keys = append(keys, keySource{name: "--key " + k, path: k})
		}
		return keys, nil, nil
	}

	env, envGPG := a.getenv("APTQ_SIGNING_KEY"), splitList(a.getenv("APTQ_GPG_KEY"))
	switch {
	case env != "" && len(envGPG) > 0:
		return nil, nil, usageErrorf("APTQ_SIGNING_KEY and APTQ_GPG_KEY are both set; unset one, or choose with --key / --gpg")
	case len(envGPG) > 0:
		return nil, envGPG, nil
	case strings.HasPrefix(strings.TrimSpace(env), "-----BEGIN"):
		return []keySource{{name: "APTQ_SIGNING_KEY", armored: []byte(env)}}, nil, nil
	case env != "":
		return []keySource{{name: "APTQ_SIGNING_KEY=" + env, path: env}}, nil, nil
	}

	p := a.conf.profile
	switch {
	case len(p.Key) > 0 && len(p.GPG) > 0:
		return nil, nil, usageErrorf("profile %q names both key and gpg; keep one", a.conf.name)
	case len(p.GPG) > 0:
		return nil, p.GPG, nil
	case len(p.Key) > 0:
		for _, k := range p.Key {
			keys = append(keys, keySource{name: fmt.Sprintf("key %s (profile %s)", k, a.conf.name), path: k})
		}
		return keys, nil, nil
	}
	return nil, nil, usageErrorf(none)
}

// splitArmored cuts text holding armored blocks into one string per block.
func splitArmored(text string) []string {
	const begin = "-----BEGIN "
	var blocks []string
	for rest := strings.TrimSpace(text); rest != ""; {
		next := strings.Index(rest[len(begin):], begin)
		if next < 0 {
			blocks = append(blocks, rest)
			break
		}
		blocks = append(blocks, strings.TrimSpace(rest[:len(begin)+next]))
		rest = strings.TrimSpace(rest[len(begin)+next:])
	}
	return blocks
}

func splitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' })
}

// passphrase is --passphrase-file, else APTQ_SIGNING_KEY_PASSPHRASE, else the
// file APTQ_SIGNING_KEY_PASSPHRASE_FILE names, else the profile's file.
// A file's final newline is not part of the passphrase.
func (a *app) passphrase(s signFlags) ([]byte, error) {
	file, source := s.passphraseFile, "--passphrase-file"
	if file == "" {
		if p := a.getenv("APTQ_SIGNING_KEY_PASSPHRASE"); p != "" {
			return []byte(p), nil
		}
		file, source = a.getenv("APTQ_SIGNING_KEY_PASSPHRASE_FILE"), "APTQ_SIGNING_KEY_PASSPHRASE_FILE"
	}
	if file == "" {
		file, source = a.conf.profile.PassphraseFile, fmt.Sprintf("passphrase_file (profile %s)", a.conf.name)
	}
	if file == "" {
		return nil, nil
	}
	data, err := readSmallFile(file)
	if err != nil {
		return nil, failf("passphrase", "%s: %v", source, err)
	}
	data = bytes.TrimSuffix(data, []byte("\n"))
	return bytes.TrimSuffix(data, []byte("\r")), nil
}

// loadKey loads the keys of one source: a file (or variable) may hold
// several armored keys one after the other, which all sign.
func loadKey(k keySource, passphrase []byte) ([]*sign.Signer, error) {
	data := k.armored
	if data == nil {
		var err error
		if data, err = readSmallFile(k.path); err != nil {
			var ce *cliError
			if errors.As(err, &ce) {
				return nil, err
			}
			return nil, failf("signing_key", "%s: %v", k.name, err)
		}
	}
	blocks := [][]byte{data} // binary keys are read as they are
	if text := string(data); strings.HasPrefix(strings.TrimSpace(text), "-----BEGIN") {
		blocks = blocks[:0]
		for _, b := range splitArmored(text) {
			blocks = append(blocks, []byte(b))
		}
	}
	signers := make([]*sign.Signer, 0, len(blocks))
	for i, b := range blocks {
		name := k.name
		if len(blocks) > 1 {
			name = fmt.Sprintf("%s (key %d of %d)", k.name, i+1, len(blocks))
		}
		signer, err := sign.ParsePrivateKey(b, passphrase)
		if err != nil {
			return nil, failf("signing_key", "%s: %v", name, err)
		}
		signers = append(signers, signer)
	}
	return signers, nil
}

// keySigner signs with private keys held in this process.
type keySigner []*sign.Signer

func (k keySigner) Sign(_ context.Context, release []byte) ([]byte, []byte, error) {
	return sign.Sign(release, k...)
}

func (k keySigner) PublicKeys(context.Context) ([][]byte, error) {
	out := make([][]byte, len(k))
	for i, s := range k {
		var err error
		if out[i], err = s.PublicArmored(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (k keySigner) Fingerprints() []string {
	fprs := make([]string, len(k))
	for i, s := range k {
		fprs[i] = s.Fingerprint()
	}
	return fprs
}

// gpgSigner signs through the system gpg, so that keys gpg-agent holds (on
// disk, on a smartcard, behind an HSM's PKCS#11 agent) work without ever
// being exported.
type gpgSigner struct {
	program    string
	ids        []string // as the user gave them, for --local-user
	fprs       []string
	env        []string
	home       string // GNUPGHOME, when set
	passphrase []byte
}

// newGPGSigner checks that gpg has a usable secret key for every ID and
// learns their fingerprints.
func (a *app) newGPGSigner(ctx context.Context, ids []string, passphrase []byte) (*gpgSigner, error) {
	program, err := exec.LookPath("gpg")
	if err != nil {
		return nil, failf("gpg", "--gpg needs the gpg program: %v", err)
	}
	g := &gpgSigner{program: program, ids: ids, passphrase: passphrase, env: os.Environ()}
	// The environment is read through getenv (see run); GNUPGHOME is the one
	// variable of it that gpg needs to see the same way.
	if g.home = a.getenv("GNUPGHOME"); g.home != "" {
		g.env = append(g.env, "GNUPGHOME="+g.home)
	}
	for _, id := range ids {
		fpr, err := g.secretKey(ctx, id)
		if err != nil {
			return nil, err
		}
		g.fprs = append(g.fprs, fpr)
	}
	return g, nil
}

// secretKey finds id's secret key with gpg --list-secret-keys and returns
// its primary key fingerprint, refusing keys that cannot sign.
func (g *gpgSigner) secretKey(ctx context.Context, id string) (string, error) {
	out, err := g.run(ctx, nil, false, "--with-colons", "--list-secret-keys", "--", id)
	if err != nil {
		return "", failf("signing_key", "--gpg %s: gpg has no secret key for it%s: %v", id, g.homeHint(), err)
	}
	// Records: sec (primary key: validity in field 2, capabilities in
	// field 12), then its fpr; the first sec is what --local-user picks.
	var sec []string
	for line := range strings.Lines(string(out)) {
		f := strings.Split(strings.TrimRight(line, "\n"), ":")
		switch {
		case f[0] == "sec" && sec == nil:
			sec = f
		case f[0] == "fpr" && sec != nil && len(f) > 9:
			switch {
			case len(sec) > 1 && (sec[1] == "e" || sec[1] == "r"):
				return "", failf("signing_key", "--gpg %s: key %s is expired or revoked", id, f[9])
			case len(sec) > 11 && !strings.Contains(sec[11], "S"):
				return "", failf("signing_key", "--gpg %s: key %s has no usable signing key (capabilities %q)", id, f[9], sec[11])
			}
			return f[9], nil
		}
	}
	return "", failf("signing_key", "--gpg %s: gpg listed no secret key for it%s", id, g.homeHint())
}

func (g *gpgSigner) homeHint() string {
	if g.home == "" {
		return ""
	}
	return " in GNUPGHOME=" + g.home
}

func (g *gpgSigner) Fingerprints() []string { return g.fprs }

// PublicKeys exports the signing keys' public keys from gpg.
func (g *gpgSigner) PublicKeys(ctx context.Context) ([][]byte, error) {
	out := make([][]byte, len(g.fprs))
	for i, fpr := range g.fprs {
		var err error
		if out[i], err = g.run(ctx, nil, false, "--armor", "--export", "--", fpr); err != nil {
			return nil, fmt.Errorf("gpg --export %s: %w", fpr, err)
		}
	}
	return out, nil
}

// Sign runs gpg twice over release, with one --local-user per key: gpg then
// makes one signature per key in each file. SHA-512 is asked for, as apt
// refuses SHA-1 and a gpg.conf may prefer it.
func (g *gpgSigner) Sign(ctx context.Context, release []byte) ([]byte, []byte, error) {
	args := []string{"--batch", "--yes", "--digest-algo", "SHA512"}
	for _, id := range g.ids {
		args = append(args, "--local-user", id)
	}
	inRelease, err := g.run(ctx, release, true, append(args, "--clearsign", "--output", "-")...)
	if err != nil {
		return nil, nil, fmt.Errorf("gpg --clearsign: %w", err)
	}
	releaseGPG, err := g.run(ctx, release, true, append(args, "--armor", "--detach-sign", "--output", "-")...)
	if err != nil {
		return nil, nil, fmt.Errorf("gpg --detach-sign: %w", err)
	}
	return inRelease, releaseGPG, nil
}

// run runs gpg with stdin and returns its stdout; a failure carries gpg's
// stderr, which says why (no secret key, bad passphrase, card missing).
// unlock passes the passphrase, when there is one.
func (g *gpgSigner) run(ctx context.Context, stdin []byte, unlock bool, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, g.program, args...)
	cmd.Env = g.env
	cmd.Stdin = bytes.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if unlock && g.passphrase != nil {
		// Through a pipe on fd 3, never argv (ps shows it) or a file.
		r, w, err := os.Pipe()
		if err != nil {
			return nil, err
		}
		defer r.Close()
		// A passphrase is far smaller than a pipe's buffer: writing it all
		// before gpg starts cannot block.
		_, werr := w.Write(append(append([]byte(nil), g.passphrase...), '\n'))
		_ = w.Close()
		if werr != nil {
			return nil, werr
		}
		cmd.ExtraFiles = []*os.File{r}
		cmd.Args = append([]string{cmd.Args[0], "--pinentry-mode", "loopback", "--passphrase-fd", "3"}, cmd.Args[1:]...)
	}
	if err := cmd.Run(); err != nil {
		if msg := strings.TrimSpace(stderr.String()); msg != "" {
			return nil, fmt.Errorf("%w: %s", err, strings.Join(strings.Fields(msg), " "))
		}
		return nil, err
	}
	return stdout.Bytes(), nil
}
