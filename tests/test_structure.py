"""The book's structure rules hold, and each rule fails when it is broken (tests/book_rules.py)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import book_rules as rules
import pytest


def test_book_follows_every_rule():
    assert rules.notebooks(), "the book has no notebooks"
    assert rules.check_book() == []


def test_dependencies_agree():
    assert rules.check_dependencies() == []


def test_library_has_no_path_hacks():
    assert rules.check_sources() == []


def test_every_notebook_listed_and_every_listed_file_exists():
    assert rules.check_toc() == []
    listed = rules.toc_files()
    assert "intro" == listed[0]


# ---------------------------------------------------------------------------------------------
# Each rule must be able to fail: break a copy of the book one way at a time.


@pytest.fixture
def book(tmp_path: Path) -> Path:
    dst = tmp_path / "book"
    shutil.copytree(rules.BOOK, dst, ignore=shutil.ignore_patterns("_build", ".ipynb_checkpoints"))
    return dst


def _first_notebook(book: Path) -> tuple[Path, dict]:
    path = rules.notebooks(book)[0]
    return path, json.loads(path.read_text())


def _save(path: Path, nb: dict) -> None:
    path.write_text(json.dumps(nb, indent=1))


def _problems(book: Path) -> str:
    return "\n".join(rules.check_book(book))


def test_copy_of_book_passes(book):
    assert rules.check_book(book) == []


def test_two_notebooks_in_one_folder_are_refused(book):
    path = rules.notebooks(book)[0]
    shutil.copy(path, path.with_name("zz_second.ipynb"))
    toc = (book / "_toc.yml").read_text()
    entry = path.relative_to(book).with_suffix("").as_posix()
    (book / "_toc.yml").write_text(
        toc.replace(
            f"file: {entry}\n",
            f"file: {entry}\n      - file: {entry[: -len(path.stem)]}zz_second\n",
        )
    )
    problems = rules.check_toc(book)
    assert any("holds 2 notebooks" in p and "zz_second.ipynb" in p for p in problems), problems
    assert not any("does not list" in p for p in problems), problems


def _code_cell(nb: dict, index: int = 1) -> dict:
    return [c for c in nb["cells"] if c["cell_type"] == "code"][index]


@pytest.mark.parametrize(
    "breakage, expected",
    [
        ("output", "stored outputs"),
        ("count", "execution count"),
        ("widgets", "widget state"),
        ("tag", "not allowed"),
        ("raises_exception", "tl.claims.fails"),
        ("bootstrap", "Colab bootstrap"),
        ("bootstrap_tag", "tagged remove-cell"),
        ("setup", "tl.setup"),
        ("two_h1", "exactly one H1"),
        ("label", "MyST label"),
        ("sys_path", "sys.path"),
        ("abs_path", "absolute path"),
        ("kernel", "kernelspec"),
        ("wide_figure", "figsize width 15"),
    ],
)
def test_notebook_rule_fails_when_broken(book, breakage, expected):
    path, nb = _first_notebook(book)
    cell = _code_cell(nb)
    md = next(c for c in nb["cells"] if c["cell_type"] == "markdown")
    if breakage == "output":
        cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": ["hi\n"]}]
    elif breakage == "count":
        cell["execution_count"] = 3
    elif breakage == "widgets":
        nb["metadata"]["widgets"] = {"application/vnd.jupyter.widget-state+json": {}}
    elif breakage == "tag":
        cell.setdefault("metadata", {})["tags"] = ["hide-me-please"]
    elif breakage == "raises_exception":  # an intended error shown as a traceback
        cell.setdefault("metadata", {})["tags"] = ["raises-exception"]
    elif breakage == "bootstrap":
        nb["cells"][0]["source"] = "print('no bootstrap')"
    elif breakage == "bootstrap_tag":
        nb["cells"][0]["metadata"]["tags"] = []
    elif breakage == "setup":
        cell["source"] = "import numpy as np"
    elif breakage == "two_h1":
        nb["cells"].append({"cell_type": "markdown", "metadata": {}, "source": "# Another title"})
    elif breakage == "label":
        md["source"] = "".join(md["source"]).replace("(sec-", "(label-")
    elif breakage == "sys_path":
        cell["source"] += "\nimport sys\nsys.path.insert(0, '..')"
    elif breakage == "abs_path":
        cell["source"] += "\nx = open('/home/me/sound.wav')"
    elif breakage == "kernel":
        nb["metadata"]["kernelspec"]["name"] = "myenv"
    elif breakage == "wide_figure":
        cell["source"] += "\nfig, ax = plt.subplots(figsize=(15, 3))"
    _save(path, nb)
    assert expected in _problems(book)


def test_toc_rule_fails_for_missing_file(book):
    toc = (book / "_toc.yml").read_text()
    (book / "_toc.yml").write_text(toc + "      - file: 99_missing/99_01_nothing\n")
    assert "lists '99_missing/99_01_nothing'" in _problems(book)


def test_toc_rule_fails_for_unlisted_notebook(book):
    path, _ = _first_notebook(book)
    shutil.copy(path, path.with_name("99_unlisted.ipynb"))
    assert "does not list the notebook" in _problems(book)


def test_config_rule_fails_for_duplicate_key(book):
    cfg = (book / "_config.yml").read_text()
    (book / "_config.yml").write_text(cfg + "\ntitle: a second title\n")
    assert "duplicate key 'title'" in _problems(book)


@pytest.mark.parametrize(
    "old, new, expected",
    [
        ("allow_errors: false", "allow_errors: true", "allow_errors"),
        ("execute_notebooks: cache", "execute_notebooks: force", "'cache'"),
        ("timeout: 300", "timeout: null", "timeout"),
        (
            "mathjax_path: mathjax/es5/tex-mml-chtml.js",
            "mathjax_path: https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-mml-chtml.js",
            "mathjax_path must be a path",
        ),
        ("mathjax_path: mathjax/es5/tex-mml-chtml.js", "", "mathjax_path must be a path"),
    ],
)
def test_config_rule_fails_for_bad_execution(book, old, new, expected):
    cfg = (book / "_config.yml").read_text()
    assert old in cfg
    (book / "_config.yml").write_text(cfg.replace(old, new))
    assert expected in _problems(book)


def test_dependency_rule_fails_when_lists_differ(tmp_path):
    shutil.copy(rules.ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    env = (rules.ROOT / "environment.yml").read_text()
    (tmp_path / "environment.yml").write_text(env.replace("  - tqdm>=4.66\n", ""))
    assert rules.check_dependencies(tmp_path) == [
        "environment.yml: misses tqdm (named in pyproject.toml)"
    ]


def test_source_rule_fails_for_sys_path(tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "bad.py").write_text("import sys\nsys.path.append('/home/me')\n")
    problems = rules.check_sources(tmp_path)
    assert any("sys.path" in p for p in problems) and any("absolute" in p for p in problems)


def test_library_map_is_current():
    """docs/LIBRARY.md lists what the code exports (python scripts/library_map.py rewrites it)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "library_map", rules.ROOT / "scripts" / "library_map.py"
    )
    library_map = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(library_map)
    assert library_map.OUT.read_text() == library_map.render(), (
        "docs/LIBRARY.md is out of date: run python scripts/library_map.py"
    )


