"""Render an EnvironmentReport for a terminal (doctor), as JSON, or as Markdown (the tab's status panel)."""

from __future__ import annotations

from typing import Any

from lib_garment.environment import EnvironmentReport


def to_dict(report: EnvironmentReport) -> dict[str, Any]:
    return {
        "version": report.version,
        "usable": report.usable,
        "problems": report.problems,
        "python": report.python,
        "platform": report.platform,
        "host": report.host,
        "webui_root": str(report.webui_root) if report.webui_root else None,
        "device": report.device,
        "packages": report.packages,
        "pending_installs": report.pending,
        "pins_source": report.pins_source,
        "pin_conflicts": report.conflicts,
        "runtimes": report.runtimes,
        "worker_folder": str(report.worker_folder),
        "worker_packages": report.worker_packages,
        "models_root": str(report.models_root),
        "models": [
            {
                "name": m.name,
                "family": m.family,
                "default": m.default,
                "path": str(m.path) if m.path else None,
                "searched": [str(p) for p in m.searched],
                "target": str(m.target),
            }
            for m in report.models
        ],
    }


def _model_lines(report: EnvironmentReport) -> list[str]:
    lines = []
    for m in report.models:
        where = str(m.path) if m.path else f"not found (put it at {m.target})"
        tag = " [default]" if m.default else ""
        lines.append(f"{m.name}{tag} ({m.family}): {where}")
    return lines


def sections(report: EnvironmentReport) -> list[tuple[str, list[str]]]:
    """The report as titled groups of lines, shared by the text and Markdown renderers."""
    status = "usable" if report.usable else "NOT usable"
    return [
        ("Garment Studio", [f"version {report.version}: {status}", *report.problems]),
        ("Host", [report.host, f"python {report.python} on {report.platform}", f"device: {report.device}"]),
        ("Packages", [f"{k}: {v or 'not installed'}" for k, v in report.packages.items()]),
        (
            "WebUI pins",
            [f"pins: {report.pins_source}", *(report.conflicts or ["no conflicts with the WebUI's pinned packages"])],
        ),
        ("Pending installs (done by install.py at the next WebUI start)", report.pending or ["none"]),
        ("Model runtimes", [f"{k}: {v}" for k, v in report.runtimes.items()]),
        ("Model worker folder", [str(report.worker_folder), *(f"{k} {v}" for k, v in report.worker_packages.items())]),
        (f"Model files under {report.models_root}", _model_lines(report)),
    ]


def render_text(report: EnvironmentReport) -> str:
    out = []
    for title, lines in sections(report):
        out.append(title)
        out.extend(f"  {line}" for line in lines)
    return "\n".join(out)


def render_markdown(report: EnvironmentReport) -> str:
    out = []
    for title, lines in sections(report):
        out.append(f"### {title}")
        out.extend(f"- {_escape(line)}" for line in lines)
        out.append("")
    return "\n".join(out)


def _escape(text: str) -> str:
    for char in "\\`*_[]<>":
        text = text.replace(char, "\\" + char)
    return text
