#!/bin/sh
# The ONE install of the kfx runtime: the pinned components lock, then kfx built as a wheel (never editable,
# never the source tree). components/Dockerfile runs it into the image's Python; the cluster rehearsal
# (tests/rehearsal/environment.py) runs it into a venv, its image-equivalent interpreter. One script, so the
# two cannot drift.
#
# Usage: components/install.sh deps|kfx|all PYTHON [SOURCE_DIR]
#   deps        install requirements/components.lock
#   kfx         build kfx's wheel from SOURCE_DIR and install it (no dependencies)
#   all         deps, then kfx
#   PYTHON      the interpreter to install into (the image's python3, or a venv's bin/python)
#   SOURCE_DIR  the kfx source tree (default: the current directory)
# Bytecode is compiled at install (--compile-bytecode): the image sets PYTHONDONTWRITEBYTECODE and runs as a user
# who cannot write site-packages, so without it every step's pod compiles TensorFlow & co. from source on import
# (~8 s of CPU per step, measured locally).
# Needs uv (UV=/path/to/uv, default `uv` on PATH). UV_NO_CACHE=1 keeps no download cache (the image build).
set -eu

usage() { echo "usage: $0 deps|kfx|all PYTHON [SOURCE_DIR]" >&2; exit 2; }
[ $# -ge 2 ] || usage
step=$1
python=$2
src=${3:-.}
uv=${UV:-uv}

install_deps() {
    "$uv" pip install --quiet --compile-bytecode --python "$python" -r "$src/requirements/components.lock"
}

install_kfx() {
    wheels=$(mktemp -d)
    trap 'rm -rf "$wheels"' EXIT
    "$uv" build --quiet --wheel --out-dir "$wheels" "$src"
    "$uv" pip install --quiet --compile-bytecode --python "$python" --no-deps --reinstall-package kfx "$wheels"/kfx-*.whl
}

case "$step" in
    deps) install_deps ;;
    kfx) install_kfx ;;
    all) install_deps && install_kfx ;;
    *) usage ;;
esac