# ---------------------------------------------------------------------------------------------
# Claims are tests: the rule that ties each claim to its sentence, and a planted false claim.


def _chapter_with_claims(book: Path) -> tuple[Path, dict]:
    path = next(p for p in rules.notebooks(book) if p.name == "05_01_latent_diffusion.ipynb")
    return path, json.loads(path.read_text())


def _claim_cells(nb: dict) -> list[dict]:
    return [c for c in nb["cells"] if c["cell_type"] == "code" and "claims.claim(" in
            "".join(c["source"])]  # fmt: skip


@pytest.mark.parametrize(
    "breakage, expected",
    [
        ("reworded", "is not in the markdown cell above it"),
        ("shown", "must be tagged remove-cell"),
        ("not_literal", "must be a plain string literal"),
        ("too_few", "claim cells, this chapter needs at least"),
        ("order", "closing sections in the order"),
    ],
)
def test_claim_rules_fail_when_broken(book, breakage, expected):
    path, nb = _chapter_with_claims(book)
    cells = _claim_cells(nb)
    assert cells, "chapter 5 has claim cells"
    first = cells[0]
    src = "".join(first["source"])
    if breakage == "reworded":  # the prose changed, the claim did not (or the other way round)
        i = nb["cells"].index(first) - 1
        md = "".join(nb["cells"][i]["source"])
        nb["cells"][i]["source"] = md.replace("well above", "a little above")
    elif breakage == "shown":
        first["metadata"]["tags"] = []
    elif breakage == "not_literal":
        first["source"] = src.replace(
            'tl.claims.claim(\n    "', 'tl.claims.claim(\n    sentence + "', 1
        )
    elif breakage == "too_few":
        nb["cells"] = [c for c in nb["cells"] if c not in cells]
    elif breakage == "order":
        i = next(
            i for i, c in enumerate(nb["cells"]) if "".join(c["source"]).startswith("## Summary")
        )
        nb["cells"].append(nb["cells"].pop(i))  # the Summary after Further reading
    _save(path, nb)
    assert expected in _problems(book)


