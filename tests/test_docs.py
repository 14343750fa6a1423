"""Every example in README.md and docs/*.md runs as written, and every relative link resolves.

How the markdown is read (the conventions a page's author follows):

- A ```python block runs with the page's earlier python blocks, in order, in one namespace,
  with the working directory a folder of that page (see below). Each block is its own test
  case; a case whose process has not run the page's earlier blocks (another xdist worker)
  runs them first.
- A ```sh / ```bash block runs through `bash -e -o pipefail` in a fresh folder of its own,
  with `.venv/bin` first on PATH. So a block makes what it uses, starting from what every
  folder holds: symlinks to the sample height maps of `../shared/data` (milled-face.sur,
  bullet-land-sample.x3p, tiny-testing.x3p) and the page's file blocks.
- A ```console block: lines starting with `$ ` are commands (run as above, exit status
  not checked); every other line is output, and each must appear, whitespace normalised,
  in what the commands print (stdout and stderr).
- HTML comments on the lines directly above a fence steer it:
  `<!-- file: NAME -->`   the block's text is written to NAME in every folder of the page
                          (a TOML plan, a CSV layout), and is not run;
  `<!-- expect: P ... -->` these paths exist after the block ran;
  `<!-- server -->`       the block starts a server: it runs in the background until it
                          prints an http://127.0.0.1:PORT/ URL, which must answer 200, then
                          it is stopped;
  `<!-- slow -->`         the case is marked `slow`;
  `<!-- not run: WHY -->` the case is skipped with that reason; at most MAX_NOT_RUN in all.
- Every shell block that is run must assert something: `<!-- expect: -->` files, a
  console block's output, or a server's answer.

The sample data's transport matrices go to the test session's cache (conftest.py).
"""
from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
SAMPLES = ("milled-face.sur", "bullet-land-sample.x3p", "tiny-testing.x3p")
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
RUN_LANGS = {"python", "sh", "bash", "console"}
MAX_NOT_RUN = 4
README_MAX_LINES = 200
BLOCK_TIMEOUT_S = 600

_FENCE = re.compile(r"^```([\w-]*)\s*$")
_COMMENT = re.compile(r"^<!--\s*(.*?)\s*-->\s*$")


