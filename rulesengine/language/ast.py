"""The typed syntax tree of a rule file. Every node knows where it was written."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Pos:
    file: str
    line: int
    column: int
    end_line: int = 0
    end_column: int = 0

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


# ---- literals and sets --------------------------------------------------------

@dataclass(frozen=True)
class Code:
    text: str
    pos: Pos
    exact: bool = False  # "J18 only": the code itself, not the ICD-10-CM codes below it


@dataclass(frozen=True)
class CodeSpan:
    """``low..high``, inclusive."""

    low: Code
    high: Code
    pos: Pos


@dataclass(frozen=True)
class Text:
    value: str
    pos: Pos


@dataclass(frozen=True)
class CodeList:
    items: tuple[Code | CodeSpan | Text, ...]
    pos: Pos


@dataclass(frozen=True)
class SetName:
    name: str
    pos: Pos


SetRef = CodeList | SetName | Code | CodeSpan


# ---- expressions ----------------------------------------------------------------

@dataclass(frozen=True)
class Field:
    root: str  # claim, line, patient; other or earlier inside a line quantifier
    name: str
    pos: Pos

    @property
    def path(self) -> str:
        return f"{self.root}.{self.name}"


#: the lines a quantifier or an aggregate ranges over, by the word that names them:
#: ``other`` this claim's lines but the one in hand, ``earlier`` the patient's recorded
#: lines of other claims (the claim history)
SCOPES = ("other", "earlier")


@dataclass(frozen=True)
class Lookup:
    """``mpfs[line.procedure].global_days``: a column of the table's rows whose first column
    is the key, in force on the date of service; ``addon_codes.addon`` (no key): a column of
    every row in force. As a value, the row that governs (the one that took effect last);
    after ``in``, the values of every row."""

    table: str
    table_pos: Pos
    key: "Expr | None"
    column: str
    column_pos: Pos
    pos: Pos


@dataclass(frozen=True)
class Aggregate:
    """``count of other lines where (...)`` / ``sum of earlier.units where (...)``."""

    function: str  # count or sum
    scope: str  # other or earlier
    field: Field | None  # what a sum adds up; None for a count
    condition: "Condition | None"
    pos: Pos


@dataclass(frozen=True)
class Arithmetic:
    """``line.units + sum of other.units where (...)``: numbers added or subtracted."""

    left: "Expr"
    op: str  # + or -
    right: "Expr"
    pos: Pos


@dataclass(frozen=True)
class Number:
    value: int | float
    pos: Pos


@dataclass(frozen=True)
class DateValue:
    text: str  # ISO 8601; the checker reports one that is not on the calendar
    pos: Pos


@dataclass(frozen=True)
class DateShift:
    """``operand + 90 days``: calendar arithmetic on a date."""

    operand: Field | DateValue
    amount: int | float | Field  # signed; whole numbers only, or a pack parameter (param.x)
    unit: str
    pos: Pos
    negative: bool = False  # for a parameter amount: subtract it


Expr = Field | Number | Text | DateValue | DateShift | Lookup | Aggregate | Arithmetic


# ---- conditions -------------------------------------------------------------------

@dataclass(frozen=True)
class Comparison:
    left: Expr
    op: str
    right: Expr
    pos: Pos


@dataclass(frozen=True)
class Presence:
    expr: Expr
    present: bool  # "is present" / "is not absent" -> True
    pos: Pos


@dataclass(frozen=True)
class Membership:
    expr: Expr
    negated: bool
    set: SetRef
    pos: Pos


@dataclass(frozen=True)
class Quantified:
    quantifier: str  # any, all, no
    field: Field
    set: SetRef
    pos: Pos


@dataclass(frozen=True)
class Validity:
    """``line.place_of_service is valid``, ``is not valid``, or over a list field
    ``any/all/no claim.diagnosis is valid``: the code is in its published code set on the
    date of service (see ``validity``)."""

    field: Field
    valid: bool  # False for "is not valid"
    pos: Pos
    quantifier: str | None = None  # any, all or no, for a field holding several codes


@dataclass(frozen=True)
class LineQuantifier:
    """``any other line where ...`` / ``no earlier line where ...``: whether some line of
    the scope makes the condition true (a line for which it is unknown does not count)."""

    quantifier: str  # any or no ("all" is refused by the checker)
    scope: str  # other or earlier
    condition: "Condition"
    pos: Pos


@dataclass(frozen=True)
class DateWindow:
    """``line.service_date is 1 to 90 days after earlier.service_date``: both ends included.
    ``calendar months`` count months by the calendar, whatever the day of the month."""

    subject: Expr
    low: int | float
    high: int | float
    unit: str  # days, months, years or "calendar months" (singular forms as written)
    direction: str  # after or before
    reference: Expr
    pos: Pos


@dataclass(frozen=True)
class AllOf:
    items: tuple["Condition", ...]
    pos: Pos


@dataclass(frozen=True)
class AnyOf:
    items: tuple["Condition", ...]
    pos: Pos


@dataclass(frozen=True)
class Not:
    item: "Condition"
    pos: Pos


Condition = (Comparison | Presence | Membership | Quantified | Validity | LineQuantifier | DateWindow
             | AllOf | AnyOf | Not)


# ---- checks and actions --------------------------------------------------------------

@dataclass(frozen=True)
class Require:
    condition: Condition
    pos: Pos


@dataclass(frozen=True)
class RequireUnbundled:
    """NCCI procedure-to-procedure edits from a table of column-one/column-two pairs."""

    table: str
    table_pos: Pos
    bypass: CodeList | None
    pos: Pos
    across_claims: bool = False  # the patient's earlier claims by the billing provider too


@dataclass(frozen=True)
class RequireUnits:
    """Medically unlikely edits from a table of unit limits."""

    table: str
    table_pos: Pos
    pos: Pos
    across_claims: bool = False  # units on the patient's earlier claims of the date count too


@dataclass(frozen=True)
class RequireFrequency:
    """``require at most 1 per 12 months`` / ``per lifetime``: counted in the claim history."""

    limit: int | float
    limit_pos: Pos
    amount: int | float | None  # None: per lifetime
    unit: str | None  # days, months or years as written; None per lifetime
    pos: Pos
    #: ``counting {...}``: the procedure codes counted together; None counts the line's own
    counting: CodeList | SetName | Code | None = None

    @property
    def period(self) -> str:
        return "lifetime" if self.amount is None else f"{self.amount} {self.unit}"


@dataclass(frozen=True)
class RequireNoDuplicate:
    """``require no duplicate``: no other recorded claim has this member, procedure, date of
    service and billing provider."""

    pos: Pos


Check = Require | RequireUnbundled | RequireUnits | RequireFrequency | RequireNoDuplicate
#: the checks that read the claim history, which a check must then be given
HISTORY_CHECKS = (RequireFrequency, RequireNoDuplicate)


@dataclass(frozen=True)
class Action:
    severity: str  # deny, review, info
    scope: str  # line or claim
    adjustment: str  # e.g. CO-50
    adjustment_pos: Pos
    rarcs: tuple[Code, ...]
    message: Text | None
    pos: Pos

    @property
    def group_code(self) -> str:
        return self.adjustment.split("-", 1)[0]

    @property
    def carc(self) -> str:
        return self.adjustment.split("-", 1)[1]


# ---- top-level items ---------------------------------------------------------------------

@dataclass(frozen=True)
class ValueSet:
    name: str
    kind: str
    kind_pos: Pos
    codes: CodeList
    pos: Pos
    override: bool = False  # replaces the value set of this name a parent pack defines
    source: Text | None = None  # the file the codes were read from, for a "from" value set


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    type_pos: Pos
    pos: Pos


@dataclass(frozen=True)
class Table:
    name: str
    path: Text
    columns: tuple[Column, ...]
    effective_from: SetName | None  # the columns holding each row's dates
    effective_through: SetName | None
    pos: Pos


@dataclass(frozen=True)
class Header:
    """A rule's optional clause, kept with its position for duplicate checks."""

    keyword: str
    pos: Pos


