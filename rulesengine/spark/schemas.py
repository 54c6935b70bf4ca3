"""The Spark schemas of what goes in and what comes out.

``CLAIM`` is made from ``claim.schema.json`` itself (the one contract), so the two cannot
drift: an object is a struct, an array an array, a date a ``DateType``, a line number or a
pointer a ``LongType``, units and charges ``DoubleType``, any other value a string. A table
of claims in this shape (top-level columns, or one struct column) is what ``check_claims``
reads besides JSON text; a date column may also be ISO text.
"""

from __future__ import annotations

from pyspark.sql.types import (
    ArrayType,
    DataType,
    DateType,
    DoubleType,
    LongType,
    StringType,
    StructField,
    StructType,
)

from rulesengine.claims import CLAIM_SCHEMA


def _spark_type(node: dict) -> DataType:
    ref = node.get("$ref")
    if ref == "#/$defs/date":
        return DateType()
    if ref == "#/$defs/line":
        return _spark_type(CLAIM_SCHEMA["$defs"]["line"])
    kinds = node.get("type", "string")
    kinds = [kinds] if isinstance(kinds, str) else kinds
    if "object" in kinds:
        return StructType([StructField(name, _spark_type(sub), True)
                           for name, sub in node["properties"].items()])
    if "array" in kinds:
        return ArrayType(_spark_type(node["items"]), True)
    if "integer" in kinds:
        return LongType()
    if "number" in kinds:
        return DoubleType()
    return StringType()


#: a claim in the normalised shape of claim.schema.json
CLAIM: StructType = _spark_type(CLAIM_SCHEMA)

#: one recorded line of a member's earlier claim, as frequency and duplicate rules read it
#: (the columns of the SQLite history's claim_lines table that rules read)
HISTORY_LINE = StructType([StructField(name, kind, True) for name, kind in (
    ("member_id", StringType()), ("claim_id", StringType()), ("line_number", LongType()),
    ("procedure", StringType()), ("modifiers", ArrayType(StringType(), True)),
    ("service_date", DateType()), ("billing_npi", StringType()), ("payer_id", StringType()),
    ("units", DoubleType()), ("frequency_code", StringType()))])

#: a finding as a row: the fields of a finding in the CLI's JSON, ``evidence`` as JSON text
#: (its values are of many types), ``source`` as three columns: the rule's pack, file and line
FINDING = StructType([
    StructField("rule_id", StringType(), False),
    StructField("category", StringType(), False),
    StructField("severity", StringType(), False),
    StructField("scope", StringType(), False),
    StructField("line_number", LongType(), True),
    StructField("group_code", StringType(), False),
    StructField("carc", StringType(), False),
    StructField("rarc", ArrayType(StringType(), False), False),
    StructField("message", StringType(), False),
    StructField("evidence", StringType(), False),
    StructField("citation", StringType(), True),
    StructField("rule_pack", StringType(), False),
    StructField("rule_file", StringType(), False),
    StructField("rule_line", LongType(), False),
])

#: why a claim (or a file) was not checked: the CLI's error, by field
ERROR = StructType([
    StructField("kind", StringType(), False),
    StructField("unit", StringType(), False),
    StructField("path", StringType(), False),
    StructField("message", StringType(), False),
    StructField("text", StringType(), False),
])

#: what checking gives for each claim read: its result (pack and findings) or its error,
#: where it came from, and, for a claim not read, the text it was read from
CHECKED = StructType([
    StructField("source", StringType(), True),
    StructField("position", LongType(), True),
    StructField("claim_id", StringType(), True),
    StructField("status", StringType(), True),
    StructField("pack_id", StringType(), True),
    StructField("pack_version", StringType(), True),
    StructField("pack_hash", StringType(), True),
    StructField("findings", ArrayType(FINDING, False), True),
    StructField("warnings", ArrayType(StringType(), False), True),
    StructField("error", ERROR, True),
    StructField("input", StringType(), True),
])

#: what reading X12 files gives: a claim (in the CLAIM shape) or an error, by file
READ = StructType([
    StructField("source", StringType(), False),
    StructField("position", LongType(), False),
    StructField("claim", CLAIM, True),
    StructField("claim_id", StringType(), True),
    StructField("error", ERROR, True),
])
