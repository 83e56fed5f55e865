"""``modules.options``: ``OptionInfo`` with its chainable helpers and the ``Options`` store (host-contract §1
"Settings")."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar


class OptionInfo:
    def __init__(
        self,
        default: Any = None,
        label: str = "",
        component: Any = None,
        component_args: Any = None,
        onchange: Callable[[], None] | None = None,
        section: tuple[str, str] | None = None,
        refresh: Callable[[], None] | None = None,
        comment_before: str = "",
        comment_after: str = "",
        infotext: str | None = None,
        restrict_api: bool = False,
        category_id: str | None = None,
    ) -> None:
        self.default = default
        self.label = label
        self.component = component
        self.component_args = component_args
        self.onchange = onchange
        self.section = section
        self.category_id = category_id
        self.refresh = refresh
        self.do_not_save = False
        self.comment_before = comment_before
        self.comment_after = comment_after
        self.infotext = infotext
        self.restrict_api = restrict_api

    # Each helper only decorates the label HTML and returns self, so calls chain.
    def link(self, label: str, url: str) -> OptionInfo:
        self.comment_before += f"[<a href='{url}' target='_blank'>{label}</a>]"
        return self

    def js(self, label: str, js_func: str) -> OptionInfo:
        self.comment_before += f"[<a onclick='{js_func}(); return false'>{label}</a>]"
        return self

    def info(self, info: str) -> OptionInfo:
        self.comment_after += f"<span class='info'>({info})</span>"
        return self

    def html(self, html: str) -> OptionInfo:
        self.comment_after += html
        return self

    def needs_restart(self) -> OptionInfo:
        self.comment_after += " <span class='info'>(requires restart)</span>"
        return self

    def needs_reload_ui(self) -> OptionInfo:
        self.comment_after += " <span class='info'>(requires Reload UI)</span>"
        return self


class OptionHTML(OptionInfo):
    def __init__(self, text: str) -> None:
        super().__init__(str(text).strip(), label="")
        self.do_not_save = True


def options_section(section_identifier: tuple, options_dict: dict[str, OptionInfo]) -> dict[str, OptionInfo]:
    for value in options_dict.values():
        if len(section_identifier) == 2:
            value.section = section_identifier
        elif len(section_identifier) == 3:
            value.section = section_identifier[0:2]
            value.category_id = section_identifier[2]
    return options_dict


_BUILTIN_FIELDS = {"data_labels", "data", "restricted_opts", "typemap"}


class Options:
    """Attribute access reads ``data`` first, then the registered default; unknown names raise
    ``AttributeError`` like the real store."""

    typemap: ClassVar[dict] = {int: float}

    def __init__(self, data_labels: dict[str, OptionInfo], restricted_opts: set[str]) -> None:
        self.data_labels = data_labels
        self.data = {k: v.default for k, v in data_labels.items() if not v.do_not_save}
        self.restricted_opts = restricted_opts

    def __setattr__(self, key: str, value: Any) -> None:
        if key in _BUILTIN_FIELDS:
            super().__setattr__(key, value)
            return
        if self.data is not None and (key in self.data or key in self.data_labels):
            info = self.data_labels.get(key)
            if info is not None and info.do_not_save:
                return
            self.data[key] = value
            return
        super().__setattr__(key, value)

    def __getattr__(self, item: str) -> Any:
        if item in _BUILTIN_FIELDS:
            return super().__getattribute__(item)
        data = super().__getattribute__("data")
        if data is not None and item in data:
            return data[item]
        labels = super().__getattribute__("data_labels")
        if item in labels:
            return labels[item].default
        return super().__getattribute__(item)

    def set(self, key: str, value: Any, is_api: bool = False, run_callbacks: bool = True) -> bool:
        """Set an option and run its onchange; returns whether it changed (restricted keys refuse the API)."""
        old = self.data.get(key)
        if old == value:
            return False
        info = self.data_labels.get(key)
        if info is not None and info.do_not_save:
            return False
        if is_api and info is not None and info.restrict_api:
            return False
        try:
            setattr(self, key, value)
        except RuntimeError:
            return False
        if run_callbacks and info is not None and info.onchange is not None:
            try:
                info.onchange()
            except Exception:  # noqa: BLE001  (a failing onchange undoes the change, as in the WebUI)
                setattr(self, key, old)
                return False
        return True

    def get_default(self, key: str) -> Any:
        info = self.data_labels.get(key)
        return None if info is None else info.default

    def add_option(self, key: str, info: OptionInfo) -> None:
        self.data_labels[key] = info
        if key not in self.data and not info.do_not_save:
            self.data[key] = info.default

    def onchange(self, key: str, func: Callable[[], None], call: bool = True) -> None:
        self.data_labels[key].onchange = func
        if call:
            func()

    def save(self, filename: str) -> None:
        Path(filename).write_text(json.dumps(self.data, indent=4, ensure_ascii=False, default=str), encoding="utf8")

    def load(self, filename: str) -> None:
        path = Path(filename)
        if path.exists():
            self.data.update(json.loads(path.read_text(encoding="utf8")))

    def dumpjson(self) -> str:
        return json.dumps(self.data, default=str)

    def reorder(self) -> None:
        """Ordering only matters to the settings page, which the double does not draw."""
