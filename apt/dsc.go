package apt

import (
	"bytes"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
)

// ErrInvalidSource is wrapped by every ParseDSC error caused by the content
// of the .dsc; the message after it says what to fix.
var ErrInvalidSource = errors.New("invalid source package")

// Limits on a .dsc: Debian's largest are a few KiB (long Binary and
// Build-Depends lists) and list at most a handful of files (orig tarballs
// of several components, their signatures, the debian tarball).
const (
	MaxDSCSize     = 1 << 20
	maxSourceFiles = 64
	maxFileName    = 255
)

// SourceFile is one file a .dsc (or .changes) lists, with the digests it
// gives for it in lowercase hex; SHA1 and SHA512 are empty when the list
// does not carry them.
type SourceFile struct {
	Name                      string
	Size                      int64
	MD5, SHA1, SHA256, SHA512 string
}

// Check reports whether data is the file f describes; the error names the
// file and what differs, for the uploader.
func (f SourceFile) Check(data []byte) error {
	return f.Compare(DescribeFile(f.Name, data))
}

// Compare reports whether got (DescribeFile or DescribeReader of a file)
// is the file f describes, checking every digest f has.
func (f SourceFile) Compare(got SourceFile) error {
	switch {
	case got.Size != f.Size:
		return fmt.Errorf("%s is %d bytes, the listing says %d", f.Name, got.Size, f.Size)
	case got.SHA256 != f.SHA256:
		return fmt.Errorf("%s has SHA-256 %s, the listing says %s", f.Name, got.SHA256, f.SHA256)
	case got.MD5 != f.MD5:
		return fmt.Errorf("%s has MD5 %s, the listing says %s", f.Name, got.MD5, f.MD5)
	case f.SHA1 != "" && got.SHA1 != f.SHA1:
		return fmt.Errorf("%s has SHA-1 %s, the listing says %s", f.Name, got.SHA1, f.SHA1)
	case f.SHA512 != "" && got.SHA512 != f.SHA512:
		return fmt.Errorf("%s has SHA-512 %s, the listing says %s", f.Name, got.SHA512, f.SHA512)
	}
	return nil
}

// DescribeFile returns the size and every digest of data.
func DescribeFile(name string, data []byte) SourceFile {
	f, _ := DescribeReader(name, bytes.NewReader(data))
	return f
}

// DescribeReader returns the size and every digest of what r holds,
// reading it as a stream.
func DescribeReader(name string, r io.Reader) (SourceFile, error) {
	m, s1, s256, s512 := md5.New(), sha1.New(), sha256.New(), sha512.New()
	n, err := io.Copy(io.MultiWriter(m, s1, s256, s512), r)
	return SourceFile{Name: name, Size: n, MD5: hex.EncodeToString(m.Sum(nil)), SHA1: hex.EncodeToString(s1.Sum(nil)),
		SHA256: hex.EncodeToString(s256.Sum(nil)), SHA512: hex.EncodeToString(s512.Sum(nil))}, err
}

// DSC is a parsed Debian source control file.
type DSC struct {
	Source, Version string
	// Paragraph holds the fields, without the OpenPGP armor of a
	// clearsigned .dsc; the original bytes are what the pool keeps.
	Paragraph Paragraph
	// Files are the files the .dsc lists (not the .dsc itself), in the
	// order of its Files field, each with every digest it gives.
	Files []SourceFile
	// Self describes the .dsc's own bytes under its canonical name.
	Self SourceFile
	// Signed says the .dsc was clearsigned (the signature is not checked:
	// it is the maintainer's, kept byte-for-byte for those who check it).
	Signed bool
}

// ParseDSC parses a .dsc, clearsigned or not. It checks what aptq relies
// on: Format, Source and Version present and well-formed; Files and
// Checksums-Sha256 present, naming the same files with the same sizes (as
// Checksums-Sha1 and Checksums-Sha512 must when present); every file name
// a plain name (no path) that starts with "<source>_", since the files land
// in the source's pool directory beside those of other versions.
func ParseDSC(data []byte) (*DSC, error) {
	d, err := parseDSC(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidSource, err)
	}
	return d, nil
}

