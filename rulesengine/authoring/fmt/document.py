"""Documents with the places where a line may break, and their printer (after Wadler and Prettier).

A document is text (``str``), a list of documents, or one of the parts below. ``render``
prints it within WIDTH columns: a ``Group`` goes on one line if it fits and otherwise
breaks every ``LINE`` of its own; a ``Fill`` breaks a separator only where the next entry
would not fit. Comments are parts too, so that the printer alone decides where a line
ends: a trailing comment (``Trail``) ends its line, one on a line of its own (``Own``)
stands alone. ``join`` turns the printed lines into text, the trailing comments of
consecutive lines aligned. Nothing here knows the rule language (layout does).
"""

from __future__ import annotations

WIDTH = 92  # columns a breakable line may take
INDENT = 2


class _Line:  # a space, or a line break when its group does not fit
    pass


class _Hard:  # always a line break (two in a row make one)
    pass


class _Blank:  # one empty line
    pass


LINE, HARD, BLANK = _Line(), _Hard(), _Blank()


class Nest:  # its line breaks indented ``by`` more
    def __init__(self, parts, by=INDENT):
        self.parts, self.by = parts, by


class Align:  # continuation lines start at the column where this begins
    def __init__(self, parts):
        self.parts = parts


class Fill:  # [content, separator, content, ...]: break a separator only if the next does not fit
    def __init__(self, parts):
        self.parts = parts


class _FillFrom:  # what is left of a Fill to print, from its separator at ``index``
    def __init__(self, parts, index):
        self.parts, self.index = parts, index


class Trail:  # a comment at the end of the current line
    def __init__(self, text):
        self.text = text


class Own:  # a comment on a line of its own
    def __init__(self, text):
        self.text = text


class Group:
    """Printed on one line if it fits, else with every LINE of its own broken."""

    def __init__(self, parts):
        self.parts = parts
        self.hard = _forces_break(parts)


def _leaves(doc):
    if isinstance(doc, list):
        for part in doc:
            yield from _leaves(part)
    elif isinstance(doc, (Nest, Align, Fill, Group)):
        yield from _leaves(doc.parts)
    else:
        yield doc


def _forces_break(doc) -> bool:
    # a trailing comment breaks its group only if something follows it inside the group
    trail = False
    for leaf in _leaves(doc):
        if isinstance(leaf, (_Hard, Own, _Blank)) or (trail and leaf != ""):
            return True
        trail = trail or isinstance(leaf, Trail)
    return False


FLAT, BREAK = 0, 1


class _Printer:
    """Lines of (code, trailing comment); a comment always ends its line."""

    def __init__(self):
        self.lines: list[tuple[str, str | None]] = []
        self.code, self.comment = "", None

    def _empty(self) -> bool:
        return not self.code.strip() and self.comment is None

    def newline(self, indent):
        if not self._empty():
            self.lines.append((self.code.rstrip(), self.comment))
        self.code, self.comment = " " * indent, None

    def blank(self, indent):
        self.newline(indent)
        if self.lines and self.lines[-1] != ("", None):
            self.lines.append(("", None))

    def text(self, text, indent):
        if self.comment is not None:  # the comment ends the line; a space does not start one
            self.newline(indent)
            text = text.lstrip(" ")
        self.code += text

    def trail(self, text, indent):
        if self.comment is not None:  # never two comments on one line
            self.newline(indent)
        if self.code.strip():
            self.comment = text
        else:
            self.own(text, indent)

    def own(self, text, indent):
        self.newline(indent)
        self.code = " " * indent + text
        self.newline(indent)

    def finish(self):
        self.newline(0)
        return self.lines


def render(doc) -> list[tuple[str, str | None]]:
    out = _Printer()
    stack = [(0, BREAK, doc)]
    while stack:
        indent, mode, d = stack.pop()
        if isinstance(d, str):
            if d:
                out.text(d, indent)
        elif isinstance(d, list):
            stack.extend((indent, mode, part) for part in reversed(d))
        elif isinstance(d, Nest):
            stack.append((indent + d.by, mode, d.parts))
        elif isinstance(d, Align):
            stack.append((len(out.code), mode, d.parts))
        elif isinstance(d, Group):
            flat = mode == FLAT or (not d.hard and
                                    _fits([(indent, FLAT, d.parts)], stack, WIDTH - len(out.code)))
            stack.append((indent, FLAT if flat else BREAK, d.parts))
        elif isinstance(d, _Line):
            if mode == FLAT and out.comment is None:
                out.text(" ", indent)
            else:
                out.newline(indent)
        elif isinstance(d, _Hard):
            out.newline(indent)
        elif isinstance(d, _Blank):
            out.blank(indent)
        elif isinstance(d, Trail):
            out.trail(d.text, indent)
        elif isinstance(d, Own):
            out.own(d.text, indent)
        elif isinstance(d, Fill):
            if mode == FLAT:
                stack.append((indent, FLAT, list(d.parts)))
            else:
                stack.append((indent, BREAK, _FillFrom(d.parts, 1)))
                stack.append((indent, FLAT, d.parts[0]))
        elif isinstance(d, _FillFrom) and d.index < len(d.parts):
            separator, content = d.parts[d.index], d.parts[d.index + 1]
            if (isinstance(separator, _Hard) or out.comment is not None
                    or not _fits([(indent, FLAT, content)], [], WIDTH - len(out.code) - 1)):
                out.newline(indent)
            else:
                out.text(" ", indent)
            stack.append((indent, BREAK, _FillFrom(d.parts, d.index + 2)))
            stack.append((indent, FLAT, content))
    return out.finish()


def _fits(todo, rest, width) -> bool:
    """Whether ``todo``, flat, and what follows it up to the next line break fit in width."""
    todo, rest_index, in_rest = list(todo), len(rest), False
    while width >= 0:
        if not todo:
            if rest_index == 0:
                return True
            rest_index -= 1
            todo.append(rest[rest_index])
            in_rest = True
            continue
        indent, mode, d = todo.pop()
        if isinstance(d, str):
            width -= len(d)
        elif isinstance(d, list):
            todo.extend((indent, mode, part) for part in reversed(d))
        elif isinstance(d, Group):
            todo.append((indent, BREAK if d.hard else mode, d.parts))
        elif isinstance(d, (Nest, Align)):
            todo.append((indent, mode, d.parts))
        elif isinstance(d, Fill):
            todo.append((indent, mode, list(d.parts)))
        elif isinstance(d, _Line):
            if mode == BREAK:
                return True
            width -= 1
        elif isinstance(d, Own):
            return in_rest
        else:  # a line break, a trailing comment or the rest of a fill: the line ends here
            return True
    return False


def join(lines) -> str:
    """The text; trailing comments on consecutive lines of one indentation aligned (within WIDTH)."""
    def indent(code):
        return len(code) - len(code.lstrip(" "))

    out, i = [], 0
    while i < len(lines):
        j = i
        while (j < len(lines) and lines[j][1] is not None
               and indent(lines[j][0]) == indent(lines[i][0])):
            j += 1
        if j == i:
            out.append(lines[i][0])
            i += 1
            continue
        column = max(len(code) for code, _ in lines[i:j]) + 2
        for code, comment in lines[i:j]:
            pad = column - len(code) if column <= WIDTH else 2
            out.append(code + " " * pad + comment)
        i = j
    return "\n".join(out) + "\n" if out else ""
