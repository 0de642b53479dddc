"""The book's conventions as checks: each function returns a list of problems (empty = fine).

Used by tests/test_structure.py (on the real book, and on copies broken on purpose to show
each rule can fail) and by scripts/nbtool.py (which fixes what can be fixed automatically).
See CONTRIBUTING.md for the conventions in prose.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import tomllib
import yaml

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"

ALLOWED_TAGS = frozenset(
    {
        "remove-cell",
        "remove-input",
        "remove-output",
        "hide-input",
        "hide-output",
        "hide-cell",
        "raises-exception",
        "skip-execution",
    }
)
LABEL_RE = re.compile(r"^\((sec-[a-z0-9][a-z0-9-]*)\)=\s*$")
ABSOLUTE_PATH_RE = re.compile(r"""["'](/(home|Users|work|tmp|root|mnt)/|[A-Za-z]:\\\\)""")
SYS_PATH_RE = re.compile(r"sys\.path\.(insert|append|extend)|sys\.path\s*=|PYTHONPATH")
# conda package names that differ from their PyPI names
CONDA_TO_PYPI = {"pytorch": "torch", "pysoundfile": "soundfile"}


class UniqueKeyLoader(yaml.SafeLoader):
    """A YAML loader that refuses duplicate keys (PyYAML silently keeps the last one)."""


def _construct_mapping(loader: UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False):
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"duplicate key {key!r} (first on line {seen[key] + 1})",
                key_node.start_mark,
            )
        seen[key] = key_node.start_mark.line
    return loader.construct_mapping(node, deep=deep)


UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_yaml(path: Path) -> Any:
    with open(path, encoding="utf-8") as f:
        return yaml.load(f, Loader=UniqueKeyLoader)  # noqa: S506 (a SafeLoader subclass)


def repository_url(book: Path = BOOK) -> str:
    return load_yaml(book / "_config.yml")["repository"]["url"]


def nodeps_requirements(root: Path = ROOT) -> list[str]:
    """The pinned packages of requirements-nodeps.txt (installed with ``pip --no-deps``)."""
    lines = (root / "requirements-nodeps.txt").read_text(encoding="utf-8").splitlines()
    return [line.split("#")[0].strip() for line in lines if line.split("#")[0].strip()]


def bootstrap_source(repo_url: str) -> str:
    """The first cell of every notebook: installs the library in Colab, nothing elsewhere."""
    nodeps = ", ".join(f'"{r}"' for r in nodeps_requirements())
    return (
        "# Colab bootstrap: installs this book's library in Google Colab (hidden in the book).\n"
        "import sys\n"
        "\n"
        'if "google.colab" in sys.modules:\n'
        "    import subprocess\n"
        "\n"
        f'    REPO = "{repo_url}"\n'
        f'    subprocess.run(["pip", "install", "-q", "--no-deps", {nodeps}], check=True)\n'
        '    subprocess.run(["pip", "install", "-q", f"tutorial-lib @ git+{REPO}"], check=True)'
    )


def notebooks(book: Path = BOOK) -> list[Path]:
    return sorted(
        p
        for p in book.rglob("*.ipynb")
        if "_build" not in p.parts and ".ipynb_checkpoints" not in p.parts
    )


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


#: The widest figure (inches at 100 dpi) whose 10-11 pt labels stay legible at the text
#: column's width in the HTML book (about 750 px).
MAX_FIGURE_WIDTH = 10.0
FIGSIZE_RE = re.compile(r"figsize=\(\s*(\d+(?:\.\d+)?)\s*,")


#: The least number of claim cells (``tl.claims.claim``) a chapter must have: chapters whose
#: prose compares measured numbers. Every claim's sentence must be in the markdown cell above.
MIN_CLAIMS = {
    "03_01_waveform_unet.ipynb": 2,
    "04_01_mel_diffusion.ipynb": 2,
    "05_01_latent_diffusion.ipynb": 3,
    "06_01_midi_synthesis.ipynb": 3,
    "07_01_when_it_only_outputs_noise.ipynb": 2,
}
#: The closing sections, in this order, where a notebook has them (H2 titles).
CLOSING_SECTIONS = ("Summary", "Exercises", "Further reading")


