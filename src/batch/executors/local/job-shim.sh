#!/bin/sh
# Keisan job shim: the one process that supervises a batch job, detached from every Keisan
# daemon. The local executor copies this file into its state directory and starts it as
#
#   /bin/sh job-shim.sh run JOBDIR SHIM_PROCS JOB_PROCS AS_KB SCRIPT_FD NPREFIX -- PREFIX... OUT ERR MODE CWD NENV [K=V...] CMD [ARG...]
#
#   JOBDIR      the job's state directory (records below are written there)
#   SHIM_PROCS  ':'-separated cgroup.procs files this shim moves itself into ('' = none), so that
#               stopping a daemon (e.g. systemd killing its unit's cgroup) does not stop the shim
#   JOB_PROCS   ':'-separated cgroup.procs files of the job's cgroups ('' = none); the job's first
#               process joins them before any user code runs
#   AS_KB       RLIMIT_AS in KiB for the job's processes (0 = none; the fallback without cgroups)
#   SCRIPT_FD   '' or a file the shim opens (as root) on fd 4 for the job to run as /dev/fd/4:
#               how a job user runs a script the user could not reach by its path
#   NPREFIX     how many PREFIX words follow '--': 0 runs the job as the shim's own user;
#               otherwise PREFIX is e.g. `setpriv --reuid=U --regid=G --init-groups --` (followed
#               by `env -i -- K=V...` when /bin/sh cannot set the job's environment itself) and
#               the shim appends `/bin/sh -c "$USER_PART" keisan-job` to it
#   OUT ERR     the job's output and error files (ERR '' or = OUT: one file for both)
#   MODE        truncate | append
#   CWD         the job's working directory
#   NENV K=V... the job's environment, exported by the user's /bin/sh right before the exec of
#               the command (NENV 0: the environment already is the job's). With NENV > 0 the
#               shim's own environment must be PATH alone: it is unset first. Names must be
#               shell identifiers without a special meaning to /bin/sh (else use `env -i`).
#   CMD ARG...  the job's command (a nice prefix, when wanted, is part of it)
#
# Records, read by the executor (each ends with a line 'end'; a record without it is incomplete):
#   started  pid=<shim pid> starttime=<clock ticks after boot, /proc/PID/stat field 22>;
#            its mtime is the start time. Written before the job's first process is forked.
#   launch   the shim's stderr: a line 'exec' once the job's command is about to be executed
#            as the job's user; otherwise why the launch failed (setpriv's complaint, or the
#            job's first process's own words, written through fd 3)
#   exit     rc=<exit status of the job's first process, 128+N for signal N> and the `times`
#            of the shim's children; its mtime is the end time. Written after the job ends,
#            whatever happened to the Keisan daemons meanwhile.
# The executor writes `kill` (why it stopped the job) before killing; a shim that sees it
# before the job's command runs does not run it.
#
# Only shell builtins run here (no fork besides the job itself): starting a job costs one fork
# and the exec of the job's command (plus setpriv and the user's /bin/sh when switching users).
#
# Cgroup moves: the job's first process joins the job's cgroups, then moves the shim out of the
# daemon's cgroups (SHIM_PROCS). The first cgroup.procs write after an idle moment waits for an
# RCU grace period (cgroup_threadgroup_rwsem; ~10 ms at HZ=250), the ones right after it cost
# ~0.05 ms: one wait per job instead of two, and the `started` record does not wait at all.

set -f
IFS=' 	
'
# A trapped signal interrupts nothing: the shim keeps waiting for the job and records its end.
# (Caught, not ignored: the job's processes get default dispositions.)
trap ':' HUP INT TERM PIPE

