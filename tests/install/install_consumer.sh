#!/bin/sh
# tests/install/install_consumer.sh BUILD_DIR WITH_MPI(0|1) - installs the
# build into a scratch prefix, builds consumer.c against it as a project
# of its own with find_package(rdv) (and COMPONENTS mpi when rdv has MPI)
# the way the README says, runs it,
# checks that asking for a component rdv does not have fails with a
# message naming it, and that find_package(rdv COMPONENTS headers) gives
# rdv::headers with neither liburing nor hiredis to be found. Everything
# is removed at the end.
set -eu
build=$1
with_mpi=$2
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/rdv-install-XXXXXX")
trap 'rm -rf "$work"' EXIT

cmake --install "$build" --prefix "$work/prefix" >"$work/install.log" 2>&1 ||
    { cat "$work/install.log"; exit 1; }
# The project is written here, not kept under tests/: every CMakeLists.txt
# there is a test area of rdv's own build.
mkdir "$work/src"
cp "$here/consumer.c" "$work/src/"
cat >"$work/src/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.16)
project(rdv_consumer C)
set(RDV_COMPONENTS "" CACHE STRING "components to ask find_package for")
find_package(rdv REQUIRED COMPONENTS ${RDV_COMPONENTS})
add_executable(consumer consumer.c)
target_link_libraries(consumer PRIVATE rdv::rdv)
if("mpi" IN_LIST RDV_COMPONENTS)
  target_compile_definitions(consumer PRIVATE WITH_MPI)
  target_link_libraries(consumer PRIVATE rdv::rdv_mpi)
endif()
CMAKE
components=""
[ "$with_mpi" = 1 ] && components="mpi"
cmake -S "$work/src" -B "$work/b" -DCMAKE_PREFIX_PATH="$work/prefix" \
    -DRDV_COMPONENTS="$components" >"$work/configure.log" 2>&1 ||
    { cat "$work/configure.log"; exit 1; }
cmake --build "$work/b" >"$work/build.log" 2>&1 ||
    { cat "$work/build.log"; exit 1; }
"$work/b/consumer"

if cmake -S "$work/src" -B "$work/nope" \
    -DCMAKE_PREFIX_PATH="$work/prefix" -DRDV_COMPONENTS=nope \
    >"$work/nope.log" 2>&1; then
    echo "find_package(rdv COMPONENTS nope) succeeded"
    exit 1
fi
grep -q "no component 'nope'" "$work/nope.log" ||
    { echo "no message naming the component:"; cat "$work/nope.log"; exit 1; }
# rdv::headers alone (a plugin's view): found and usable when pkg-config
# can find neither liburing nor hiredis, where the full package cannot
# be found (which shows the environment really hides them).
mkdir "$work/hsrc"
cat >"$work/hsrc/plugin.c" <<'C'
#include <rdv/plugin.h>
int rdv_example_status(void) { return RDV_ENOTFOUND; }
C
cat >"$work/hsrc/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.16)
project(rdv_headers_consumer C)
set(RDV_COMPONENTS "headers" CACHE STRING "components to ask find_package for")
find_package(rdv REQUIRED COMPONENTS ${RDV_COMPONENTS})
add_library(headers_only MODULE plugin.c)
target_link_libraries(headers_only PRIVATE rdv::headers)
CMAKE
PKG_CONFIG_LIBDIR=/nonexistent PKG_CONFIG_PATH= cmake -S "$work/hsrc" \
    -B "$work/hb" -DCMAKE_PREFIX_PATH="$work/prefix" \
    >"$work/headers.log" 2>&1 && cmake --build "$work/hb" \
    >>"$work/headers.log" 2>&1 ||
    { echo "rdv::headers without liburing/hiredis:"; cat "$work/headers.log"; exit 1; }
if PKG_CONFIG_LIBDIR=/nonexistent PKG_CONFIG_PATH= cmake -S "$work/hsrc" \
    -B "$work/hfull" -DCMAKE_PREFIX_PATH="$work/prefix" -DRDV_COMPONENTS= \
    >"$work/hfull.log" 2>&1; then
    echo "find_package(rdv) succeeded with pkg-config finding nothing: the headers test proves nothing"
    exit 1
fi
# The man page renders, and completion offers commands and options.
p="$work/prefix"
groff -man -Tutf8 -ww "$p/share/man/man1/rdv.1" >"$work/man.txt" \
    2>"$work/man.err" && [ ! -s "$work/man.err" ] &&
    grep -q "rdv conform" "$work/man.txt" ||
    { echo "rdv.1 does not render cleanly:"; cat "$work/man.err"; exit 1; }
got=$(bash -c '
    PATH=$1/bin:$PATH
    . "$1/share/bash-completion/completions/rdv"
    complete_words() { COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _rdv; echo "${COMPREPLY[*]}"; }
    complete_words rdv con
    complete_words rdv conform --cl
    complete_words rdv bench st
    complete_words rdv bench rendezvous --tim' _ "$p")
[ "$got" = "conform
--clause-timeout
store store-rendezvous
--timeout" ] || { echo "completion gave:"; echo "$got"; exit 1; }
echo "installed rdv: find_package, rdv::headers alone, the man page and completion work (components: ${components:-none})"