def _claim_sentences(src: str) -> list[str] | None:
    """The sentences (first arguments) of the ``claim(...)`` calls of a code cell's source.

    ``None`` when a call's sentence is not a plain string literal (the rule cannot read it).
    """
    import ast

    try:
        tree = ast.parse(src)
    except SyntaxError:
        return None
    out: list[str] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        f = node.func
        name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
        if name != "claim":
            continue
        if (
            not node.args
            or not isinstance(node.args[0], ast.Constant)
            or not isinstance(node.args[0].value, str)
        ):
            return None
        out.append(node.args[0].value)
    return out


def check_claims(name: str, cells: list[dict]) -> list[str]:
    """Claims are tests: hidden claim cells, each quoting the markdown right above it."""
    from tutorial_lib.claims import normalise

    problems: list[str] = []
    count = 0
    last_md = ""
    for i, cell in enumerate(cells):
        src = _source(cell)
        if cell.get("cell_type") == "markdown":
            last_md = normalise(src)
            continue
        if "claim(" not in src:
            continue
        sentences = _claim_sentences(src)
        where = f"{name} cell {i}"
        if sentences is None:
            problems.append(
                f"{where}: a claim's sentence must be a plain string literal "
                "(tl.claims.claim('the sentence as the page says it', holds, **numbers))"
            )
            continue
        if not sentences:
            continue
        if "remove-cell" not in cell.get("metadata", {}).get("tags", []):
            problems.append(f"{where}: a claim cell must be tagged remove-cell (hidden)")
        for sentence in sentences:
            count += 1
            if normalise(sentence) not in last_md:
                problems.append(
                    f"{where}: the claim {sentence!r} is not in the markdown cell above it "
                    "(quote the sentence of the page word for word, so prose and test agree)"
                )
    need = MIN_CLAIMS.get(name, 0)
    if count < need:
        problems.append(
            f"{name}: {count} claim cells, this chapter needs at least {need} "
            "(a hidden tl.claims.claim after each sentence that compares measured numbers)"
        )
    return problems


#: Known notation drifts (book/00_intro/notation.md), checked in the markdown's maths:
#: (pattern, what is wrong, notebooks where the symbol is correct).
NOTATION_DRIFTS = (
    (
        re.compile(r"\\sigma\s*\("),
        "the sigmoid is written \\mathrm{sigmoid}(u), never \\sigma(u)",
        (),
    ),
    (
        re.compile(r"\\sigma_t|\\sigma_\{t\}"),
        "the noise scale is s_t (\\sigma is a standard deviation)",
        (),
    ),
    (
        re.compile(r"(?<!bar)(?<!bar )\\alpha_t"),
        "a continuous process writes a_t; \\alpha_t is DDPM's per-step 1 - beta_t",
        ("01_01_forward_noising.ipynb",),
    ),
    (
        re.compile(r"(?<![A-Za-z\\])z\s*\\sim|x_0\s*-\s*z(?![A-Za-z])"),
        "the noise is \\epsilon (z is reserved for latents)",
        (),
    ),
)
MATH_RE = re.compile(r"\$\$?[^$]+\$\$?")


def check_notation(name: str, cells: list[dict]) -> list[str]:
    """The markdown's maths uses the notation page's symbols (:data:`NOTATION_DRIFTS`)."""
    problems = []
    for i, cell in enumerate(cells):
        if cell.get("cell_type") != "markdown":
            continue
        for math in MATH_RE.findall(_source(cell)):
            for pattern, why, allowed in NOTATION_DRIFTS:
                if name not in allowed and pattern.search(math):
                    problems.append(f"{name} cell {i}: {math.strip()[:60]!r}: {why}")
    return problems


