#!/usr/bin/env bash
# Build llama-cpp-python once per machine and set of build flags, keep the wheel, install it.
#
# llama.cpp's default build tunes for the CPU it is built on (GGML_NATIVE),
# AMX and AVX-512 included where the CPU reports them. On a VM whose
# hypervisor does not let guests use what the CPU reports (AMX tiles here),
# such a build dies with "Illegal instruction" at the first matrix multiply,
# and pip's wheel cache hands that build to every later install. So the
# build targets a portable x86-64 baseline with AVX2 (every x86 server of the
# last decade), and the wheel is kept under a directory named by the version
# and the flags, outside pip's cache.
set -euo pipefail
python="$1"
version="${LLAMA_CPP_VERSION:-0.3.36}"
flags="${ASSAY_LLAMA_CMAKE_ARGS:--DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF}"
if [ "$(uname -m)" != "x86_64" ]; then
  flags="${ASSAY_LLAMA_CMAKE_ARGS:--DGGML_NATIVE=OFF}"
fi
key="$(printf '%s %s %s' "$version" "$flags" "$("$python" -c 'import sys; print(sys.version_info[:2])')" | sha256sum | cut -c1-16)"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/assay/wheels/llama-cpp-python-$version-$key"
if ! ls "$cache"/llama_cpp_python-*.whl >/dev/null 2>&1; then
  echo "building llama-cpp-python $version once for this machine ($flags); a few minutes"
  mkdir -p "$cache"
  CMAKE_ARGS="$flags" "$python" -m pip wheel --quiet --no-deps --no-cache-dir --no-binary llama-cpp-python -w "$cache" "llama-cpp-python==$version"
fi
"$python" -m pip install --quiet --force-reinstall --no-deps "$cache"/llama_cpp_python-*.whl
# and what it needs at import (numpy, diskcache, jinja2, ...): the wheel is already there, pip adds only the missing ones
"$python" -m pip install --quiet "$cache"/llama_cpp_python-*.whl
