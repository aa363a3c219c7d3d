"""Several metad daemons on one PostgreSQL, with PostgreSQL as the only coordinator.

* :mod:`daemon.cluster.leases`: chip leases (session advisory locks), the leader lock,
  and stopping before a lease can pass to another node;
* :mod:`daemon.cluster.rules`: the pure rules (which chips to take, when to stop);
* :mod:`daemon.cluster.work`: which inbox rows this node processes, which events it
  hands to the chip's owner, and running a task only while this node is the leader
  (the periodic jobs).

Campaign recipients are claimed with ``FOR UPDATE SKIP LOCKED``
(:meth:`daemon.store.campaigns.CampaignRepository.claim`) and budget reservations are
decided under an advisory transaction lock (:mod:`daemon.store.budget`).
"""

from daemon.cluster.leases import Leases, NodeIdInUse, default_node_id
from daemon.cluster.rules import LeaseTiming, Plan, View, plan
from daemon.cluster.work import InboxPlacement, inbox_filter, while_leader

__all__ = [
    "InboxPlacement",
    "LeaseTiming",
    "Leases",
    "NodeIdInUse",
    "Plan",
    "View",
    "default_node_id",
    "inbox_filter",
    "plan",
    "while_leader",
]