func parseDSC(data []byte) (*DSC, error) {
	p, signed, err := parseSigned(data)
	if err != nil {
		return nil, fmt.Errorf(".dsc: %w", err)
	}
	d := &DSC{Source: p.Get("Source"), Version: p.Get("Version"), Paragraph: p, Signed: signed}
	for _, f := range []string{"Format", "Source", "Version"} {
		if p.Get(f) == "" {
			return nil, fmt.Errorf("no %s field", f)
		}
	}
	if err := checkPackageName(d.Source); err != nil {
		return nil, fmt.Errorf("bad Source field: %w", err)
	}
	if _, err := parseVersion(d.Version); err != nil {
		return nil, fmt.Errorf("bad Version field %q: %w", truncate(d.Version), err)
	}
	if d.Files, err = parseFileLists(p, checkSourceFileName(d.Source), 0); err != nil {
		return nil, err
	}
	d.Self = DescribeFile(DSCName(d.Source, d.Version), data)
	return d, nil
}

// unarmor returns the text of a clearsigned message, or data itself when it
// is not armored. Nothing may precede the armor: text outside the signed
// part would be read by no one who checks the signature.
func unarmor(data []byte) (text []byte, signed bool, err error) {
	if !bytes.HasPrefix(bytes.TrimLeft(data, " \t\n"), []byte("-----BEGIN PGP SIGNED MESSAGE-----")) {
		if bytes.Contains(data, []byte("-----BEGIN PGP")) {
			return nil, false, errors.New("OpenPGP armor inside the text (a clearsigned file must start with it)")
		}
		return data, false, nil
	}
	b, rest := clearsign.Decode(data)
	if b == nil {
		return nil, false, errors.New("malformed clearsigned message")
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, false, errors.New("text after the clearsigned message")
	}
	return b.Plaintext, true, nil
}

// DSCName is the canonical name of a .dsc: "<source>_<version>.dsc" with
// the epoch dropped, as in the Debian archive.
func DSCName(source, version string) string {
	if _, rest, ok := strings.Cut(version, ":"); ok {
		version = rest
	}
	return source + "_" + version + ".dsc"
}

// checkSourceFileName returns the check of the names a .dsc of source may
// list.
func checkSourceFileName(source string) func(string) error {
	return func(name string) error {
		if !strings.HasPrefix(name, source+"_") {
			return fmt.Errorf("file %q does not start with %q", truncate(name), source+"_")
		}
		return CheckFileName(name)
	}
}

// CheckFileName accepts the names of files in a Debian upload: letters,
// digits and "+-.~_", at most 255 bytes, not starting with '.' or '-'. They
// become pool paths and S3 keys, so nothing that could be a path passes.
func CheckFileName(name string) error {
	if name == "" || len(name) > maxFileName {
		return fmt.Errorf("file name %q is empty or longer than %d bytes", truncate(name), maxFileName)
	}
	if name[0] == '.' || name[0] == '-' {
		return fmt.Errorf("file name %q must not start with %q", truncate(name), name[0])
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; !isAlnum(c) && !strings.ContainsRune("+-.~_", rune(c)) {
			return fmt.Errorf("file name %q may contain only letters, digits and \"+-.~_\"", truncate(name))
		}
	}
	return nil
}

// parseSigned reads the one paragraph of a .dsc or .changes, clearsigned
// or not, within the size and field-length limits.
func parseSigned(data []byte) (p Paragraph, signed bool, err error) {
	if len(data) > MaxDSCSize {
		return nil, false, fmt.Errorf("%d bytes, more than the %d KiB limit", len(data), MaxDSCSize>>10)
	}
	text, signed, err := unarmor(data)
	if err != nil {
		return nil, false, err
	}
	if p, err = ParseParagraph(text); err != nil {
		return nil, false, err
	}
	if err := checkControlLengths(p); err != nil {
		return nil, false, err
	}
	return p, signed, nil
}
