"""Measures (Art. 7, 9, 11), one responsibility per module; module.py wires them.

- state.py: what measures mean for a user or room right now, read on every event.
- measures.py: taking and lifting measures, and the escalation ladder.
- followups.py: what a measure owes after its commit (notices, removing members).
- credit.py: staff's view and adjustment of credit scores.
- appeals.py: appeals, decided by a person.
- regulator_reports.py: reports to the authorities (向有关主管部门报告).
- blacklisting.py: staff's blacklist requests, through the measure that makes the entry.
- blacklist_consequences.py: what a new blacklist entry brings about.
"""
