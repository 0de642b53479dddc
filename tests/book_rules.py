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


#: Chapters that train or sample a network but do not pick the device yet (none: every chapter
#: does; a chapter added here must say why, and leave when it calls ``tl.pick_device()``).
DEVICE_PENDING: frozenset[str] = frozenset()
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


# ---------------------------------------------------------------------------------------------
# Numbers in prose come from code: a measured number is glued, never typed.

#: Chapters whose prose still types measured numbers by hand (none: a chapter added here must
#: say why, and leave when its measured numbers are glued).
TYPED_NUMBERS_PENDING: frozenset[str] = frozenset()

#: The rare typed numbers that look measured but are not, per notebook (stem), as exact
#: phrases of the prose *as the rule reads it* (maths, code spans, roles and links removed,
#: whitespace collapsed: the problem message quotes that form). Each says why it may stay.
#: A phrase that no longer occurs is reported, so the list cannot go stale.
TYPED_NUMBER_ALLOWED: dict[str, dict[str, str]] = {
    "01_01_forward_noising": {
        "frames 64 ms long": "n_fft 1024 at 16 kHz: the length the setting gives",
        "to 0.02": "Ho et al.'s last beta, a setting of the linear schedule",
        "capped at 0.999": "Nichol and Dhariwal's cap on beta, a setting of the cosine schedule",
        "50 dB below unit power": "the power schedule's first beta, 1e-5, in dB: a setting",
        "a peak of 0.9": "the level the projection is played at, a setting",
        "and 0.01": "the exercise's givens (the alpha_bar values to listen at)",
        "+10, 0 and -10 dB": "the exercise's givens (the SNRs to listen at)",
    },
    "02_01_ddpm_vs_flow": {
        "about 20,000": "1/a_t at the cosine schedule's last step: follows from its definition",
        "0.256 s": "4096 samples at 16 kHz, the clip length the recipe sets",
        "divided by 0.1": "the family's SCALE, a setting",
        "multiply by 0.1": "the family's SCALE, a setting",
        "last 64 ms": "the window the decay level is measured over, a setting",
    },
    "03_01_waveform_unet": {
        "2 GB": "the seed's GPU, the budget the chapter designs for (a constraint, not measured)",
        "0.75-s": "the seed's clip length, a setting of Tiny Audio Diffusion",
        "0.51 s": "8192 samples at 16 kHz, the clip length the family sets",
        "64 samples (4 ms)": "what one position stands for at level 6: follows from the setting",
        "10 % of": "the class dropout of the recipe (class_dropout=0.1), a setting",
        "(128 ms)": "the last quarter of a clip, the window the hiss is measured over",
        "10x shorter": "the baseline is the same run saved after a tenth of its steps (a setting)",
        "-120 dBFS": "the level tl.metrics.tail_level_db reads for digital silence, a setting",
        "chance: 25 %": "four classes: chance is a fact of the design",
        "chance is 0.25": "four classes: chance is a fact of the design",
    },
    "05_01_latent_diffusion": {
        "319 MB": "the size of the seed's dataset download, a fact about a file the book never gets",
        "233 MB": "the size of Music2Latent's weights download, a fact about that file",
        "10.8 frames per second": "44,100 / 4,096: Music2Latent's design",
        "CC BY-NC 4.0": "a licence's name and version",
        "one with 0.1": "a made-up scale in an example",
        "4 s of audio": "the exercise's given (NSynth's note length)",
    },
    "07_01_when_it_only_outputs_noise": {
        "loss sits at 1": "the noise's variance, the loss of predicting zero; the claim cell "
        "below asserts the measured loss is near it",
        "divided by 32,768": "the full scale of 16-bit integers, a fact of the format",
        "overflows at 65,504": "float16's largest number, a fact of the format",
        "than 95% of the real ones": "the memorisation check's threshold, a setting",
        "of its 2,000": "the reference's number of training clips, a setting",
        "loss stuck near 1": "a symptom in the summary table (the noise's variance), no measurement",
        "deviation of 0.1": "the exercise's given",
    },
    "A_01_metrics": {
        "-40 dBFS": "the level of the hiss stand-in, a setting",
        "floored at -60 dB": "the embedding's floor, a setting",
        "about -73 dBFS": "where white noise meets that floor: follows from the embedding's design",
        '"FD = 8" could be perfect with 50 clips and poor with 5,000': "a made-up example",
        "0.1 is a 10 % error": "what the measure's unit means, an example",
        "A 6 dB gain error gives SC = 0.5 exactly. Its LSD is 6 dB": "the two measures' "
        "definitions applied to a gain of one half (the table beside it shows it)",
        "against 100 %": "a perfect score, a reference point",
        "50 dB below its peak": "the memorisation check's floor, a setting",
        "closest 5 %": "the memorisation check's threshold, a setting",
    },
    "04_01_mel_diffusion": {
        "0.51-s drum clips": "8192 samples at 16 kHz, chapter 3's clip length: a setting",
        "(32 ms windows)": "n_fft 512 at 16 kHz: the length the setting gives",
        "(about 6 s each)": "the seed's 256 frames of hop 512 at 22.05 kHz: its setting",
        "played 6 dB quieter": "the level change the hidden check applies: a setting",
        "the same 75 %": "hop = n_fft / 4 in every setting compared: a setting",
        "(the first 12 frames, 0.1 s)": "12 frames of hop 128 at 16 kHz: the inpainting's setting",
        "about 30 % too small": "1 - 1/sqrt(2), the lerp midpoint of two orthogonal noises of "
        "equal norm (the norms are printed above)",
        "half the waveform's 8,192": "the two models' input sizes: settings",
        "(at the floor, below -0.99)": "the threshold that defines a silent pixel",
        "digital silence, -120 dBFS here": "tl.metrics.tail_level_db's floor for digital silence, "
        "a definition",
    },
    "06_01_midi_synthesis": {
        "the original's 5.12 s": "the original's segment length (256 frames of 20 ms): a setting",
        "with probability 0.1": "P_DROP, the recipe's condition dropout: a setting",
        "with a 50 ms window": "the onset tolerance of the measure: a setting",
        "first 4 frames (80 ms)": "4 frames of 20 ms, the measure's definition",
        "first boundary (1.28 s)": "64 frames of 20 ms, the segment length: a setting",
    },
    "A_02_training_at_scale": {
        "each loss divided by 4": "accumulate=4, the setting of the example",
        "largest 3.4e38": "float32's largest number, a fact of the format",
        "overflows at 65,504": "float16's largest number, a fact of the format",
        "24 GiB GPU": "the exercise's given",
    },
}