@dataclass(frozen=True)
class Superseded:
    """A window of dates of service in which a later pack's ``override`` or ``disable`` of a
    rule is in force: the later pack's ``effective`` window from pack.yaml (a pack without
    one takes the rule over at every date, and the inherited version is dropped instead).
    The inherited version of the rule does not apply in it."""

    pack: str  # the id of the pack that overrides or disables the rule
    start: DateValue | None
    end: DateValue | None
    disabled: bool = False  # the later pack disables the rule (else it has its own version)


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    pos: Pos
    check: Check
    action: Action
    category: SetName | None = None
    citation: Text | None = None
    effective_from: DateValue | None = None
    effective_through: DateValue | None = None
    guard: Condition | None = None
    per_line: bool = False
    where: Condition | None = None
    headers: tuple[Header, ...] = field(default=())
    override: bool = False  # replaces the rule of this id a parent pack defines
    #: where later packs took this version over (set when packs are merged): on those dates
    #: it does not apply, though its own window covers them
    superseded: tuple[Superseded, ...] = ()


@dataclass(frozen=True)
class Disable:
    """``disable rule ID because "reason"``: switch off a rule a parent pack defines."""

    rule_id: str
    reason: Text
    pos: Pos


@dataclass(frozen=True)
class RuleFile:
    path: str
    valuesets: tuple[ValueSet, ...]
    tables: tuple[Table, ...]
    rules: tuple[Rule, ...]
    disables: tuple[Disable, ...] = ()


