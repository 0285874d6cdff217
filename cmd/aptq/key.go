package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/aptq/aptq/client"
	"github.com/aptq/aptq/sign"
)

// Keys are small; the cap only stops a wrong path (an ISO image) from being
// read into memory.
const maxKeyFileSize = 1 << 20

func (a *app) keyCommand() *cobra.Command {
	return a.group("key", "Generate signing keys and register their public halves",
		a.keyGenerateCommand(), a.keyAddCommand(), a.keyListCommand(), a.keyRemoveCommand(), a.keyExportCommand())
}

// publicKeyPath names the public half written beside a private key:
// "signing.asc" → "signing.pub.asc", "signing" → "signing.pub.asc".
func publicKeyPath(privatePath string) string {
	return strings.TrimSuffix(privatePath, ".asc") + ".pub.asc"
}

func (a *app) keyGenerateCommand() *cobra.Command {
	var name, email, out string
	cmd := &cobra.Command{
		Use:   "generate --name NAME [--email EMAIL] --out FILE.asc",
		Short: "Generate a signing key pair",
		Long: `Generate an Ed25519 OpenPGP signing key pair.

The private key is written to FILE.asc (mode 0600, unencrypted: keep it in your
CI's secret store and pass it with --key or APTQ_SIGNING_KEY). The public key is
written beside it, with ".asc" replaced by ".pub.asc" (FILE.pub.asc); register
that one with "aptq key add". Existing files are never overwritten.`,
		Args:        cobra.NoArgs,
		Annotations: map[string]string{noConfig: "works offline"},
		RunE: a.action(defaultTimeout, func(cmd *cobra.Command, _ []string) error {
			return a.keyGenerate(name, email, out)
		}),
	}
	cmd.Flags().StringVar(&name, "name", "", "the key owner's name, e.g. \"ACME Releases\" (required)")
	cmd.Flags().StringVar(&email, "email", "", "the key owner's email")
	cmd.Flags().StringVar(&out, "out", "", "where to write the private key, e.g. keys/signing.asc (required); missing directories are made, mode 0700")
	_ = cmd.MarkFlagRequired("name")
	_ = cmd.MarkFlagRequired("out")
	return cmd
}

func (a *app) keyGenerate(name, email, out string) error {
	pubPath := publicKeyPath(out)
	// Check both before writing either, so a refusal leaves nothing behind.
	for _, p := range []string{out, pubPath} {
		if _, err := os.Lstat(p); err == nil {
			return failf("exists", "%s already exists; refusing to overwrite it", p)
		}
	}
	private, public, err := sign.GenerateKey(name, email)
	if err != nil {
		return err
	}
	pk, err := sign.ParsePublicKey(public)
	if err != nil {
		return err
	}
	// A directory made for a private key is private too (a new
	// --out keys/signing.asc should not need a mkdir first).
	if dir := filepath.Dir(out); dir != "" {
		if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return err
			}
			a.progress("created directory %s (mode 0700)", dir)
		}
	}
	if err := writeNew(out, private, 0o600); err != nil {
		return err
	}
	if err := writeNew(pubPath, public, 0o644); err != nil {
		_ = os.Remove(out) // half a pair is worse than none
		return err
	}
	if a.json {
		return a.printJSON(map[string]string{
			"fingerprint": pk.Fingerprint, "private_key": out, "public_key": pubPath,
		})
	}
	a.printf("%s\n", pk.Fingerprint)
	a.progress("private key: %s (keep it secret)\npublic key:  %s (register it: aptq key add --repo REPO %s)",
		out, pubPath, pubPath)
	return nil
}

// writeNew creates path with data, failing if it exists (O_EXCL also
// closes the race with the check above).
func writeNew(path string, data []byte, perm os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if errors.Is(err, os.ErrExist) {
		return failf("exists", "%s already exists; refusing to overwrite it", path)
	}
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		_ = os.Remove(path)
		return err
	}
	if err := f.Close(); err != nil {
		_ = os.Remove(path)
		return err
	}
	return nil
}

func (a *app) keyAddCommand() *cobra.Command {
	var repo string
	cmd := &cobra.Command{
		Use:   "add --repo REPO FILE.pub.asc",
		Short: "Register a public key on a repository",
		Long: `Register an OpenPGP public key on a repository. Signatures of its releases
must be made by a registered key. A private key is refused before anything is
sent: it must never leave your machine.

Adding a registered key again replaces the stored copy: that is how a new
expiry, or a revocation (gpg --gen-revoke, imported, then gpg --export), reaches
the server. From then on rounds signed by a revoked key are refused
(revoked_key); adding an older export again does not undo a revocation.`,
		Args: cobra.ExactArgs(1),
		RunE: a.action(defaultTimeout, func(cmd *cobra.Command, args []string) error {
			return a.keyAdd(cmd, repo, args[0])
		}),
	}
	cmd.Flags().StringVar(&repo, "repo", "", "repository name (required)")
	_ = cmd.MarkFlagRequired("repo")
	return cmd
}

