"""The dependency graph of a plan as text, Mermaid or Graphviz DOT."""

from __future__ import annotations

from launcher.config import graph
from launcher.plan.spec import Plan, ProcessSpec


def _label(spec: ProcessSpec) -> str:
    port = f" :{spec.port}" if spec.port is not None else ""
    kind = "oneshot" if spec.oneshot else spec.kind
    return f"{spec.name} ({kind}{port})"


def _levels(plan: Plan) -> list[list[str]]:
    return graph.levels({s.name: [d.name for d in s.depends_on] for s in plan.specs})


def render_text(plan: Plan) -> str:
    lines = [f"{plan.stack}" + (f" (profile {plan.profile})" if plan.profile else "")]
    for depth, names in enumerate(_levels(plan)):
        lines.append(f"level {depth}:")
        for name in names:
            spec = plan.spec(name)
            lines.append(f"  {_label(spec)}")
            for dep in spec.depends_on:
                lines.append(f"    <- {dep.name} [{dep.condition}{', restart' if dep.restart else ''}]")
    return "\n".join(lines) + "\n"


def _id(name: str) -> str:
    return "n_" + "".join(c if c.isalnum() else "_" for c in name)


def render_mermaid(plan: Plan) -> str:
    lines = ["flowchart TD"]
    for spec in plan.specs:
        lines.append(f'    {_id(spec.name)}["{_label(spec)}"]')
    for spec in plan.specs:
        for dep in spec.depends_on:
            lines.append(f"    {_id(dep.name)} -->|{dep.condition}| {_id(spec.name)}")
    return "\n".join(lines) + "\n"


def render_dot(plan: Plan) -> str:
    lines = [f'digraph "{plan.stack}" {{', "  rankdir=LR;", "  node [shape=box];"]
    for spec in plan.specs:
        lines.append(f'  "{spec.name}" [label="{_label(spec)}"];')
    for spec in plan.specs:
        for dep in spec.depends_on:
            lines.append(f'  "{dep.name}" -> "{spec.name}" [label="{dep.condition}"];')
    lines.append("}")
    return "\n".join(lines) + "\n"


RENDERERS = {"text": render_text, "mermaid": render_mermaid, "dot": render_dot}
