#!/bin/sh
# SPDX-License-Identifier: MIT
# Sealing speed (a benchmark, not a test): the overlay's AES-256-GCM through
# OpenSSL against libsodium's, and the authenticate-only tag, in GB/s per
# chunk size, one core.  Build first.
#   tests/bench/aead.sh [ROUNDS]
set -eu
cd "$(dirname "$0")/../.."
exec "${VR_BIN:-build/bin}/vr-aead-cost" "${1:-20}"
