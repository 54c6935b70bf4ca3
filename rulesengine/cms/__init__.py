"""The cms room: the files CMS publishes, read as CMS lays them out, written into packs.

``files`` reads the NCCI procedure-to-procedure edits, the medically unlikely edits (MUE),
the Medicare Code Editor lists and the ICD-10-CM order file, every bad row at its line;
``writing`` turns them into a pack's tables, value-set files and code sets, whole or not at
all; ``quarters`` keeps earlier quarters of MUE and fee-schedule tables for earlier
dates of service; ``addons`` and ``fee_schedule`` read the add-on code edits and the
physician fee schedule relative value file.

May import: ``rulesengine.reports`` (atomic files), ``rulesengine.packs`` and every room
below them; not ``rulesengine.authoring``, and nothing imports this room but ``rulesengine.cli``.
"""
