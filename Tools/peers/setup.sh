#!/usr/bin/env bash
# Creates (or reuses) a virtual environment with Python >= 3.12 holding the peers of the fan-out benchmark:
# Python acty 0.1.1 and litequeue 0.14 (a SQLite-backed queue). Idempotent: a second run only checks the versions.
#   Tools/peers/setup.sh            # venv at ${ACTY_PEERS_VENV:-${TMPDIR:-/tmp}/acty-peers-venv}
# Prints the venv's python path on the last line of stdout.
set -euo pipefail
venv="${ACTY_PEERS_VENV:-${TMPDIR:-/tmp}/acty-peers-venv}"
acty_version="0.1.1"
litequeue_version="0.14"   # the version pip found on 2026-11-30; pinned so runs stay comparable

is_312() { "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' >/dev/null 2>&1; }

find_python() {
    local candidate
    for candidate in "${PYTHON:-}" python3.12 python3.13 python3; do
        [ -n "$candidate" ] || continue
        if command -v "$candidate" >/dev/null 2>&1 && is_312 "$(command -v "$candidate")"; then
            command -v "$candidate"; return 0
        fi
    done
    for candidate in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.1[2-9]*/bin/python3; do
        if [ -x "$candidate" ] && is_312 "$candidate"; then echo "$candidate"; return 0; fi
    done
    return 1
}

if [ ! -x "$venv/bin/python" ] || ! is_312 "$venv/bin/python"; then
    if ! python="$(find_python)"; then
        echo "setup.sh: no Python >= 3.12 found (tried \$PYTHON, python3.12, python3.13, python3, ~/.pyenv/versions/3.12+);" >&2
        echo "setup.sh: Python acty $acty_version needs Python >= 3.12. Install one or set PYTHON=/path/to/python3.12." >&2
        exit 1
    fi
    echo "setup.sh: creating $venv with $python ($("$python" --version 2>&1))" >&2
    rm -rf "$venv"
    "$python" -m venv "$venv"
fi

pip=("$venv/bin/python" -m pip --disable-pip-version-check -q)
if ! "$venv/bin/python" -c "import importlib.metadata as m, sys; sys.exit(0 if m.version('acty') == '$acty_version' else 1)" 2>/dev/null; then
    "${pip[@]}" install "acty==$acty_version"
fi
if ! "$venv/bin/python" -c "import importlib.metadata as m, sys; sys.exit(0 if m.version('litequeue') == '$litequeue_version' else 1)" 2>/dev/null; then
    "${pip[@]}" install "litequeue==$litequeue_version"
fi

"$venv/bin/python" - <<'PY' >&2
import importlib.metadata as m, sys
print(f"setup.sh: python {sys.version.split()[0]}, acty {m.version('acty')}, acty-core {m.version('acty-core')}, "
      f"litequeue {m.version('litequeue')} (pin: litequeue=={m.version('litequeue')})")
PY
echo "$venv/bin/python"
