package main

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/aptq/aptq/client"
)

func (a *app) releaseUpdateCommand() *cobra.Command {
	var repo, release, origin, label, suite, codename, description, validFor, signedBy string
	var notAutomatic, butAutomatic bool
	var keepVersions int
	var contents bool
	var u client.ReleaseUpdate
	var s signFlags
	cmd := &cobra.Command{
		Use:   "update --repo REPO --release NAME [flags] [--key FILE.asc…|--gpg KEYID…]",
		Short: "Change a release's fields, components, architectures or options, and publish it",
		Long: `Change a release and publish the result as its next generation, signed here
like any publish: the signer checks that the new Release differs from the last
signed one in exactly the fields this update (and any other change of the
round) lists. Only the flags given change anything; if nothing changes, it says
so and exits 0.

A component or architecture is removed only when it holds no package
(published or pending): otherwise the server refuses (409) and names them.
A new one is published with an empty Packages (a new architecture lists the
component's Architecture: all packages). The indexes of a removed one leave the
Release at once and S3 after the garbage collection's grace.

--not-automatic writes "NotAutomatic: yes" (apt pins the release at 1: nothing
is installed from it unless asked for, like experimental); with
--but-automatic-upgrades also "ButAutomaticUpgrades: yes" (pin 100: installed
packages follow its upgrades, like backports). --signed-by writes Signed-By:
the fingerprints apt (>= 2.3) accepts for the next Release of this suite;
--signed-by "" drops it. --valid-for none drops Valid-Until.

--contents turns on the Contents-<arch>.gz indices (apt-file) of a release
created without them (the first round reads the file lists of its packages);
--contents=false stops publishing them.

--keep-versions N keeps only the newest N versions (dpkg order) of each package
name and architecture in a component, from the round that publishes the update
on: that round already removes the older ones (listed in it for the signer to
check); 0 keeps all versions from then on.` + publishLong,
		Args: cobra.NoArgs,
		RunE: a.action(publishTimeout, func(cmd *cobra.Command, _ []string) error {
			f := cmd.Flags()
			for _, o := range []struct {
				flag string
				dst  **string
				v    *string
			}{{"origin", &u.Origin, &origin}, {"label", &u.Label, &label}, {"suite", &u.Suite, &suite},
				{"codename", &u.Codename, &codename}, {"description", &u.Description, &description},
				{"signed-by", &u.SignedBy, &signedBy}} {
				if f.Changed(o.flag) {
					*o.dst = o.v
				}
			}
			if f.Changed("valid-for") {
				if validFor != "none" {
					d, err := parseValidFor(validFor)
					if err != nil {
						return usageErrorf("--valid-for %q: %v", validFor, err)
					}
					validFor = d.String()
				}
				u.ValidFor = &validFor
			}
			if f.Changed("not-automatic") {
				u.NotAutomatic = &notAutomatic
			}
			if f.Changed("but-automatic-upgrades") {
				u.ButAutomaticUpgrades = &butAutomatic
			}
			if f.Changed("keep-versions") {
				u.KeepVersions = &keepVersions
			}
			if f.Changed("contents") {
				u.Contents = &contents
			}
			return a.publish(cmd.Context(), s, repo, func(ctx context.Context, c *client.Client) (client.JobRef, error) {
				res, err := c.UpdateRelease(ctx, repo, release, u)
				if err == nil && !res.Changed {
					err = errNoChange
				}
				return res.JobRef(), err
			})
		}),
	}
	f := cmd.Flags()
	repoReleaseFlags(cmd, &repo, &release)
	f.StringVar(&origin, "origin", "", "Origin field")
	f.StringVar(&label, "label", "", "Label field")
	f.StringVar(&suite, "suite", "", "Suite field")
	f.StringVar(&codename, "codename", "", "Codename field")
	f.StringVar(&description, "description", "", `Description field ("" drops it)`)
	f.StringSliceVar(&u.AddComponents, "add-components", nil, "components to add, e.g. contrib,non-free")
	f.StringSliceVar(&u.RemoveComponents, "remove-components", nil, "components to remove (they must hold no package)")
	f.StringSliceVar(&u.AddArchitectures, "add-architectures", nil, "architectures to add, e.g. arm64")
	f.StringSliceVar(&u.RemoveArchitectures, "remove-architectures", nil, "architectures to remove (they must hold no package)")
	f.StringSliceVar(&u.Compressions, "compressions", nil, "index files stored from now on: gz, xz, none, e.g. none,gz,xz")
	f.StringVar(&validFor, "valid-for", "", "Valid-Until = Date + this, e.g. 7d or 36h; none drops it")
	f.BoolVar(&notAutomatic, "not-automatic", false, "write NotAutomatic: yes (--not-automatic=false removes it)")
	f.BoolVar(&butAutomatic, "but-automatic-upgrades", false, "write ButAutomaticUpgrades: yes (needs --not-automatic)")
	f.StringVar(&signedBy, "signed-by", "", `Signed-By fingerprints, comma-separated ("" drops it)`)
	f.IntVar(&keepVersions, "keep-versions", 0, "keep only the newest N versions of each package name and architecture per component (0: keep all)")
	f.BoolVar(&contents, "contents", false, "publish Contents-<arch>.gz indices (apt-file); --contents=false stops")
	s.register(cmd)
	return cmd
}
