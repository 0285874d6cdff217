package apt

import "strings"

// installerDir is where Debian lists a component's udebs (the
// debian-installer's packages): <component>/debian-installer/binary-<arch>/.
const installerDir = "/debian-installer"

// InstallerComponent is the index component under which a component's
// udebs are listed and folded (EditFold): "main" → "main/debian-installer",
// so that <InstallerComponent>/binary-<arch> is the udebs' index
// directory. A release's component has no "/" (the API refuses one), so
// the name never collides with one.
func InstallerComponent(component string) string { return component + installerDir }

// ReleaseComponent is the release component of an index component: "main"
// for both "main" and "main/debian-installer".
func ReleaseComponent(component string) string { return strings.TrimSuffix(component, installerDir) }

// IsInstallerComponent says whether an index component lists udebs.
func IsInstallerComponent(component string) bool { return strings.HasSuffix(component, installerDir) }

// IsUdeb says whether a control paragraph is a udeb's (Package-Type: udeb).
func IsUdeb(p Paragraph) bool { return p.Get("Package-Type") == "udeb" }

// IsUdebControl is IsUdeb of a stored control paragraph; one that does not
// parse is not a udeb's (ReadDeb parsed every stored one).
func IsUdebControl(control string) bool {
	p, err := ParseParagraph([]byte(control))
	return err == nil && IsUdeb(p)
}

// IndexComponent is the index component that lists p in component.
func IndexComponent(component string, p Paragraph) string {
	if IsUdeb(p) {
		return InstallerComponent(component)
	}
	return component
}

// UdebPoolPath is PoolPath for a udeb: the same place, with the .udeb
// extension the Debian archive gives it.
func UdebPoolPath(component, source, name, version, arch string) string {
	return strings.TrimSuffix(PoolPath(component, source, name, version, arch), ".deb") + ".udeb"
}
