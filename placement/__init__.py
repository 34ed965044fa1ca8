"""Which Odoo node hosts which Home Assistant instance: pure Python, no Odoo.

``node_names`` names a node (one connector supervisor) so that every other node can read its
identity from PostgreSQL, ``rendezvous`` decides each instance's preferred node from the live
ones, and ``planner`` turns that into one election round's moves. ``connector/supervisor.py``
explains where these decisions sit in the process model.
"""
