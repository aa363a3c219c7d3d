"""Actors: the tasks that own metad's live state, and the pure rules beside them.

Direction of calls: coordinators ``call`` chips and WABAs; chips and WABAs only ``cast``
upwards. An actor never awaits a call to an actor that may call it back (deadlock).
Actors import nothing from ``daemon``: storage and the Graph API reach them as the
Protocols in :mod:`actors.ports`.
"""
