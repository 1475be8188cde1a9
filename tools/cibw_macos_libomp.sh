#!/usr/bin/env bash
# cibuildwheel before-build on macOS (see [tool.cibuildwheel.macos] in
# pyproject.toml): put LLVM's OpenMP runtime for the wheel's architecture in
# $HOME/libomp, as scikit-learn does with conda-forge's llvm-openmp. Apple
# clang compiles with -Xpreprocessor -fopenmp (setup.py's probe) and links
# -lomp from there; delocate-wheel then copies libomp.dylib into the wheel.
# Needs micromamba on PATH (the workflow installs it). Not run on this
# project's Linux machines.
set -euo pipefail
case "${CIBW_ARCHS:-$(uname -m)}" in
  arm64) platform=osx-arm64 ;;
  x86_64) platform=osx-64 ;;
  *) echo "cibw_macos_libomp.sh: unsupported architecture ${CIBW_ARCHS:-$(uname -m)}" >&2; exit 1 ;;
esac
rm -rf "$HOME/libomp"
micromamba create --yes --prefix "$HOME/libomp" --platform "$platform" \
  --channel conda-forge "llvm-openmp>=18"
ls "$HOME/libomp/lib/libomp.dylib" "$HOME/libomp/include/omp.h"