def test_a_planted_false_claim_fails_the_page():
    """Executing a claim cell whose sentence the page's numbers contradict raises ClaimError
    (what makes the book build fail when a retrain changes a result)."""
    import tutorial_lib as tl

    nb = json.loads(
        next(p for p in rules.notebooks() if p.name == "05_01_latent_diffusion.ipynb").read_text()
    )
    src = "".join(
        next(
            c for c in _claim_cells(nb) if "most of the remaining distance" in "".join(c["source"])
        )["source"]
    )
    page = {"steps": 4, "tl": tl}
    # the page's numbers as printed in the book (latent model far above its ceiling): holds
    page["scores"] = {"Euler 4": {"fd": 28.8, "fd_floor": 22.3}, "Heun 2": {"fd": 28.4},
                      "real through the codec": {"fd": 23.4}}  # fmt: skip
    with tl.use_mode("book"):
        exec(src, page)
        # a retrain that moved the gap to the codec: the same cell now fails, naming the sentence
        page["scores"]["real through the codec"]["fd"] = 28.0
        with pytest.raises(tl.claims.ClaimError, match="the latent model's, not the codec's"):
            exec(src, page)


@pytest.mark.parametrize(
    "math, expected",
    [
        (r"$s_t^2 = \sigma(-\lambda)$", "never \\sigma(u)"),
        (r"$\sigma_t^2 = 1 - a_t^2$", "the noise scale is s_t"),
        (r"$x_t = \alpha_t x_0 + s_t \epsilon$", "a continuous process writes a_t"),
        (r"$x_t = (1 - t) x_0 + t z$, $z \sim \mathcal N(0, I)$", "z is reserved for latents"),
    ],
)
def test_notation_rule_fails_on_the_known_drifts(book, math, expected):
    path = next(p for p in rules.notebooks(book) if p.name == "05_01_latent_diffusion.ipynb")
    nb = json.loads(path.read_text())
    nb["cells"].append({"cell_type": "markdown", "metadata": {}, "source": f"Here {math}."})
    _save(path, nb)
    assert expected in _problems(book)


# ---------------------------------------------------------------------------------------------
# The device rule: a notebook that trains or samples a network picks the device once.


def _code(source: str) -> dict:
    return {"cell_type": "code", "metadata": {}, "source": source, "outputs": []}


SETUP = "import tutorial_lib as tl\n\ntl.setup(seed=0)\n"
PICK = "device = tl.pick_device()\n"


