# ci/services/lib.sh - what the redis, etcd and zookeeper service scripts share:
# free loopback ports, telling whether a PID still runs and is the server
# it should be, and stopping it by that PID. Source it; do not run it.
# Every wait polls; none is a fixed sleep.

svc_die() { echo "$SVC_NAME: $*" >&2; exit 1; }

# True when someone listens on 127.0.0.1:port (a connect succeeds).
svc_port_in_use() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Prints n distinct ports that nobody listens on now, below the kernel's
# ephemeral range (so no outgoing connection holds one: a busy test host
# has thousands of them, and a listener cannot bind a port one of them
# uses). Another process may still take a port before the server binds
# it: the caller sees the server exit and tries again.
svc_free_ports() {
    local n=$1 p picked=" " lo=32768 base=10000 span
    read -r lo _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || true
    span=$((lo - base))
    ((span >= 1000)) || { base=20000; span=30000; }
    while ((n > 0)); do
        p=$((base + RANDOM % span))
        [[ $picked == *" $p "* ]] && continue
        svc_port_in_use "$p" && continue
        picked+="$p "
        echo "$p"
        n=$((n - 1))
    done
}

# True while pid runs; a zombie nobody reaped yet (its parent, the start
# command's shell, is long gone) has stopped running and counts as gone.
svc_alive() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    [[ ${stat%% *} != [ZX] ]]
}

# True when pid's command line holds pattern: a PID file may outlive its
# process, and the PID may since belong to someone else, who must not be
# signalled.
svc_is() {
    tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -q -- "$2"
}

# Polls every 10 ms until pid is gone, at most $2 seconds.
svc_wait_gone() {
    local pid=$1 deadline=$((SECONDS + $2))
    while svc_alive "$pid"; do
        ((SECONDS < deadline)) || return 1
        sleep 0.01
    done
}

# Crashes the server whose PID is in pidfile (SIGKILL, nothing flushed),
# if it is still the process that matches pattern; returns once it is
# gone. A crash-restart, as the server.restart fault means it, and quick:
# a server shutting down gracefully may wait for its clients first.
svc_crash() {
    local pidfile=$1 pattern=$2 pid
    [[ -f $pidfile ]] || return 0
    pid=$(cat "$pidfile")
    svc_alive "$pid" || return 0
    svc_is "$pid" "$pattern" ||
        svc_die "PID $pid in $pidfile is not a $pattern process; leaving it alone"
    kill -KILL "$pid" 2>/dev/null || return 0
    svc_wait_gone "$pid" 10 || svc_die "$pattern $pid did not exit after SIGKILL"
}

# Ends the server whose PID is in pidfile, if it is still the process
# that matches pattern: TERM, then KILL after 10 s. Returns once it is
# gone (a SIGSTOPped server gets SIGCONT, so TERM can reach it).
svc_halt() {
    local pidfile=$1 pattern=$2 pid
    [[ -f $pidfile ]] || return 0
    pid=$(cat "$pidfile")
    svc_alive "$pid" || return 0
    svc_is "$pid" "$pattern" ||
        svc_die "PID $pid in $pidfile is not a $pattern process; leaving it alone"
    kill -TERM "$pid" 2>/dev/null || return 0
    kill -CONT "$pid" 2>/dev/null || true
    svc_wait_gone "$pid" 10 && return 0
    kill -KILL "$pid" 2>/dev/null || true
    svc_wait_gone "$pid" 10 || svc_die "$pattern $pid did not exit after SIGKILL"
}
