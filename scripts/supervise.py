#!/usr/bin/python3
"""Run one daemon of the local cluster and reap everything it orphans.

    supervise.py PIDFILE LOGFILE -- command [args...]

Starts the command (its PID goes to PIDFILE, the supervisor's own to
PIDFILE.supervisor; each file is removed when that process ends), appends its output to LOGFILE, and waits.  The
supervisor is a child subreaper (PR_SET_CHILD_SUBREAPER): Patroni starts
each postmaster through a short-lived helper, so the postmaster, and any
background job of a Patroni callback, is re-parented here rather than to
PID 1.  Where PID 1 does not reap (some containers and micro-VMs), a
SIGKILLed postmaster would otherwise stay a zombie, which Patroni (psutil)
takes for a running PostgreSQL and never fails over.

SIGTERM, SIGINT and SIGHUP are passed on to the command.  The supervisor
does not restart the command; it exits once no child of its own or
adopted one is left, so a PostgreSQL that outlives a killed Patroni is
still reaped when it ends.
"""

import ctypes
import os
import signal
import sys
import time

PR_SET_CHILD_SUBREAPER = 36


def main():
    if len(sys.argv) < 5 or sys.argv[3] != '--':
        sys.stderr.write(__doc__)
        return 2
    pidfile, logfile, cmd = sys.argv[1], sys.argv[2], sys.argv[4:]

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        sys.stderr.write('supervise: prctl(PR_SET_CHILD_SUBREAPER) failed\n')

    log = os.open(logfile, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    null = os.open(os.devnull, os.O_RDONLY)
    child = os.fork()
    if child == 0:
        os.dup2(null, 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(s, signal.SIG_DFL)
        try:
            os.execvp(cmd[0], cmd)
        finally:
            os._exit(127)
    os.close(null)

    def forward(signo, _frame):
        try:
            os.kill(child, signo)
        except ProcessLookupError:
            pass

    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(s, forward)

    tmp = pidfile + '.tmp'
    with open(tmp, 'w') as f:
        f.write('%d\n' % child)
    os.rename(tmp, pidfile)
    with open(pidfile + '.supervisor', 'w') as f:
        f.write('%d\n' % os.getpid())

    while True:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        except InterruptedError:
            continue
        if pid == child:
            code = os.waitstatus_to_exitcode(status)
            os.write(log, ('supervise: %s (pid %d) ended at %s with %s\n' % (
                os.path.basename(cmd[0]), child,
                time.strftime('%Y-%m-%d %H:%M:%S'),
                'signal %d' % -code if code < 0 else 'exit %d' % code))
                .encode())
            # a stale PID file could name an unrelated process later
            remove_if_ours(pidfile, child)
    remove_if_ours(pidfile + '.supervisor', os.getpid())
    return 0


def remove_if_ours(path, pid):
    try:
        with open(path) as f:
            if f.read().strip() == str(pid):
                os.unlink(path)
    except OSError:
        pass


if __name__ == '__main__':
    sys.exit(main())
