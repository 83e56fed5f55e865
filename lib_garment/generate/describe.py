"""The model task's person, said field by field (``GarmentRequest.model``), as prompt text.

Pure string work, so every entry point composes the same prompt: the tab and REST through the plan, the
always-on section onto the WebUI's own prompt. Composing twice gives the same prompt (a pasted infotext
already carries the description in its prompt).
"""

from __future__ import annotations

from lib_garment.request import GarmentRequest, ModelDescription

# The order the description reads in: who, then how they look, then what they do and where.
FIELDS = ("gender", "age", "ethnicity", "body", "expression", "pose", "scene")
SUBJECT = "fashion model"


def describe_model(model: ModelDescription) -> str:
    """``"fashion model, woman, in her 30s, …"``, or "" when every field is empty."""
    parts = [" ".join(getattr(model, name).split()) for name in FIELDS]
    said = [part.strip(" ,") for part in parts if part.strip(" ,")]
    return ", ".join([SUBJECT, *said]) if said else ""


def compose_prompt(prompt: str, description: str) -> str:
    """``prompt`` with ``description`` after it (once: a prompt that already holds it is left as it is)."""
    if not description or description in prompt:
        return prompt
    return f"{prompt.rstrip(' ,')}, {description}" if prompt.strip() else description


def request_prompt(request: GarmentRequest, prompt: str | None = None) -> str:
    """The prompt a job generates with: ``prompt`` (default: the request's) plus, for the model task, the
    person the request describes."""
    base = request.prompt if prompt is None else prompt
    if request.task != "model":
        return base
    return compose_prompt(base, describe_model(request.model))
