package main

import (
	"fmt"
	"path"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/aptq/aptq/apt"
	"github.com/aptq/aptq/client"
)

// listFlags select packages of a release's last committed generation.
type listFlags struct {
	repo, release string
	filter        client.PackageFilter
}

func (l *listFlags) register(cmd *cobra.Command, withName bool) {
	f := cmd.Flags()
	repoReleaseFlags(cmd, &l.repo, &l.release)
	f.StringVar(&l.filter.Component, "component", "", "only this component")
	f.StringVar(&l.filter.Architecture, "arch", "", "only this architecture (e.g. amd64, or all)")
	if withName {
		f.StringVar(&l.filter.Name, "name", "", "only packages of this name")
	}
}

func (a *app) pkgListCommand() *cobra.Command {
	var l listFlags
	cmd := &cobra.Command{
		Use:   "list --repo REPO --release NAME [--component C] [--name N] [--arch A]",
		Short: "List the packages of a release",
		Long: `List the packages of a release's last committed generation, sorted by name,
version and architecture. With --json: {"packages":[{"component","name",
"version","architecture","sha256","size","filename","control","file_count"}…]}.`,
		Args: cobra.NoArgs,
		RunE: a.action(defaultTimeout, func(cmd *cobra.Command, _ []string) error {
			pkgs, err := a.client().ListReleasePackages(cmd.Context(), l.repo, l.release, l.filter)
			if err != nil {
				return err
			}
			if a.json {
				return a.printJSON(map[string][]client.ReleasePackage{"packages": nonNil(pkgs)})
			}
			if len(pkgs) == 0 {
				a.progress("no packages match in %s/%s", l.repo, l.release)
				return nil
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tVERSION\tARCH\tCOMPONENT\tSIZE\tSHA256")
			for _, p := range pkgs {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", p.Name, p.Version, p.Architecture, p.Component,
					formatBytes(p.Size), p.SHA256[:min(12, len(p.SHA256))])
			}
			return tw.Flush()
		}),
	}
	l.register(cmd, true)
	return cmd
}

func (a *app) pkgShowCommand() *cobra.Command {
	var l listFlags
	var version string
	cmd := &cobra.Command{
		Use:   "show --repo REPO --release NAME [--version V] [--arch A] [--component C] PACKAGE",
		Short: "Show a package's control stanzas, as apt sees them",
		Long: `Print the Packages stanza of every version and architecture of a package in the
release's last committed generation (its control fields, then Filename, Size and
SHA256, and Aptq-File-Count: the files of its data.tar, which Contents indices
list), separated by blank lines, like apt-cache show. A source package (--arch
source) prints its Sources stanza, ending with Directory, like apt-cache showsrc.
Exit 1 when none match.`,
		Args: cobra.ExactArgs(1),
		RunE: a.action(defaultTimeout, func(cmd *cobra.Command, args []string) error {
			l.filter.Name = args[0]
			pkgs, err := a.client().ListReleasePackages(cmd.Context(), l.repo, l.release, l.filter)
			if err != nil {
				return err
			}
			var match []client.ReleasePackage
			for _, p := range pkgs {
				// The server filters by name; check it too, and the version here.
				if p.Name == args[0] && (version == "" || p.Version == version) {
					match = append(match, p)
				}
			}
			if len(match) == 0 {
				return failf(client.CodeNotFound, "no package %s in %s/%s%s", describeWanted(args[0], version, l.filter),
					l.repo, l.release, describeFilter(l.filter))
			}
			if a.json {
				return a.printJSON(map[string][]client.ReleasePackage{"packages": match})
			}
			for i, p := range match {
				if i > 0 {
					a.printf("\n")
				}
				a.printf("%s", stanza(p))
			}
			return nil
		}),
	}
	l.register(cmd, false)
	cmd.Flags().StringVar(&version, "version", "", "only this version")
	return cmd
}

func describeWanted(name, version string, f client.PackageFilter) string {
	s := name
	if version != "" {
		s += "=" + version
	}
	if f.Architecture != "" {
		s += ":" + f.Architecture
	}
	return s
}

func describeFilter(f client.PackageFilter) string {
	if f.Component == "" {
		return ""
	}
	return " (component " + f.Component + ")"
}

// stanza is the package's control stanza with the index fields that say
// where its file is, unless the control text has them already: for a
// source package its Sources stanza, which names the pool directory of its
// files (Files lists them), as apt-cache showsrc prints it.
func stanza(p client.ReleasePackage) string {
	var b strings.Builder
	control := strings.TrimRight(p.Control, "\n")
	if control == "" {
		control = fmt.Sprintf("Package: %s\nVersion: %s\nArchitecture: %s", p.Name, p.Version, p.Architecture)
	}
	b.WriteString(control)
	b.WriteByte('\n')
	has := func(field string) bool {
		return strings.HasPrefix(control, field+":") || strings.Contains(control, "\n"+field+":")
	}
	where := [][2]string{{"Filename", p.Filename}, {"Size", fmt.Sprint(p.Size)}, {"SHA256", p.SHA256}}
	if p.Architecture == apt.ArchSource {
		where = [][2]string{{"Directory", path.Dir(p.Filename)}}
	}
	for _, f := range where {
		if f[1] != "" && !has(f[0]) {
			fmt.Fprintf(&b, "%s: %s\n", f[0], f[1])
		}
	}
	// Not an apt field: how many files the Contents indices list for it.
	if p.FileCount != nil {
		fmt.Fprintf(&b, "Aptq-File-Count: %d\n", *p.FileCount)
	}
	return b.String()
}

// nonNil makes an empty list print as [] rather than null in --json.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
