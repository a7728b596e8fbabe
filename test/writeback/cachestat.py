#!/usr/bin/python3
"""Dirty and under-writeback pages of relation files, by cachestat(2).

Usage: cachestat.py DATADIR RELPATH...  (RELPATH as pg_relation_filepath
gives it).  Prints "<dirty> <writeback>": 4 kB pages summed over every
fork and segment of the relations.  Linux 6.5 or later.
"""
import ctypes
import os
import sys

SYS_CACHESTAT = 451     # x86_64 and arm64 alike (the generic table)


class Range(ctypes.Structure):
    _fields_ = [('off', ctypes.c_uint64), ('len', ctypes.c_uint64)]


class Stat(ctypes.Structure):
    _fields_ = [('nr_cache', ctypes.c_uint64), ('nr_dirty', ctypes.c_uint64),
                ('nr_writeback', ctypes.c_uint64),
                ('nr_evicted', ctypes.c_uint64),
                ('nr_recently_evicted', ctypes.c_uint64)]


libc = ctypes.CDLL(None, use_errno=True)


def files_of(datadir, relpath):
    """Every fork and segment file of one relation."""
    base = os.path.join(datadir, relpath)
    for fork in ('', '_fsm', '_vm', '_init'):
        seg = 0
        while True:
            f = base + fork + ('.%d' % seg if seg else '')
            if not os.path.exists(f):
                break
            yield f
            seg += 1


def main():
    datadir, relpaths = sys.argv[1], sys.argv[2:]
    dirty = writeback = 0
    for rp in relpaths:
        for f in files_of(datadir, rp):
            fd = os.open(f, os.O_RDONLY)
            try:
                st = Stat()
                if libc.syscall(SYS_CACHESTAT, fd, ctypes.byref(Range(0, 0)),
                                ctypes.byref(st), 0) != 0:
                    e = ctypes.get_errno()
                    sys.exit('cachestat(%s): %s' % (f, os.strerror(e)))
                dirty += st.nr_dirty
                writeback += st.nr_writeback
            finally:
                os.close(fd)
    print(dirty, writeback)


main()
