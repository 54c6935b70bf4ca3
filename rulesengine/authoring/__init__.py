"""The authoring room: what the people who keep packs run, one folder or module a tool.

``lint/`` (what loads but is probably wrong), ``fmt/`` (the one canonical layout of rule
files), ``explain/`` (why each rule fired or passed on a claim, in plain words),
``packtest/`` (the tests a pack keeps beside its rules, run with both evaluators) and
``diff`` (what a pack change does to a corpus of claims).

May import: ``rulesengine.reports`` (atomic files), ``rulesengine.packs`` and every room
below them; not ``rulesengine.cms``, and nothing imports this room but ``rulesengine.cli``.
"""
