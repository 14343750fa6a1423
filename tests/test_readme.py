"""The README's Python examples run as written, in order, in one namespace."""
import os
import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_python_examples_run(tmp_path, capsys):
    blocks = python_blocks()
    assert len(blocks) >= 3
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        namespace: dict = {}
        for k, code in enumerate(blocks):
            exec(compile(code, f"README.md python block {k + 1}", "exec"), namespace)
    finally:
        os.chdir(cwd)
    assert (tmp_path / "results" / "part" / "run.json").is_file()
    assert (tmp_path / "results" / "from-config" / "after.png").is_file()
    assert (tmp_path / "envmap.exr").is_file()
    assert (tmp_path / "fit-results" / "run.json").is_file()
