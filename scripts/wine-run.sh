#!/usr/bin/env bash
# Run a Windows program under Wine (in the WINEPREFIX of the environment) with its CRLF line
# ends turned into LF on stdout and stderr, so that the test scripts' grep/awk/sed checks read
# its output as they read a native program's. Unbuffered (sed -u): scripts that wait for a line
# see it when the program writes it. The exit status is the program's.
set -o pipefail
wine "$@" 2> >(sed -u 's/\r$//' >&2) | sed -u 's/\r$//'
