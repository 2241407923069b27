"""Projects with more flows than the shipped ones: the hip flow of tests/flows/hip, YAML and
templates only, beside the real dialogs and templates."""

from __future__ import annotations

import shutil
from pathlib import Path

from bot.settings import ROOT

HIP_FLOW = Path(__file__).resolve().parent.parent / "flows" / "hip"


def project_with_hip_flow(folder: Path) -> Path:
    """The shipped dialogs and templates, plus the hip flow's YAML and templates."""
    for part in ("dialogs", "templates"):
        shutil.copytree(ROOT / part, folder / part)
        shutil.copytree(HIP_FLOW / part, folder / part, dirs_exist_ok=True)
    return folder