@pytest.mark.parametrize(
    "name, setup, body, fails",
    [
        (
            "08_01_new.ipynb",
            SETUP,
            "trainer = tl.training.Trainer(net, loss, b, max_steps=5)",
            True,
        ),
        ("08_01_new.ipynb", SETUP, "history = trainer.fit()", True),
        ("08_01_new.ipynb", SETUP, "audio, sr = fam.sample(4, device=device)", True),
        ("08_01_new.ipynb", SETUP, "x = tl.samplers.euler_sample(net, z, steps=4)", True),
        ("08_01_new.ipynb", SETUP + PICK, "x = drums.generate(net, z).cpu()\n" + PICK, True),
        ("08_01_new.ipynb", SETUP + PICK, "history = trainer.fit()", False),
        ("08_01_new.ipynb", SETUP, "proc = Processor().fit(batch)  # no network", False),
        (
            "08_01_new.ipynb",
            SETUP,
            "x = tl.schedules.q_sample(x0, ab, eps)  # forward noising",
            False,
        ),
        ("08_01_new.ipynb", SETUP, 'SCRIPT = "tl.training.Trainer(net, loss, b).fit()"', False),
        ("04_01_mel_diffusion.ipynb", SETUP, "history = trainer.fit()", True),  # none pending
    ],
)
def test_device_rule_on_synthetic_notebooks(name, setup, body, fails):
    problems = rules.check_device(name, [_code(setup), _code(body)])
    assert bool(problems) == fails, problems
    if fails:
        assert "tl.pick_device()" in problems[0] and name in problems[0]


def test_device_rule_fails_when_a_chapter_loses_its_call(book):
    path = next(p for p in rules.notebooks(book) if p.name == "02_01_ddpm_vs_flow.ipynb")
    nb = json.loads(path.read_text())
    setup = _code_cell(nb)
    src = "".join(setup["source"])
    assert "tl.pick_device(" in src
    setup["source"] = src.replace("tl.pick_device(verbose=False)", "tl.config.resolve_device()")
    _save(path, nb)
    assert "02_01_ddpm_vs_flow.ipynb: trains or samples a network" in _problems(book)


def test_device_pending_chapters_exist():
    """The pending set names real chapters (a renamed chapter must not slip out of the rule)."""
    assert rules.DEVICE_PENDING <= {p.stem for p in rules.notebooks()}


# ---------------------------------------------------------------------------------------------
# Numbers in prose come from code: a hand-typed measurement is found, a glued one is not.


def _md(source: str) -> dict:
    return {"cell_type": "markdown", "metadata": {}, "source": source}


@pytest.mark.parametrize(
    "prose, flagged",
    [
        ("After training, the model reaches FD 22.3 on the test set.", "FD 22.3"),
        ("The tails sit at -58.3 dBFS.", "-58.3 dBFS"),
        ("The tails sit at $-58$ dBFS.", "-58 dBFS"),  # a number in maths dress
        ("The recipe trains in about 45 minutes on a CPU.", "45 minutes"),
        ("It beats its 10x shorter run.", "10x"),
        ("A step takes 120 ms on a CPU.", "120 ms"),
        ("A training step needs 38 MiB.", "38 MiB"),
        ("The class check reads 94 % for kicks.", "94 %"),
        ("Onset F1 is 0.62, retrieval at chance.", "F1 is 0.62"),
        ("The loss ends at 2 after a minute.", "loss ends at 2"),
        ("The clips are 10 to 30 dB below full scale.", "10 to 30 dB"),
        ("It samples 3.5 clips/s.", "3.5 clips/s"),
        ("```{note}\nThe KID is 1.22 here.\n```", "KID is 1.22"),  # a directive's body is prose
    ],
)
def test_typed_number_rule_flags_a_planted_measurement(prose, flagged):
    problems = rules.check_typed_numbers("08_01_new.ipynb", [_md(prose)])
    assert len(problems) == 1, problems
    assert f"hand-typed measurement {flagged!r}" in problems[0], problems
    assert "08_01_new.ipynb cell 0" in problems[0] and "{glue:text}" in problems[0]


