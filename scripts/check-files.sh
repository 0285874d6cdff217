#!/usr/bin/env bash
# Fails on committed files over 1 MiB outside testdata/: binaries and build
# outputs belong in .gitignore, not in the repository.
set -euo pipefail
cd "$(dirname "$0")/.."
big=$(git ls-files -z | xargs -0 -r stat -c '%s %n' | awk '$1 > 1048576 && $2 !~ /(^|\/)testdata\// {print $2}')
if [ -n "$big" ]; then
	echo "committed files over 1 MiB (not test data):" >&2
	echo "$big" >&2
	exit 1
fi
