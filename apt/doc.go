// Package apt implements the Debian repository format that aptq publishes:
// deb822 control paragraphs, reading the control file of an uploaded .deb,
// Debian version ordering, pool paths, and the Packages and Release indexes
// (with their by-hash names).
//
// It is pure: no I/O other than the io.Reader handed to ReadDeb, no SQL, no
// HTTP, no S3. Everything it generates is deterministic, so that the same
// input always yields the same bytes and therefore the same hashes; the worker
// relies on that to resume a round after a crash without producing a second,
// different Release for the same generation.
package apt
