package apt

import "io"

// Decompressor returns the decompressed stream of data compressed as a file
// whose name ends in ext ("", ".gz", ".xz", ".zst", ".bz2" or ".lzma"), with
// a decoder that holds at most window bytes of history (the xz dictionary a
// hostile header asks for is refused before it is allocated), and a
// function that releases the decoder. It does not bound the output: the
// caller limits what it reads.
func Decompressor(ext string, r io.Reader, window int64) (io.Reader, func(), error) {
	return decompressor(ext, r, window)
}
