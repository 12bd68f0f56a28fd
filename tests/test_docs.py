"""The documentation is executed: every ```pycon block of README.md and docs/*.md runs
under the standard library's doctest, so an example whose printed output no longer
matches what refgrad does fails here.

The blocks of one file run in order in one fresh namespace (a later block may use what an
earlier one defined), and each file is one test whose failure is doctest's own report,
with line numbers in the Markdown file. A page under docs/ must hold at least one pycon
block, so that a page cannot silently stop being checked.
"""

from __future__ import annotations

import doctest
import io
import re
import runpy
from pathlib import Path

import pytest


ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
README = ROOT / "README.md"

# Pages under docs/ that may have no executed example (none for now).
NO_EXAMPLES_ALLOWED: frozenset[str] = frozenset()

OPTIONFLAGS = doctest.ELLIPSIS

_FENCE_OPEN = re.compile(r"^```pycon\s*$")
_FENCE_ANY = re.compile(r"^```")


def documented_files() -> list[Path]:
    """README.md when it exists, then every page under docs/ (sorted)."""
    files = [README] if README.is_file() else []
    return files + sorted(DOCS.glob("*.md"))


def pycon_blocks(text: str) -> list[tuple[int, str]]:
    """The ```pycon blocks of a Markdown text: (0-based line of the block's first line, text).

    Only fences at the start of a line count; a block that is never closed is an error
    rather than a silently ignored example."""
    blocks: list[tuple[int, str]] = []
    lines = text.splitlines(keepends=True)
    i = 0
    while i < len(lines):
        if _FENCE_OPEN.match(lines[i]):
            start = i + 1
            end = start
            while end < len(lines) and not _FENCE_ANY.match(lines[end]):
                end += 1
            if end == len(lines):
                raise ValueError(f"the ```pycon block opened on line {i + 1} is never closed")
            blocks.append((start, "".join(lines[start:end])))
            i = end + 1
        else:
            i += 1
    return blocks


def file_doctest(path: Path) -> doctest.DocTest:
    """All the examples of a file's pycon blocks as one doctest, in order, numbered by file line."""
    parser = doctest.DocTestParser()
    name = _display_name(path)
    examples: list[doctest.Example] = []
    for first_line, block in pycon_blocks(path.read_text(encoding="utf-8")):
        found = parser.get_examples(block, name=f"{name}, block at line {first_line}")
        if not found:
            raise ValueError(f"{name}: the pycon block at line {first_line} holds no '>>> ' example")
        for example in found:
            example.lineno += first_line
        examples.extend(found)
    # lineno=0: doctest reports an example at line test.lineno + example.lineno + 1 (1-based).
    return doctest.DocTest(examples, {"__name__": "__docs__"}, name, str(path), 0, None)


def _display_name(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


pytestmark = pytest.mark.usefixtures("restore_refgrad_state")  # a page may change the dtype or grad mode


@pytest.mark.parametrize("path", documented_files(), ids=_display_name)
def test_examples_run_as_printed(path: Path) -> None:
    test = file_doctest(path)
    report = io.StringIO()
    runner = doctest.DocTestRunner(verbose=False, optionflags=OPTIONFLAGS)
    result = runner.run(test, out=report.write)
    if result.failed:
        pytest.fail(
            f"{result.failed} of {result.attempted} examples in {test.name} failed:\n{report.getvalue()}",
            pytrace=False,
        )


@pytest.mark.parametrize("path", sorted(DOCS.glob("*.md")), ids=_display_name)
def test_every_page_has_examples(path: Path) -> None:
    name = _display_name(path)
    if name in NO_EXAMPLES_ALLOWED:
        pytest.skip(f"{name} is allowed to have no pycon block")
    if not pycon_blocks(path.read_text(encoding="utf-8")):
        pytest.fail(
            f"{name} has no ```pycon block, so nothing in it is checked; add an example, "
            "or list the page in NO_EXAMPLES_ALLOWED with a reason",
            pytrace=False,
        )


def test_block_extraction() -> None:
    text = "intro\n```pycon\n>>> 1 + 1\n2\n```\n```python\n>>> not run\n```\n```pycon\n>>> x = 3\n```\n"
    assert pycon_blocks(text) == [(2, ">>> 1 + 1\n2\n"), (9, ">>> x = 3\n")]
    with pytest.raises(ValueError, match="never closed"):
        pycon_blocks("```pycon\n>>> 1\n")


def test_seed_example_script_prints_the_lecture_results(capsys: pytest.CaptureFixture[str]) -> None:
    """README's main job: docs/examples/seed.py prints what PyTorch prints for the seed."""
    runpy.run_path(str(ROOT / "docs" / "examples" / "seed.py"), run_name="__main__")
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        "Q = tensor([-12.,  65.], grad_fn=<SubBackward0>)",
        "Q.grad_fn: SubBackward0",
        "(a**3).grad_fn: PowBackward0",
        "a.grad = tensor([36., 81.])  # dQ/da = 9a² = [36, 81]",
        "b.grad = tensor([-12.,  -8.])  # dQ/db = -2b = [-12, -8]",
    ]