def check_section_order(name: str, cells: list[dict]) -> list[str]:
    """The closing sections come in the order of :data:`CLOSING_SECTIONS`."""
    found = [
        line[3:].strip()
        for c in cells
        if c.get("cell_type") == "markdown"
        for line in _source(c).splitlines()
        if line.startswith("## ") and line[3:].strip() in CLOSING_SECTIONS
    ]
    expected = [s for s in CLOSING_SECTIONS if s in found]
    if found != expected:
        return [
            f"{name}: closing sections in the order {found}, the book's order is {expected} "
            "(Summary, Exercises, Further reading)"
        ]
    return []


#: Chapters that train or sample a network but do not pick the device yet. PENDING: chapters 4
#: and 6 are being reworked; take each out of this set when it calls ``tl.pick_device()``.
DEVICE_PENDING = frozenset({"04_01_mel_diffusion", "06_01_midi_synthesis"})
#: Calls that train a network; ``.fit()`` without positional arguments (the Trainer's) too.
TRAINING_CALLS = frozenset({"Trainer", "train_model"})
#: Calls that sample a network; the ``*_sample`` functions of ``tl.samplers`` too.
SAMPLING_CALLS = frozenset({"sample", "generate"})


def _calls(src: str) -> list[tuple[str, int]]:
    """``(dotted name, positional arguments)`` of each call in a code cell's source.

    IPython magics and shell lines are left out; a cell that is not Python has no calls. Calls
    written inside strings (a script the notebook runs in another process) are not counted.
    """
    import ast

    lines = [line for line in src.splitlines() if not line.lstrip().startswith(("%", "!"))]
    try:
        tree = ast.parse("\n".join(lines))
    except SyntaxError:
        return []
    out = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        parts, f = [], node.func
        while isinstance(f, ast.Attribute):
            parts.append(f.attr)
            f = f.value
        if isinstance(f, ast.Name):
            parts.append(f.id)
        if parts:
            out.append((".".join(reversed(parts)), len(node.args)))
    return out


def _runs_network(dotted: str, n_args: int) -> bool:
    last = dotted.rsplit(".", 1)[-1]
    return (
        last in TRAINING_CALLS
        or (last == "fit" and n_args == 0)  # fit(data) is a band processor's or a scaler's
        or last in SAMPLING_CALLS
        or (last.endswith("_sample") and "samplers." in dotted)
    )


def check_device(name: str, cells: list[dict]) -> list[str]:
    """A notebook that trains or samples a network picks the device once, with
    ``tl.pick_device()``, so the same notebook runs on a Colab GPU and unchanged on a CPU."""
    if Path(name).stem in DEVICE_PENDING:
        return []
    calls = [c for cell in cells if cell.get("cell_type") == "code" for c in _calls(_source(cell))]
    picks = sum(dotted.rsplit(".", 1)[-1] == "pick_device" for dotted, _ in calls)
    if picks != 1 and any(_runs_network(*call) for call in calls):
        return [
            f"{name}: trains or samples a network and calls tl.pick_device() {picks} times; "
            "call it once, in the setup cell (device = tl.pick_device()), and pass device on "
            "(Trainer(..., device=device), the families' device=, model.to(device))"
        ]
    return []


