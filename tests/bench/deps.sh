#!/bin/sh
# Install the peers the tierfs benchmark (tests/bench/run.py) runs against,
# on top of what tierfs itself needs.
set -eu
exec "$(dirname "$0")/../../scripts/deps.sh" mergerfs squashfuse squashfs-tools fio
