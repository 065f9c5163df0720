"""Location paths: child, parent, self and descendant-or-self (``//``) steps.

An absolute path walked from inside a repeat stays in that repeat instance, as
JavaRosa does: ``/data/members/age`` evaluated for a node of ``members[2]``
means ``members[2]``'s age. Relative paths (``../age``) need no such rule.

The other XPath axes (the specification keeps parent, child and self only),
attributes (a record's answers carry none) and ``text()``-like node tests are
left to the tablet: ``compile_path`` marks such a path not checked.
"""

from __future__ import annotations

EVALUATED_AXES = frozenset({"child", "parent", "self", "descendant-or-self"})


def compile_path(compiler, start, steps):
    """``start`` is None (absolute), ``"context"`` or a compiled base expression."""
    for axis, test, _ in steps:
        if axis not in EVALUATED_AXES:
            what = ("attributes are" if axis == "attribute"
                    else f"the '{axis}' axis is")
            return compiler.not_checked(f"{axis}::", f"{what} not read on the server")
        if test.endswith("()") and test != "node()":
            return compiler.not_checked(test, f"the node test '{test}' is not read on the "
                                        "server")
    step_fns = []
    static = start is None
    schema_path = None if static else ""
    for i, (axis, test, preds) in enumerate(steps):
        preds = [compiler.compile_predicate(p) for p in preds]
        contextual = None
        if static and axis == "child" and test != "*" and not preds:
            schema_path = "" if i == 0 else (f"{schema_path}/{test}" if schema_path else test)
            contextual = schema_path if i > 0 else None
        else:
            static = False
        step_fns.append(_step(axis, test, preds, contextual))

    if start == "context" and len(steps) == 1 and steps[0] == ("self", "node()", []):
        return _context_node  # ``.``, the commonest path in constraints
    if static and steps:
        return _static_path(tuple(test for _, test, _ in steps), _walk(first_doc, step_fns))
    if start is None:
        first = first_doc
    elif start == "context":
        def first(ctx):
            return [ctx.node]
    else:
        base = start

        def first(ctx):
            nodes = base(ctx)
            if type(nodes) is not list:
                raise TypeError("a path '/...' must start from a node-set")
            return nodes

    return _walk(first, step_fns)


def _context_node(ctx):
    return [ctx.node]


def first_doc(ctx):
    return [ctx.env.doc]


def _walk(first, step_fns):
    if len(step_fns) == 1:
        only = step_fns[0]
        return lambda ctx: only(first(ctx), ctx)

    def path(ctx):
        nodes = first(ctx)
        for fn in step_fns:
            if not nodes:
                return nodes
            nodes = fn(nodes, ctx)
        return nodes

    return path


def _static_path(names, general):
    """``/a/b/c`` (child steps by name, no predicates): outside any repeat (the form
    has none, or there is no current node) no step is contextualised, so it is a
    walk down by names; otherwise the general ``path``."""

    def static(ctx):
        current = ctx.current
        if current is not None and current.schema.repeat_paths:
            return general(ctx)
        nodes = [ctx.env.doc]
        for name in names:
            if not nodes:
                return nodes
            if len(nodes) == 1:
                nodes = nodes[0].children(name)
            else:
                out = []
                for n in nodes:
                    out.extend(n.children(name))
                nodes = out
        return nodes

    return static


def _step(axis, test, preds, contextual):
    if axis == "child":
        return _child_step(test, preds, contextual)
    if axis == "parent":
        return _filtered(_parents, test, preds)
    if axis == "self":
        return _filtered(lambda nodes: nodes, test, preds)
    if axis == "descendant-or-self":
        return _filtered(_descendants_or_self, test, preds)
    return lambda nodes, ctx: []  # the instance data carries no attributes


def _child_step(name, preds, contextual):
    def children(nodes, ctx):
        if contextual is not None:
            current = ctx.current
            if current is not None and current.schema.repeat_paths:
                held = ctx.env.repeat_ancestors(current).get(contextual)
                if held is not None:
                    return [held]
        if name == "*":
            out = []
            for n in nodes:
                out.extend(_apply(n.element_children(), preds, ctx))
            return out
        if len(nodes) == 1 and not preds:
            return nodes[0].children(name)
        out = []
        for n in nodes:
            out.extend(_apply(n.children(name), preds, ctx))
        return out

    return children


def _apply(nodes, preds, ctx):
    for pred in preds:
        if not nodes:
            break
        nodes = pred(nodes, ctx)
    return nodes


def _filtered(axis_fn, test, preds):
    def step(nodes, ctx):
        found = axis_fn(nodes)
        if test != "node()" and test != "*":
            found = [n for n in found if n.name == test]
        elif test == "*":
            found = [n for n in found if n.parent is not None]
        return _apply(found, preds, ctx) if preds else found

    return step


def _parents(nodes):
    out, seen = [], set()
    for n in nodes:
        p = n.parent
        if p is not None and id(p) not in seen:
            seen.add(id(p))
            out.append(p)
    return out


def _descendants_or_self(nodes):
    out, seen = [], set()

    def visit(n):
        if id(n) in seen:
            return
        seen.add(id(n))
        out.append(n)
        if type(n.value) is dict:
            for kid in n.element_children():
                visit(kid)

    for n in nodes:
        visit(n)
    return out
