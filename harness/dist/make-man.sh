#!/bin/sh
# harness/dist/make-man.sh RDV OUT - writes the rdv(1) man page to OUT from
# the help text of the rdv binary RDV and of each of its commands, so the
# page says exactly what --help says and never drifts from it.
set -eu
rdv=$1
out=$2
tmp="$out.tmp"

# --help text as roff: a literal block, with backslashes and leading
# dots and quotes made harmless.
section() {
    printf '.SS "%s"\n.nf\n' "$1"
    shift
    "$rdv" "$@" --help | sed -e 's/\\/\\e/g' -e "s/^\\([.']\\)/\\\\\\&\\1/"
    printf '.fi\n'
}

{
    printf '.TH RDV 1 "" "rdv %s" "User Commands"\n' \
        "$("$rdv" --version | sed 's/^rdv //')"
    printf '.SH NAME\nrdv \\- Gloo-style rendezvous test harness\n'
    printf '.SH SYNOPSIS\n.B rdv\n.I command\n[\n.I options\n]\n'
    printf '.SH DESCRIPTION\n.nf\n'
    "$rdv" --help | sed -e 's/\\/\\e/g' -e "s/^\\([.']\\)/\\\\\\&\\1/"
    printf '.fi\n.SH COMMANDS\n'
    for cmd in run hunt shrink launch matrix conform faults store-server; do
        section "rdv $cmd" "$cmd"
    done
    for b in store rendezvous store-rendezvous allreduce broadcast barrier; do
        section "rdv bench $b" bench "$b"
    done
    printf '.SH SEE ALSO\nThe README of rdv, and fault-injection/README.md for the fault language.\n'
} >"$tmp"
mv "$tmp" "$out"