#: Words after a number that make it a measurement: levels, durations, sizes, rates, ratios.
MEASURE_UNITS = (
    r"dBFS|dB|ms|s|min|minutes?|hours?|h|days?|bytes|[KMGT]i?B|kB|%|per ?cent"
    r"|FD|KID|(?:steps|clips|notes|samples|it|items)/s"
)
#: Words before a number (at most :data:`METRIC_WINDOW` words before it) that make it a score.
METRIC_WORDS = frozenset(
    {"FD", "FAD", "KID", "loss", "losses", "accuracy", "F1", "retrieval", "SC", "LSD", "MSE"}
)
METRIC_WINDOW = 3
#: Settings the prose states, not measurements: each pattern sees what follows the number
#: (``_SETTING_AFTER``, ``_COUNT_AFTER``) or precedes it (``_SETTING_BEFORE``). Kept short on
#: purpose: anything else that is not measured goes in :data:`TYPED_NUMBER_ALLOWED`, with its
#: reason. Also a setting: 0 dB (0 dBFS), the reference level, a definition.
#: - a frequency in Hz or kHz is a setting of the signal chain (sample rate, cut-off, band);
#:   a shape ("64 x 64"); a bit depth ("16-bit").
_SETTING_AFTER = re.compile(r"^(?:\s?k?Hz\b|\s?[x×]\s?\d|-bit\b)")
#: - a whole count of things a recipe or a dataset is made of ("12,000 steps", "32,768
#:   samples", "1,350 training notes"): set, not measured (a rate such as steps/s is not).
_COUNT_AFTER = re.compile(
    r"^\s(?:[a-z-]+\s)?(?:steps|samples|clips|notes|numbers|bins|frames|channels|bands|classes"
    r"|parameters|positions|processes|GPUs|cores|layers|epochs|batches)\b(?!/)"
)
#: - section, chapter, exercise, equation, table and figure numbers are names (and a
#:   number with two dots, 3.2.2, is a version).
_SETTING_BEFORE = re.compile(
    r"(?:\b(?:[Ss]ections?|[Cc]hapters?|[Aa]ppendix|[Ee]xercises?|[Ee]quations?|Eq\.|[Tt]ables?"
    r"|[Ff]igures?|[Vv]ersion|§)\s?)$"
)
_NUMBER_RE = re.compile(r"(?<![\w.,/−-])[-−]?\d+(?:[.,]\d+)*")
_RANGE_RE = re.compile(r"^\s?(?:to|and|or|-|–)\s?[-−]?\d+(?:[.,]\d+)*")
_UNIT_RE = re.compile(rf"^(?:\s?|-)(?:{MEASURE_UNITS})(?![\w/])|^[x×](?![\w])")
_FENCE_RE = re.compile(r"^\s*(`{3,}|~{3,}|:{3,})\s*(\S*)")
_ROLE_RE = re.compile(r"\{([\w:.-]+)\}(`+)(.*?)\2", re.S)
_GLUE_CALL_RE = re.compile(r"\bglue\(\s*(['\"])([^'\"]+)\1")


