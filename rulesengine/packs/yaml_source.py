"""YAML that people write by hand, read as plain data with the place of every key and value.

Built from the composed node tree rather than ``yaml.safe_load``: for the positions (an
error names the file:line:col of the value it is about), to catch repeated keys, and so
codes keep their written text (``0450`` is not octal 296 and ``2026-07-14`` stays a text
for a schema to check). Only the values of the keys named numeric are read as numbers.
Nothing is constructed but numbers, so nothing in the file can run code.
"""

from __future__ import annotations

import yaml

from rulesengine.language import ast
from rulesengine.language.diagnostics import Diagnostic

_TAG = "tag:yaml.org,2002:"
#: limits on what a YAML file may expand to: aliases can make a short file enormous (a
#: 345-byte "billion laughs" file), and every walk of it recurses by depth
_MAX_NODES = 100_000
_MAX_DEPTH = 40


class _TooBig(Exception):
    pass


class YamlSource:
    """One YAML document: ``read()`` gives its data; ``values`` and ``keys`` map each path
    of keys and list indexes to where its value (its key) is written; ``problems`` holds
    (path, Diagnostic) for what is wrong in it, ``empty`` whether it holds no document."""

    def __init__(self, file: str, text: str, numeric_keys=frozenset(), code: str = "bad-yaml"):
        self.file, self.text = file, text
        self.numeric_keys, self.code = numeric_keys, code  # code: of a repeated key
        self.values: dict[tuple, ast.Pos] = {}
        self.keys: dict[tuple, ast.Pos] = {}
        self.problems: list[tuple[tuple, Diagnostic]] = []
        self.empty = False
        self._budget = _MAX_NODES
        self._yaml = yaml.constructor.SafeConstructor()  # only for numbers and merge keys
        self._flattened: set[int] = set()

    def read(self):
        """The document as dicts, lists, texts and numbers; None when it is empty or broken."""
        try:
            node = yaml.compose(self.text)
            if node is None:
                self.empty = True
                return None
            return self._data(node, (), False)
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
            pos = self._pos(mark) if mark else ast.Pos(self.file, 1, 1)
            problem = getattr(error, "problem", None) or str(error)
            self.problems.append(((), Diagnostic("bad-yaml", pos, f"not valid YAML: {problem}")))
        except _TooBig as error:
            self.problems.append(((), Diagnostic("bad-yaml", ast.Pos(self.file, 1, 1), str(error),
                                                 "a pack's YAML is a few levels of plain fields")))
        except RecursionError:  # PyYAML composes nested collections by recursion
            self.problems.append(((), Diagnostic(
                "bad-yaml", ast.Pos(self.file, 1, 1), "the file nests too deep to read",
                "a pack's YAML is a few levels of plain fields")))
        return None

    def where(self, path: tuple, key: bool = False) -> ast.Pos:
        """The position of the value at ``path`` (of its key with ``key``), else of the
        nearest enclosing value that is written."""
        if key and path in self.keys:
            return self.keys[path]
        while path and path not in self.values:
            path = path[:-1]
        return self.values.get(path, ast.Pos(self.file, 1, 1))

    def _pos(self, mark) -> ast.Pos:
        return ast.Pos(self.file, mark.line + 1, mark.column + 1)

    def _data(self, node, path: tuple, numeric: bool):
        self._budget -= 1
        if self._budget < 0:
            raise _TooBig(f"the file's aliases expand too far (past {_MAX_NODES:,} values)")
        if len(path) > _MAX_DEPTH:
            raise _TooBig(f"the file nests deeper than {_MAX_DEPTH} levels")
        self.values[path] = self._pos(node.start_mark)
        if isinstance(node, yaml.MappingNode):
            if id(node) not in self._flattened:  # an alias visits its node again
                self._flattened.add(id(node))
                self._repeated_keys(node, path)
                self._yaml.flatten_mapping(node)  # YAML merge keys (<<: *defaults)
            out = {}
            for key, value in node.value:
                if not isinstance(key, yaml.ScalarNode):
                    raise yaml.MarkedYAMLError(problem="a key must be a plain word",
                                               problem_mark=key.start_mark)
                self.keys[(*path, key.value)] = self._pos(key.start_mark)
                out[key.value] = self._data(value, (*path, key.value), key.value in self.numeric_keys)
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self._data(item, (*path, i), numeric) for i, item in enumerate(node.value)]
        if node.tag == _TAG + "null":
            return None
        if numeric and node.tag == _TAG + "int":
            return self._yaml.construct_yaml_int(node)
        if numeric and node.tag == _TAG + "float":
            return self._yaml.construct_yaml_float(node)
        return node.value

    def _repeated_keys(self, node, path):
        seen: set[str] = set()
        for key, _ in node.value:
            if key.tag != _TAG + "merge" and isinstance(key, yaml.ScalarNode):
                if key.value in seen:
                    self.problems.append(((*path, key.value), Diagnostic(
                        self.code, self._pos(key.start_mark),
                        f"{key.value} is given twice here", "keep one of them")))
                seen.add(key.value)