def check_notebook(path: Path, repo_url: str) -> list[str]:
    """Every rule for one notebook file."""
    name = path.name
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return [f"{name}: not valid notebook JSON ({exc})"]
    problems: list[str] = []
    cells = nb.get("cells", [])
    if nb.get("metadata", {}).get("kernelspec", {}).get("name") != "python3":
        problems.append(f"{name}: kernelspec name must be 'python3'")
    if "widgets" in nb.get("metadata", {}):
        problems.append(
            f"{name}: widget state stored in metadata (strip it: scripts/nbtool.py strip)"
        )
    for i, cell in enumerate(cells):
        where = f"{name} cell {i}"
        if cell.get("cell_type") == "code":
            if cell.get("outputs"):
                problems.append(f"{where}: has stored outputs (strip: scripts/nbtool.py strip)")
            if cell.get("execution_count") is not None:
                problems.append(f"{where}: has an execution count (strip: scripts/nbtool.py strip)")
        bad_tags = set(cell.get("metadata", {}).get("tags", [])) - ALLOWED_TAGS
        if bad_tags:
            problems.append(
                f"{where}: tags {sorted(bad_tags)} are not allowed (allowed: {sorted(ALLOWED_TAGS)})"
            )
        src = _source(cell)
        if SYS_PATH_RE.search(src):
            problems.append(f"{where}: edits sys.path/PYTHONPATH (install the package instead)")
        if ABSOLUTE_PATH_RE.search(src):
            problems.append(f"{where}: holds an absolute path (use paths relative to the notebook)")
        for match in FIGSIZE_RE.finditer(src):
            if float(match.group(1)) > MAX_FIGURE_WIDTH:
                problems.append(
                    f"{where}: figsize width {match.group(1)} in is over {MAX_FIGURE_WIDTH} in: "
                    "the page shrinks it to the text column and its labels become unreadable "
                    "(fewer panels per row, or a taller figure)"
                )
    if not cells:
        return problems + [f"{name}: empty notebook"]
    problems += check_claims(name, cells) + check_section_order(name, cells)
    problems += check_notation(name, cells) + check_device(name, cells)
    first = cells[0]
    if first.get("cell_type") != "code" or _source(first).strip() != bootstrap_source(repo_url):
        problems.append(
            f"{name}: cell 0 must be the Colab bootstrap cell for {repo_url} "
            "(scripts/nbtool.py bootstrap writes it)"
        )
    elif "remove-cell" not in first.get("metadata", {}).get("tags", []):
        problems.append(f"{name}: the bootstrap cell must be tagged remove-cell")
    code = [c for c in cells[1:] if c.get("cell_type") == "code"]
    if not code or not (
        "import tutorial_lib as tl" in _source(code[0]) and "tl.setup(" in _source(code[0])
    ):
        problems.append(
            f"{name}: the first code cell after the bootstrap must import "
            "tutorial_lib as tl and call tl.setup(...)"
        )
    h1 = [
        (i, line)
        for i, c in enumerate(cells)
        if c.get("cell_type") == "markdown"
        for line in _source(c).splitlines()
        if line.startswith("# ")
    ]
    if len(h1) != 1:
        problems.append(f"{name}: needs exactly one H1 title, found {len(h1)}")
    else:
        lines = _source(cells[h1[0][0]]).splitlines()
        idx = lines.index(h1[0][1])
        if idx == 0 or not LABEL_RE.match(lines[idx - 1]):
            problems.append(f"{name}: the H1 must follow a MyST label line like (sec-my-chapter)=")
    return problems


def toc_files(book: Path = BOOK) -> list[str]:
    toc = load_yaml(book / "_toc.yml")
    files = [toc["root"]]

    def walk(entries: list[dict]) -> None:
        for entry in entries or []:
            if "file" in entry:
                files.append(entry["file"])
            walk(entry.get("sections", []))
            walk(entry.get("chapters", []))

    for part in toc.get("parts", []):
        walk(part.get("chapters", []))
    walk(toc.get("chapters", []))
    return files


def check_toc(book: Path = BOOK) -> list[str]:
    problems = []
    listed = toc_files(book)
    for entry in listed:
        if not any((book / f"{entry}{ext}").exists() for ext in (".md", ".ipynb")):
            problems.append(f"_toc.yml: lists {entry!r} but no {entry}.md or {entry}.ipynb exists")
    listed_set = {e.removesuffix(".ipynb").removesuffix(".md") for e in listed}
    by_folder: dict[Path, list[str]] = {}
    for nb in notebooks(book):
        rel = nb.relative_to(book).with_suffix("").as_posix()
        if rel not in listed_set:
            problems.append(f"_toc.yml: does not list the notebook {rel}.ipynb")
        by_folder.setdefault(nb.parent, []).append(nb.name)
    for folder, names in sorted(by_folder.items()):
        if len(names) > 1:  # a kernel starts in its notebook's folder: the only way to tell
            problems.append(
                f"{folder.relative_to(book).as_posix()}/ holds {len(names)} notebooks "
                f"({', '.join(sorted(names))}): one notebook a folder, so that "
                f"scripts/notebook_budget.py can tell their kernels apart"
            )
    return problems