def walk(node):
    """Every node of a tree, depth first (positions excluded)."""
    if isinstance(node, tuple):
        for item in node:
            yield from walk(item)
    elif node is not None and hasattr(node, "__dataclass_fields__") and not isinstance(node, Pos):
        yield node
        for name in node.__dataclass_fields__:
            yield from walk(getattr(node, name))


def names_read(rule: Rule) -> set[str]:
    """The value sets and tables a rule reads: after ``in``, ``counting``, ``per`` and
    ``within``, and in lookups."""
    found: set[str] = set()
    for node in walk(rule):
        if isinstance(node, SetName):
            found.add(node.name)
        elif isinstance(node, (RequireUnbundled, RequireUnits, Lookup)):
            found.add(node.table)
    return found


def relational(node) -> bool:
    """Whether a condition looks beyond the claim's own fields: at other lines, earlier
    lines or table rows (so it cannot be decided once for many claims alike)."""
    return any(isinstance(part, (LineQuantifier, Aggregate, Lookup)) for part in walk(node))


def found_scope(rule: Rule) -> str | None:
    """``other`` or ``earlier`` when the rule requires ``no other|earlier line where ...``:
    a finding then has the line that was found, and its message may name that line's
    fields ({earlier.claim_id})."""
    check = rule.check
    if (isinstance(check, Require) and isinstance(check.condition, LineQuantifier)
            and check.condition.quantifier == "no"):
        return check.condition.scope
    return None


def reads_earlier_lines(rule: Rule) -> bool:
    """Whether the rule looks at the patient's earlier lines as a whole (a quantifier,
    count or sum over them, a check across claims), not only at one code's."""
    if getattr(rule.check, "across_claims", False):
        return True
    return any(isinstance(node, (LineQuantifier, Aggregate)) and node.scope == "earlier"
               for node in walk(rule))


def reads_history(rule: Rule) -> bool:
    """Whether checking the rule needs the claim history: a frequency or duplicate check,
    a check across claims, or a quantifier or aggregate over earlier lines."""
    check = rule.check
    return isinstance(check, HISTORY_CHECKS) or reads_earlier_lines(rule)
