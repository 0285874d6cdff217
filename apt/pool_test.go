package apt

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestPoolPath(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                                  string
		component, source, pkg, version, arch string
		want                                  string
	}{
		{"plain", "main", "hello", "hello", "1.0-1", "amd64", "pool/main/h/hello/hello_1.0-1_amd64.deb"},
		{"epoch stripped", "main", "hello", "hello", "1:2.0-1", "amd64", "pool/main/h/hello/hello_2.0-1_amd64.deb"},
		{"lib prefix", "main", "libfoo", "libfoo1", "1.0", "arm64", "pool/main/libf/libfoo/libfoo1_1.0_arm64.deb"},
		{"lib binary of non-lib source", "main", "curl", "libcurl4", "7.88.1-10", "amd64", "pool/main/c/curl/libcurl4_7.88.1-10_amd64.deb"},
		{"non-lib binary of lib source", "contrib", "libxml2", "xmllint", "2.9-1", "amd64", "pool/contrib/libx/libxml2/xmllint_2.9-1_amd64.deb"},
		{"source exactly lib", "main", "lib", "lib-tools", "1", "all", "pool/main/l/lib/lib-tools_1_all.deb"},
		{"empty source is name", "main", "", "zsh", "5.9-4", "amd64", "pool/main/z/zsh/zsh_5.9-4_amd64.deb"},
		{"arch all", "non-free", "fonts", "fonts-x", "1:1.0+dfsg-2", "all", "pool/non-free/f/fonts/fonts-x_1.0+dfsg-2_all.deb"},
		{"digit prefix", "main", "0ad", "0ad", "0.0.26-3", "amd64", "pool/main/0/0ad/0ad_0.0.26-3_amd64.deb"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, PoolPath(tt.component, tt.source, tt.pkg, tt.version, tt.arch))
		})
	}
}

func TestByHashPath(t *testing.T) {
	t.Parallel()
	tests := []struct{ path, algo, hex, want string }{
		{"main/binary-amd64/Packages.xz", "SHA256", "ab12", "main/binary-amd64/by-hash/SHA256/ab12"},
		{"main/binary-amd64/Packages", "SHA512", "cd34", "main/binary-amd64/by-hash/SHA512/cd34"},
		{"updates/main/binary-arm64/Packages.gz", "SHA256", "ef", "updates/main/binary-arm64/by-hash/SHA256/ef"},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, ByHashPath(tt.path, tt.algo, tt.hex))
	}
}