func (a *app) keyAdd(cmd *cobra.Command, repo, path string) error {
	data, err := readSmallFile(path)
	if err != nil {
		return err
	}
	pk, err := sign.ParsePublicKey(data)
	if err != nil && !errors.Is(err, sign.ErrPrivateKey) {
		// A revoked or expired key goes to the server too: as a new copy of
		// a registered key it is how a revocation or a new expiry takes
		// effect there; as a new key the server refuses it.
		if upd, uerr := sign.ParseKeyUpdate(data, data); uerr == nil {
			pk, err = upd, nil
		}
	}
	switch {
	case errors.Is(err, sign.ErrPrivateKey):
		return failf(client.CodePrivateKey, "%s is a private key; it was not sent. "+
			"Register the public key instead (aptq key generate wrote it as %s)", path, publicKeyPath(path))
	case err != nil:
		return failf("invalid_key", "%s: %v", path, err)
	}
	// pk.Armored holds public packets only, whatever form the file had.
	key, err := a.client().AddKey(cmd.Context(), repo, pk.Armored)
	if err != nil {
		return err
	}
	if a.json {
		return a.printJSON(key)
	}
	verb := "added"
	if key.Revoked {
		verb = "registered the revocation of"
	}
	a.printf("%s key %s %s to %s\n", verb, key.Fingerprint, joinList(key.UserIDs), repo)
	return nil
}

func readSmallFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxKeyFileSize {
		return nil, failf("too_large", "%s is larger than %d bytes: not a key", path, maxKeyFileSize)
	}
	return data, nil
}

func (a *app) keyListCommand() *cobra.Command {
	var repo string
	cmd := &cobra.Command{
		Use:   "list --repo REPO",
		Short: "List a repository's public keys",
		Args:  cobra.NoArgs,
		RunE: a.action(defaultTimeout, func(cmd *cobra.Command, _ []string) error {
			keys, err := a.client().ListKeys(cmd.Context(), repo)
			if err != nil {
				return err
			}
			if a.json {
				return a.printJSON(map[string][]client.Key{"keys": keys})
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "FINGERPRINT\tUSER IDS\tCREATED")
			for _, k := range keys {
				fmt.Fprintf(tw, "%s\t%s\t%s\n", k.Fingerprint, joinList(k.UserIDs),
					k.CreatedAt.Format(time.DateTime))
			}
			return tw.Flush()
		}),
	}
	cmd.Flags().StringVar(&repo, "repo", "", "repository name (required)")
	_ = cmd.MarkFlagRequired("repo")
	return cmd
}

func (a *app) keyRemoveCommand() *cobra.Command {
	var repo string
	cmd := &cobra.Command{
		Use:   "remove --repo REPO FINGERPRINT",
		Short: "Unregister a public key from a repository",
		Long: `Unregister a public key: signatures by it no longer count for the repository.
The last key cannot be removed (code last_key, exit 1): a repository always keeps
a key that can sign it. Releases already published stay signed by the removed
key until their next round; "aptq release resign" re-signs them now.`,
		Args: cobra.ExactArgs(1),
		RunE: a.action(defaultTimeout, func(cmd *cobra.Command, args []string) error {
			fpr := strings.ToUpper(strings.ReplaceAll(args[0], " ", ""))
			if err := a.client().RemoveKey(cmd.Context(), repo, fpr); err != nil {
				return err
			}
			if a.json {
				return a.printJSON(map[string]any{"repo": repo, "fingerprint": fpr, "removed": true})
			}
			a.printf("removed key %s from %s\n", fpr, repo)
			return nil
		}),
	}
	cmd.Flags().StringVar(&repo, "repo", "", "repository name (required)")
	_ = cmd.MarkFlagRequired("repo")
	return cmd
}

func (a *app) keyExportCommand() *cobra.Command {
	var repo string
	cmd := &cobra.Command{
		Use:   "export --repo REPO [FINGERPRINT…]",
		Short: "Print a repository's public keys, armored, for apt's signed-by",
		Long: `Print the armored public keys of a repository (all, or the given ones), e.g.:

  aptq key export --repo acme | sudo tee /etc/apt/keyrings/acme.asc`,
		RunE: a.action(defaultTimeout, func(cmd *cobra.Command, fprs []string) error {
			c := a.client()
			if len(fprs) == 0 {
				keys, err := c.ListKeys(cmd.Context(), repo)
				if err != nil {
					return err
				}
				for _, k := range keys {
					fprs = append(fprs, k.Fingerprint)
				}
				if len(keys) == 0 {
					a.progress("no keys are registered on %s", repo)
				}
			}
			keys := make([]client.Key, 0, len(fprs))
			for _, fpr := range fprs {
				k, err := c.GetKey(cmd.Context(), repo, fpr)
				if err != nil {
					return err
				}
				keys = append(keys, k)
			}
			if a.json {
				return a.printJSON(map[string][]client.Key{"keys": keys})
			}
			for _, k := range keys {
				a.printf("%s\n", strings.TrimRight(k.Armored, "\n"))
			}
			return nil
		}),
	}
	cmd.Flags().StringVar(&repo, "repo", "", "repository name (required)")
	_ = cmd.MarkFlagRequired("repo")
	return cmd
}
