"""The README's trainer examples run as written, and list every exported callback."""

from __future__ import annotations

import re
from pathlib import Path

import trainer

README = Path(__file__).resolve().parents[2] / "README.md"


def trainer_section() -> str:
    text = README.read_text()
    start = text.index("## Using `trainer` on its own")
    return text[start : text.index("\n## ", start + 1)]


def test_readme_examples_run(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # SaveModel("ckpt") writes here
    blocks = re.findall(r"```python\n(.*?)```", trainer_section(), re.S)
    assert len(blocks) == 2
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, str(README), "exec"), namespace)
    assert (tmp_path / "ckpt" / "last.pt").is_file()
    assert "valid: [" in capsys.readouterr().out


def test_readme_lists_every_callback():
    section = trainer_section()
    for name in trainer.callbacks.__all__:
        obj = getattr(trainer, name)
        if isinstance(obj, type) and issubclass(obj, trainer.Callback):
            assert f"`{name}(" in section, f"{name} is missing from README's callback table"
