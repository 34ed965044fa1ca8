"""The logic of Home Assistant rules, pure Python, no Odoo: trigger predicates (``triggers``),
crossings and "for N seconds" windows per rule and entity (``watch``), conditions at firing
time (``conditions``) and the retry schedule of failed actions (``retries``).

``models/ha_automation_rule_engine.py`` runs it on the events the state writer records."""
