"""Which condition of a guard refused a call: the "why" of a CPU fallback.

A guard is a lambda or a function whose result is one expression, usually a chain of `and`s
(`_ok(x) and step >= 1`). To name the condition that failed, the expression is read from the guard's source
(the module's AST, cached per file), split at its top-level `and`s, and each part is evaluated in order with the
guard's own globals, closure and bound arguments: the first false part is the answer (`step >= 1`). Only
called when a rule does not apply, so its cost is paid on fallbacks alone. When the source cannot be read or a
part cannot be evaluated alone, the answer is the whole guard's name.
"""
from __future__ import annotations

import ast
import functools
import inspect
import linecache


@functools.lru_cache(maxsize=None)
def _module_ast(filename: str):
    src = "".join(linecache.getlines(filename))
    try:
        return ast.parse(src) if src else None
    except SyntaxError:
        return None


def _guard_expr(guard) -> ast.expr | None:
    """The expression a guard returns, from its source: a lambda's body or a function's lone `return`."""
    code = getattr(guard, "__code__", None)
    return None if code is None else _expr_of(code)


@functools.lru_cache(maxsize=None)
def _expr_of(code) -> ast.expr | None:
    tree = _module_ast(code.co_filename)
    if tree is None:
        return None
    args = list(code.co_varnames[:code.co_argcount + code.co_kwonlyargcount])
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) != code.co_firstlineno and not (
                isinstance(node, (ast.FunctionDef, ast.Lambda)) and _def_line(node) == code.co_firstlineno):
            continue
        if isinstance(node, ast.Lambda) and [a.arg for a in node.args.args + node.args.kwonlyargs] == args:
            return node.body
        if isinstance(node, ast.FunctionDef) and node.name == code.co_name:
            body = [b for b in node.body if not (isinstance(b, ast.Expr) and isinstance(b.value, ast.Constant))]
            if len(body) == 1 and isinstance(body[0], ast.Return) and body[0].value is not None:
                return body[0].value
            return None
    return None


def _def_line(node) -> int:
    """The line a code object reports as its first: a decorated function's first decorator line."""
    decos = getattr(node, "decorator_list", None)
    return decos[0].lineno if decos else node.lineno


def _conjuncts(expr: ast.expr) -> list:
    if isinstance(expr, ast.BoolOp) and isinstance(expr.op, ast.And):
        return [c for v in expr.values for c in _conjuncts(v)]
    return [expr]


def _scope(guard, args, kwargs) -> dict | None:
    try:
        bound = inspect.signature(guard).bind(*args, **kwargs)
    except TypeError:
        return None
    bound.apply_defaults()
    scope = dict(bound.arguments)
    code = guard.__code__
    for name, cell in zip(code.co_freevars, guard.__closure__ or ()):
        try:
            scope[name] = cell.cell_contents
        except ValueError:
            pass
    return scope


def failed_condition(guard, args, kwargs) -> str:
    """The first condition of `guard` that is false for these arguments, as source text."""
    name = getattr(guard, "__name__", repr(guard))
    label = "its guard" if name == "<lambda>" else f"guard {name}"
    if guard is None:
        return "no guard, yet it did not apply"
    expr, scope = _guard_expr(guard), _scope(guard, args, kwargs)
    if expr is None or scope is None:
        return f"{label} returned False"
    for part in _conjuncts(expr):
        try:
            value = eval(compile(ast.Expression(part), "<guard>", "eval"), guard.__globals__, scope)  # noqa: S307
        except Exception:
            return f"{label} returned False (at or after `{ast.unparse(part)}`)"
        if not value:
            return f"`{ast.unparse(part)}` is false"
    return f"{label} returned False"