def _number_or_blank(math: re.Match) -> str:
    """A maths span that is only a number (``$-23$``) stays as that number; others go."""
    inner = math.group(1).replace(" ", "").replace("\\,", "")
    return inner if re.fullmatch(r"[-−+]?\d[\d.,]*", inner) else " "


def _prose(src: str) -> str:
    """A markdown cell as the typed-number rule reads it: only its running text.

    Code blocks go; a directive's body stays (an exercise is prose) but not its header and
    options; then labels, headings' section numbers, roles (citations, references, glue),
    code spans, links' targets, URLs and maths go (a maths span that is only a number, as in
    ``$-23$ dB``, stays: it is a typed number in maths dress). Whitespace is collapsed.
    """
    lines: list[str] = []
    fences: list[tuple[str, bool]] = []  # (fence, is code)
    in_options = False
    for line in src.splitlines():
        m = _FENCE_RE.match(line)
        if (
            m
            and fences
            and m.group(1)[0] == fences[-1][0][0]
            and len(m.group(1)) >= len(fences[-1][0])
            and not m.group(2)
        ):
            fences.pop()
            in_options = False
            continue
        if m and not (fences and fences[-1][1]):
            fences.append((m.group(1), not m.group(2).startswith("{")))
            in_options = not fences[-1][1]
            continue
        if fences and fences[-1][1]:
            continue  # inside a code block
        if in_options and line.strip().startswith(":"):
            continue  # a directive's options (:label:, :class:)
        in_options = False
        if re.match(r"^\s*\([\w-]+\)=\s*$", line):
            continue  # a MyST label
        lines.append(re.sub(r"^(#+\s+)\d+(?:\.\d+)*\.?", r"\1", line))
    text = "\n".join(lines)
    text = re.sub(r"<!--.*?-->", " ", text, flags=re.S)
    text = _ROLE_RE.sub(" ", text)
    text = re.sub(r"(`+).*?\1", " ", text, flags=re.S)
    text = re.sub(r"\$\$.*?\$\$", " ", text, flags=re.S)
    text = re.sub(r"\$([^$]+)\$", _number_or_blank, text)
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"<?https?://\S+", " ", text)
    return re.sub(r"\s+", " ", text).strip()