@pytest.mark.parametrize(
    "prose",
    [
        "After training, the model reaches FD {glue:text}`ch8_fd:.1f` on the test set.",
        "Its tails sit at {glue:text}`ch8_tail` dBFS, {glue}`ch8_tail_db` for short.",
        "All sounds are mono at 16 kHz (the seed's were 44.1 kHz), with 4 kHz bands.",
        "The pictures are 64 x 64 numbers from a 512-point FFT, `n_fft=512`.",
        "DDPM has a schedule of 1000 steps; DDIM samples it in 50 DDIM steps.",
        "The reference trained for 12,000 steps on 32,768 samples of 16-bit audio.",
        "Section 4.2 and chapter 3 say why; so did Ho et al. (2020) {cite}`ho2020ddpm`.",
        "### 4.1 Noise floor\n\nSignal and noise are equal at 0 dB (0 dBFS is full scale).",
        "Code, maths and links stay out: `fd = 22.3`, $\\mathrm{FD} = 22.3$, [v1.2](https://x.org/2.5).",
        "Run it:\n\n```bash\ntutorial-lib eval --fd 22.3 --seconds 4.5\n```\n",
        "````{exercise} FD 22.3\n:label: ex-08-1\n\nWrite the sampler.\n````",
        "MathJax 3.2.2 is served from the book.",
    ],
)
def test_typed_number_rule_passes_glued_numbers_and_settings(prose):
    cells = [_code('tl.claims.glue("ch8_fd", 22.3)\ntl.claims.glue("ch8_tail", -58.0)\n'
                   'tl.claims.glue("ch8_tail_db", -58.0)'), _md(prose)]  # fmt: skip
    assert rules.check_typed_numbers("08_01_new.ipynb", cells) == []


def test_typed_number_rule_fails_on_a_real_page(book):
    """Planted in a converted chapter, a measurement fails the book's check."""
    path = next(p for p in rules.notebooks(book) if p.name == "A_01_metrics.ipynb")
    nb = json.loads(path.read_text())
    nb["cells"].insert(3, _md("With more clips the model reaches FD 22.3, near the floor."))
    _save(path, nb)
    assert "A_01_metrics.ipynb cell 3: hand-typed measurement 'FD 22.3'" in _problems(book)


def test_typed_number_rule_skips_pending_chapters_and_allowed_phrases(monkeypatch):
    cells = [_md("The model reaches FD 22.3 in 4.5 s.")]
    monkeypatch.setattr(rules, "TYPED_NUMBERS_PENDING", frozenset({"08_01_pending"}))
    assert rules.check_typed_numbers("08_01_pending.ipynb", cells) == []  # pending
    monkeypatch.setitem(rules.TYPED_NUMBER_ALLOWED, "08_01_new", {"in 4.5 s": "a setting"})
    problems = rules.check_typed_numbers("08_01_new.ipynb", cells)
    assert len(problems) == 1 and "'FD 22.3'" in problems[0], problems
    monkeypatch.setitem(rules.TYPED_NUMBER_ALLOWED, "08_01_new", {"in 4.6 s": "stale"})
    problems = rules.check_typed_numbers("08_01_new.ipynb", cells)
    assert any("which the page no longer says" in p for p in problems), problems


def test_a_pasted_glue_needs_its_glue_call():
    cells = [_md("The model reaches FD {glue:text}`ch8_fd:.1f`.")]
    problems = rules.check_typed_numbers("08_01_new.ipynb", cells)
    assert len(problems) == 1 and "no code cell of this page glues it" in problems[0], problems
    cells.insert(
        0, _code('fd = 22.3\nfrom myst_nb import glue\n\nglue("ch8_fd", fd, display=False)')
    )
    assert rules.check_typed_numbers("08_01_new.ipynb", cells) == []


def test_glue_names_are_unique_in_the_book(book):
    assert rules.check_glue_names(book) == []
    path = next(p for p in rules.notebooks(book) if p.name == "02_01_ddpm_vs_flow.ipynb")
    nb = json.loads(path.read_text())
    nb["cells"].append(_code('tl.claims.glue("a1_sc_mulaw", 0.0)'))  # appendix A.1's name
    _save(path, nb)
    assert "glues 'a1_sc_mulaw', which" in _problems(book)


def test_typed_numbers_pending_and_allowed_chapters_exist():
    """The pending set and the allowlist name real chapters (a renamed chapter must not slip
    out of the rule)."""
    stems = {p.stem for p in rules.notebooks()}
    assert rules.TYPED_NUMBERS_PENDING <= stems
    assert set(rules.TYPED_NUMBER_ALLOWED) <= stems
    assert all(reason.strip() for a in rules.TYPED_NUMBER_ALLOWED.values() for reason in a.values())