@dataclass
class Block:
    page: Path
    index: int          # position among the page's fenced blocks, from 0 (the case id)
    lang: str
    text: str
    line: int           # line of the opening fence, from 1
    marks: dict[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"{self.page.relative_to(REPO)}:{self.index}:{self.lang}"


def parse(page: Path) -> list[Block]:
    """The fenced blocks of a markdown page with the comment markers directly above them."""
    lines = page.read_text(encoding="utf-8").splitlines()
    blocks, k = [], 0
    while k < len(lines):
        m = _FENCE.match(lines[k])
        if not m or not m.group(1):
            k += 1
            continue
        marks, j = {}, k - 1
        while j >= 0 and (c := _COMMENT.match(lines[j])):
            key, _, value = c.group(1).partition(":")
            marks[key.strip()] = value.strip()
            j -= 1
        end = k + 1
        while end < len(lines) and lines[end].strip() != "```":
            end += 1
        blocks.append(Block(page, len(blocks), m.group(1), "\n".join(lines[k + 1:end]) + "\n",
                            k + 1, marks))
        k = end + 1
    return blocks


ALL_BLOCKS = [b for page in PAGES for b in parse(page)]
RUN_BLOCKS = [b for b in ALL_BLOCKS if b.lang in RUN_LANGS and "file" not in b.marks]


def _case(block: Block):
    marks = [pytest.mark.slow] if "slow" in block.marks else []
    if "not run" in block.marks:
        marks.append(pytest.mark.skip(reason=f"{block.name}: not run: {block.marks['not run']}"))
    return pytest.param(block, id=block.name, marks=marks)


def _folder(block: Block, base: Path) -> Path:
    """A folder holding the sample data and the file blocks of the block's page."""
    base.mkdir(parents=True, exist_ok=True)
    for name in SAMPLES:
        if (DATA / name).exists() and not (base / name).exists():
            (base / name).symlink_to(DATA / name)
    for other in ALL_BLOCKS:
        if other.page == block.page and "file" in other.marks:
            target = base / other.marks["file"]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(other.text, encoding="utf-8")
    return base


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{REPO / '.venv' / 'bin'}{os.pathsep}{Path(sys.executable).parent}" \
                  f"{os.pathsep}{env.get('PATH', '')}"
    env.setdefault("PYTHONPATH", str(REPO / "src"))
    return env


def _check_expected(block: Block, folder: Path) -> None:
    missing = [p for p in shlex.split(block.marks.get("expect", ""))
               if not (folder / p).exists()]
    assert not missing, f"{block.name}: not written: {missing}"


def _bash(script: str, folder: Path, check: bool = True) -> subprocess.CompletedProcess:
    """Run a script in `folder`; with `check`, under -e -o pipefail and expecting exit 0."""
    strict = ["-e", "-o", "pipefail"] if check else []
    done = subprocess.run(["bash", *strict, "-c", script], cwd=folder, env=_env(),
                          capture_output=True, text=True, timeout=BLOCK_TIMEOUT_S)
    if check:
        assert done.returncode == 0, \
            f"exit {done.returncode}\n--- stdout\n{done.stdout[-3000:]}\n--- stderr\n{done.stderr[-3000:]}"
    return done


def _norm(text: str) -> str:
    return " ".join(text.split())


def _run_console(block: Block, folder: Path) -> None:
    commands, expected = [], []
    for line in block.text.splitlines():
        if line.startswith("$ "):
            commands.append(line[2:])
        elif line.strip():
            expected.append(line)
    assert commands, f"{block.name}: a console block without a `$ ` command"
    done = _bash("\n".join(commands), folder, check=False)  # a console may show a failure
    printed = _norm(done.stdout + "\n" + done.stderr)
    for line in expected:
        assert _norm(line) in printed, \
            f"{block.name}: not printed: {line!r}\n--- printed\n{done.stdout}{done.stderr}"


def _run_server(block: Block, folder: Path) -> None:
    proc = subprocess.Popen(["bash", "-c", "exec " + block.text.strip()], cwd=folder, env=_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    try:
        url, printed, deadline = None, [], time.monotonic() + 120
        os.set_blocking(proc.stdout.fileno(), False)
        while url is None and time.monotonic() < deadline and proc.poll() is None:
            chunk = proc.stdout.readline()
            if not chunk:
                time.sleep(0.2)
                continue
            printed.append(chunk)
            m = re.search(r"http://127\.0\.0\.1:\d+/\S*", chunk)
            url = m.group(0) if m else None
        assert url, f"{block.name}: no 127.0.0.1 URL printed\n{''.join(printed)}"
        with urllib.request.urlopen(url, timeout=30) as answer:
            assert answer.status == 200
            assert b"<html" in answer.read(4096).lower()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@dataclass
class _PythonPage:
    folder: Path
    namespace: dict = field(default_factory=dict)
    done: int = 0        # python blocks of the page run so far in this process
    failed: str = ""


_PYTHON_PAGES: dict[Path, _PythonPage] = {}


def _run_python(block: Block, tmp_root: Path) -> None:
    blocks = [b for b in RUN_BLOCKS if b.page == block.page and b.lang == "python"]
    state = _PYTHON_PAGES.setdefault(
        block.page, _PythonPage(_folder(block, tmp_root / f"python-{block.page.stem}")))
    position = blocks.index(block)
    cwd = os.getcwd()
    os.chdir(state.folder)
    try:
        while state.done <= position:
            if state.failed:
                pytest.fail(f"{block.name}: an earlier block of the page failed: {state.failed}")
            current = blocks[state.done]
            try:
                exec(compile(current.text, current.name, "exec"), state.namespace)
            except BaseException:
                state.failed = current.name
                raise
            state.done += 1
    finally:
        os.chdir(cwd)
    _check_expected(block, state.folder)


@pytest.mark.parametrize("block", [_case(b) for b in RUN_BLOCKS])
def test_doc_example_runs(block: Block, tmp_path, tmp_path_factory):
    if block.lang == "python":
        _run_python(block, tmp_path_factory.getbasetemp())
        return
    folder = _folder(block, tmp_path)
    if block.lang == "console":
        _run_console(block, folder)
    elif "server" in block.marks:
        _run_server(block, folder)
    else:
        assert block.marks.get("expect"), \
            f"{block.name}: a shell example must name what it writes (<!-- expect: ... -->)"
        _bash(block.text, folder)  # line {block.line} of the page
    _check_expected(block, folder)


MARKS = {"file", "expect", "server", "slow", "not run"}


def test_markers_are_known():
    """A misspelt marker (`<!-- expcet: ... -->`) would silently assert nothing."""
    unknown = [(b.name, k) for b in ALL_BLOCKS for k in b.marks if k not in MARKS]
    assert not unknown, unknown


def test_few_examples_are_not_run():
    skipped = [b.name for b in RUN_BLOCKS if "not run" in b.marks]
    assert len(skipped) <= MAX_NOT_RUN, skipped
    assert len(RUN_BLOCKS) - len(skipped) >= 15


def test_every_page_has_examples_and_pages_are_linked():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= README_MAX_LINES
    for page in PAGES[1:]:
        assert f"](docs/{page.name})" in readme, f"README.md does not link {page.name}"


def _slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens;
    emphasis marks dropped, but a code span keeps its underscores (`whole_command.py`)."""
    parts = re.split(r"(`[^`]*`)", heading.strip().lower())
    text = "".join(p[1:-1] if p.startswith("`") else
                   re.sub(r"[*_]|\[(.*?)\]\(.*?\)", lambda m: m.group(1) or "", p)
                   for p in parts)
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)
    return {_slug(h) for h in re.findall(r"^#+ +(.+)$", text, flags=re.M)}


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_relative_links_resolve(page: Path):
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)
    targets = re.findall(r"\]\(([^)\s]+)\)", text) + re.findall(r'src="([^"]+)"', text)
    broken = []
    for target in targets:
        if re.match(r"[a-z]+:", target):
            continue
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.exists():
            broken.append(target)
        elif anchor and file.suffix == ".md" and anchor not in _anchors(file):
            broken.append(f"{target} (no such heading)")
    assert not broken, f"{page.name}: {broken}"


def test_heading_anchors_follow_github():
    """Code spans keep their underscores; emphasis marks and punctuation go."""
    assert _slug("The whole command (`benchmarks/whole_command.py`)") == \
        "the-whole-command-benchmarkswhole_commandpy"
    assert _slug("A _light_ that **holds**: [SET](x.md)") == "a-light-that-holds-set"