def _typed_measurements(text: str) -> list[tuple[int, int, str]]:
    """``(start, end, phrase)`` of each number of ``text`` (prose) that reads as measured."""
    found = []
    for m in _NUMBER_RE.finditer(text):
        token = m.group()
        digits = token.lstrip("-−")
        if digits.count(".") > 1 or (
            "," in digits and not re.fullmatch(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?", digits)
        ):
            continue  # a version (3.2.2) or a list (1,2)
        if found and m.start() < found[-1][1]:
            continue  # the second number of a range already reported
        before, after = text[: m.start()], text[m.end() :]
        rng = _RANGE_RE.match(after)  # "10 to 30 dB": the first number takes the unit too
        if rng:
            after = after[rng.end() :]
        if _SETTING_BEFORE.search(before) or _SETTING_AFTER.match(after):
            continue
        if "." not in digits and _COUNT_AFTER.match(after):
            continue
        if digits == "0" and re.match(r"\s?dB", after):
            continue  # 0 dB (0 dBFS) is the reference level, a definition, not a measurement
        unit = _UNIT_RE.match(after)
        words = re.findall(r"[\w-]+", before)[-METRIC_WINDOW:]
        metric = next((w for w in reversed(words) if w in METRIC_WORDS), None)
        if not (unit or metric or "." in digits or "," in digits):
            continue
        start = m.start()
        if metric and not unit:
            start = before.rfind(metric)
        end = m.end() + (rng.end() if rng else 0) + (unit.end() if unit else 0)
        found.append((start, end, text[start:end]))
    return found


def glue_names(cells: list[dict]) -> tuple[set[str], set[str]]:
    """(names glued by the code cells, names pasted by the markdown cells' glue roles)."""
    glued = {
        m.group(2)
        for c in cells
        if c.get("cell_type") == "code"
        for m in _GLUE_CALL_RE.finditer(_source(c))
    }
    pasted = set()
    for c in cells:
        if c.get("cell_type") != "markdown":
            continue
        for m in _ROLE_RE.finditer(_source(c)):
            if m.group(1).split(":")[0] == "glue":
                key = m.group(3).strip().split("::")[-1]
                pasted.add(key.rsplit(":", 1)[0] if ":" in key else key)
    return glued, pasted


def check_typed_numbers(name: str, cells: list[dict]) -> list[str]:
    """Numbers in prose come from code: no hand-typed measured number in a markdown cell.

    A number is *measured* when it has a decimal point or a thousands separator, is followed
    by a unit of measurement (:data:`MEASURE_UNITS`: dB, s, MiB, %, 15x, FD, steps/s...) or
    comes at most :data:`METRIC_WINDOW` words after a score's name (:data:`METRIC_WORDS`: FD,
    KID, loss, accuracy...). Settings the prose states are not (:data:`_SETTING_AFTER`,
    :data:`_COUNT_AFTER`, :data:`_SETTING_BEFORE`: 16 kHz, 64 x 64, 1000 steps, 32,768
    samples, Section 4.2), nor the phrases of :data:`TYPED_NUMBER_ALLOWED`. A measured number is computed by a code cell,
    which glues it (``tl.claims.glue("ch3_fd_ref", fd)``), and the prose pastes it with
    myst-nb's role, ``{glue:text}`ch3_fd_ref:.1f```. Every pasted name must be glued on the
    same page.
    """
    stem = Path(name).stem
    if stem in TYPED_NUMBERS_PENDING:
        return []
    allowed = TYPED_NUMBER_ALLOWED.get(stem, {})
    seen: set[str] = set()
    problems = []
    for i, cell in enumerate(cells):
        if cell.get("cell_type") != "markdown":
            continue
        text = _prose(_source(cell))
        spans = [
            (m.start(), m.end(), phrase)
            for phrase in allowed
            for m in re.finditer(re.escape(phrase), text)
        ]
        seen |= {phrase for _, _, phrase in spans}
        for start, end, phrase in _typed_measurements(text):
            if any(a <= start and end <= b for a, b, _ in spans):
                continue
            context = text[max(0, start - 40) : end + 20]
            problems.append(
                f"{name} cell {i}: hand-typed measurement {phrase!r} (in '...{context}...'): "
                "glue it from the code that measures it (tl.claims.glue('chN_what', value), "
                "then {glue:text}`chN_what:.1f` in the prose), or, if it is a setting, add the "
                "phrase to TYPED_NUMBER_ALLOWED with the reason"
            )
    for phrase in sorted(set(allowed) - seen):
        problems.append(
            f"{name}: TYPED_NUMBER_ALLOWED lists {phrase!r}, which the page no longer says "
            "(remove it from the list)"
        )
    glued, pasted = glue_names(cells)
    for key in sorted(pasted - glued):
        problems.append(
            f"{name}: the prose pastes {{glue}} {key!r}, but no code cell of this page glues "
            f"it (tl.claims.glue({key!r}, value))"
        )
    return problems


def check_glue_names(book: Path = BOOK) -> list[str]:
    """A glued name belongs to one page: the same name on two pages would paste either."""
    owner: dict[str, str] = {}
    problems = []
    for path in notebooks(book):
        try:
            cells = json.loads(path.read_text(encoding="utf-8")).get("cells", [])
        except (OSError, ValueError):
            continue  # check_notebook reports it
        for key in sorted(glue_names(cells)[0]):
            if key in owner:
                problems.append(
                    f"{path.name}: glues {key!r}, which {owner[key]} glues too "
                    "(glue names are unique in the book: prefix them with the chapter, ch3_...)"
                )
            owner.setdefault(key, path.name)
    return problems


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
        if "raises-exception" in bad_tags:  # a traceback of the build machine's files
            problems.append(
                f"{where}: an intended error is shown with 'with tl.claims.fails(ValueError): ...' "
                "(type and message, and the page fails if the code stops failing), not with the "
                "tag raises-exception"
            )
            bad_tags.discard("raises-exception")
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
    problems += check_typed_numbers(name, cells)
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
    return problems + check_glue_names(book)