# The part that runs as the job's user: $1 OUT, $2 ERR, $3 MODE, $4 CWD, $5 NENV, NENV words
# K=V, then the command. Opening the output files as the user is what keeps a job from writing
# where its user may not. The environment is set last (the job's IFS or PATH cannot change what
# this part does).
USER_PART='_o=$1 _e=$2 _m=$3 _d=$4 _n=$5
shift 5
if ! cd "$_d" 2>/dev/null; then printf "cannot enter the working directory %s (missing, or not accessible to the job'"'"'s user)\n" "$_d" >&3; exit 1; fi
_ok=1
if [ "$_m" = append ]; then true 2>/dev/null >>"$_o" || _ok=; else true 2>/dev/null >"$_o" || _ok=; fi
if [ -z "$_ok" ]; then printf "cannot open the output file %s for writing as the job'"'"'s user\n" "$_o" >&3; exit 1; fi
if [ -n "$_e" ] && [ "$_e" != "$_o" ]; then
  if [ "$_m" = append ]; then true 2>/dev/null >>"$_e" || _ok=; else true 2>/dev/null >"$_e" || _ok=; fi
  if [ -z "$_ok" ]; then printf "cannot open the error file %s for writing as the job'"'"'s user\n" "$_e" >&3; exit 1; fi
  exec >>"$_o" 2>>"$_e"
else
  exec >>"$_o" 2>&1
fi
printf "exec\n" >&3
exec 3>&-
if [ "$_n" != 0 ]; then
  unset PATH
  while [ "$_n" -gt 0 ]; do export "$1"; shift; _n=$((_n - 1)); done
fi
exec "$@"'

if [ "$1" != run ] || [ "$#" -lt 14 ] || [ "$8" != -- ]; then
  printf 'keisan job shim: bad arguments (this file is started by the local executor)\n' >&2
  exit 2
fi
_jobdir=$2 _shimprocs=$3 _jobprocs=$4 _askb=$5 _scriptfd=$6 _npre=$7
shift 8

# fd 2 is the job's `launch` record (opened by the executor): fd 3 keeps it for the job's
# first process, which reports there, then closes it before the job's command runs.
exec 3>&2
if [ -n "$_scriptfd" ]; then exec 4<"$_scriptfd"; fi

_stime() { shift 19; _st=$1; }
read -r _s </proc/self/stat
_stime ${_s##*) }
printf 'pid=%s\nstarttime=%s\nend\n' "$$" "$_st" >"$_jobdir/started"

if [ -e "$_jobdir/kill" ]; then
  printf 'stopped before it started\n' >&3
  printf 'rc=\nend\n' >"$_jobdir/exit"
  exit 0
fi

# The job: a foreground subshell (a background one would ignore SIGINT/SIGQUIT for good).
(
  # A subshell's $$ is the shim's pid: read our own from /proc/self/stat.
  read -r _s </proc/self/stat
  _self=${_s%% *}
  IFS=:
  for _p in $_jobprocs; do
    if ! printf '%s\n' "$_self" 2>/dev/null >"$_p"; then
      printf 'cannot join the job cgroup (%s)\n' "$_p" >&3
      exit 1
    fi
  done
  # Then the shim ($$) leaves the daemon's cgroups (best effort: the job's own cgroups are what
  # limits and kills). Done here, after the job's own moves, these writes are cheap.
  for _p in $_shimprocs; do printf '%s\n' "$$" 2>/dev/null >"$_p"; done
  IFS=' 	
'
  # A kill recorded before we joined the cgroups would have missed us: honour it here.
  if [ -e "$_jobdir/kill" ]; then printf 'stopped before it started\n' >&3; exit 1; fi
  if [ "$_askb" != 0 ]; then
    ulimit -v "$_askb" 2>/dev/null || { printf 'cannot set the address-space limit\n' >&3; exit 1; }
  fi
  if [ "$_npre" = 0 ]; then eval "$USER_PART"; fi
  # exec PREFIX... /bin/sh -c "$USER_PART" keisan-job OUT ERR MODE CWD CMD...
  # (the eval'd text holds positional references only, never argument text)
  _c=exec _i=1
  while [ "$_i" -le "$_npre" ]; do _c="$_c \"\${$_i}\""; _i=$((_i + 1)); done
  _c="$_c /bin/sh -c \"\$USER_PART\" keisan-job"
  while [ "$_i" -le "$#" ]; do _c="$_c \"\${$_i}\""; _i=$((_i + 1)); done
  eval "$_c"
) </dev/null
_rc=$?

{ printf 'rc=%s\n' "$_rc"; times; printf 'end\n'; } >"$_jobdir/exit"
exit 0