def check_config(book: Path = BOOK) -> list[str]:
    try:
        cfg = load_yaml(book / "_config.yml")
    except yaml.YAMLError as exc:
        return [f"_config.yml: {exc}".replace("\n", " ")]
    problems = []
    execute = cfg.get("execute", {})
    if execute.get("execute_notebooks") != "cache":
        problems.append("_config.yml: execute.execute_notebooks must be 'cache'")
    if execute.get("allow_errors", False):
        problems.append("_config.yml: execute.allow_errors must be false (errors fail the build)")
    if not isinstance(execute.get("timeout"), int):
        problems.append("_config.yml: execute.timeout (seconds per cell) must be set explicitly")
    if not cfg.get("repository", {}).get("url"):
        problems.append("_config.yml: repository.url is missing")
    mathjax = str(((cfg.get("sphinx") or {}).get("config") or {}).get("mathjax_path") or "")
    if not mathjax or re.match(r"(?i)^([a-z]+:)?//", mathjax):
        problems.append(
            "_config.yml: sphinx.config.mathjax_path must be a path in the site's _static/ "
            f"(the book serves MathJax itself, no CDN), not {mathjax or 'unset'!r}"
        )
    return problems


def _name(requirement: str) -> str:
    m = re.match(r"\s*([A-Za-z0-9_.\-]+)", requirement)
    return re.sub(r"[-_.]+", "-", m.group(1)).lower() if m else ""


def pyproject_dependencies(root: Path = ROOT) -> set[str]:
    data = tomllib.loads((root / "pyproject.toml").read_text())
    project = data["project"]
    own = _name(project["name"])
    names = {_name(r) for r in project.get("dependencies", [])}
    for reqs in project.get("optional-dependencies", {}).values():
        names |= {_name(r) for r in reqs}
    return names - {own}


def environment_dependencies(root: Path = ROOT) -> tuple[set[str], set[str]]:
    """(python packages named in environment.yml, non-Python conda packages)."""
    env = load_yaml(root / "environment.yml")
    python_pkgs: set[str] = set()
    for dep in env.get("dependencies", []):
        if isinstance(dep, dict):
            python_pkgs |= {_name(r) for r in dep.get("pip", []) if not r.startswith("-")}
        else:
            python_pkgs.add(_name(dep))
    python_pkgs = {CONDA_TO_PYPI.get(n, n) for n in python_pkgs}
    system = {"python", "pip", "nodejs"}
    return python_pkgs - system, python_pkgs & system


def check_dependencies(root: Path = ROOT) -> list[str]:
    py = pyproject_dependencies(root)
    env, _ = environment_dependencies(root)
    problems = []
    for name in sorted(py - env):
        problems.append(f"environment.yml: misses {name} (named in pyproject.toml)")
    for name in sorted(env - py):
        problems.append(f"pyproject.toml: misses {name} (named in environment.yml)")
    return problems


def check_sources(root: Path = ROOT) -> list[str]:
    """No sys.path edits or absolute paths in the library."""
    problems = []
    for path in sorted((root / "src").rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        rel = path.relative_to(root)
        if SYS_PATH_RE.search(text):
            problems.append(f"{rel}: edits sys.path")
        if ABSOLUTE_PATH_RE.search(text):
            problems.append(f"{rel}: holds an absolute path")
    return problems


def check_book(book: Path = BOOK, root: Path = ROOT) -> list[str]:
    """Every rule over the whole book."""
    problems = check_config(book) + check_toc(book)
    url = repository_url(book) if not any("_config.yml" in p for p in problems) else ""
    for nb in notebooks(book):
        problems += check_notebook(nb, url)
    return problems
