#!/usr/bin/python3
"""Start Patroni (as `patroni CONFIG` does), with one fix for Patroni 3.0.2.

Patroni 3.0.2 (Debian 12) can overwrite another node's leader key in etcd3:
when a leader's Patroni has been stopped for longer than ttl (SIGSTOP, a
long GC or VM pause, a stuck disk), its lease has expired and a replica has
been promoted; on waking up, its first HA loop still sees itself as leader
in its cached view, gets a new lease and PUTs the leader key
unconditionally.  The new primary then sees another lock owner and demotes
itself, and pg_rewind throws away everything it acknowledged -- the
freeze-patroni drill in test/ha lost ~2000 acknowledged orders this way.

Upstream fixed it in Patroni 3.0.3 (github.com/patroni/patroni pull 2689,
"Make sure the leader key isn't unconditionally overwritten").  This
launcher applies the same rule to 3.0.2's Etcd3._update_leader: move the
leader key to the new lease only if it still names this node, or create it
if nobody holds it; otherwise report failure, and Patroni demotes the old
primary.  Any other Patroni version runs unchanged.
"""

import logging
import sys
import time


def patch_etcd3_update_leader():
    from patroni.version import __version__
    from patroni.dcs import Leader, catch_return_false_exception
    from patroni.dcs import etcd3

    if __version__ != '3.0.2':
        return False
    logger = logging.getLogger('patroni.dcs.etcd3')

    @catch_return_false_exception
    def _update_leader(self):
        retry = self._retry.copy()

        def _retry(*args, **kwargs):
            kwargs['retry'] = retry
            return retry(*args, **kwargs)

        self._run_and_handle_exceptions(self._do_refresh_lease, True,
                                        retry=_retry)
        if not self._lease:
            return False
        cluster = self.cluster
        leader_lease = cluster and isinstance(cluster.leader, Leader) and \
            cluster.leader.session
        if leader_lease == self._lease:
            return True

        retry.deadline = retry.stoptime - time.time()
        if retry.deadline < 1:
            raise etcd3.Etcd3Error('update_leader timeout')
        fields = {'key': etcd3.base64_encode(self.leader_path),
                  'value': etcd3.base64_encode(self._name),
                  'lease': self._lease}
        # the key still names us (our lease was renewed as a new one): move it
        if self._run_and_handle_exceptions(
                self._client.txn,
                {'key': fields['key'], 'target': 'VALUE',
                 'value': fields['value']},
                {'request_put': fields}, retry=_retry):
            return True
        # nobody holds it: take it, as attempt_to_acquire_leader does
        if self._run_and_handle_exceptions(
                self._client.put, self.leader_path, self._name, self._lease,
                0, retry=_retry):
            return True
        logger.warning('leader key is held by another node: not overwriting '
                       'it (Patroni 3.0.2 fix, upstream pull 2689)')
        return False

    etcd3.Etcd3._update_leader = _update_leader
    return True


def main():
    from patroni.__main__ import main as patroni_main
    if patch_etcd3_update_leader():
        sys.stderr.write('run_patroni: etcd3 update_leader fixed for '
                         'Patroni 3.0.2 (upstream pull 2689)\n')
    sys.argv[0] = 'patroni'
    return patroni_main()


if __name__ == '__main__':
    sys.exit(main())
