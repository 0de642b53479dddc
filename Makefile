# Two commands do all set-up on a fresh clone:
#   make book   -> .venv, the package and its dependencies, MathJax, the HTML book (TUTORIAL_MODE=book)
#   make test   -> the same set-up, lint, unit tests, every notebook (fast), rendered-book browser test
# Other targets: make student (solutions hidden), make lint, make format, make clean, make help.

PYTHON ?= python3
VENV   := .venv
# A venv keeps its programs in bin/, or in Scripts/ on Windows (make from Git Bash or MSYS2).
BIN    := $(VENV)/$(if $(filter Windows_NT,$(OS)),Scripts,bin)
PY     := $(BIN)/python
STAMP  := $(VENV)/.installed
JB     := $(BIN)/jupyter-book build book --warningiserror --nitpick --keep-going
# Runs a command and measures every notebook kernel it starts (time, peak memory); fails when
# a notebook goes over its mode's budget (tutorial_lib.config.BUDGETS).
BUDGET  = $(PY) scripts/notebook_budget.py

export PYTHONDONTWRITEBYTECODE := 1

.PHONY: help setup serve book chapter student student-fast test lint format unit notebooks book-fast browser-test browser-test-book clean

help:
	@echo "make book     set up .venv and build the HTML book (executes every notebook, book mode)"
	@echo "make test     set up .venv, then lint, unit tests, every notebook (fast mode), browser test"
	@echo "make chapter NB=book/03_waveform_unet/03_01_waveform_unet.ipynb  one chapter alone"
	@echo "make student  the student edition of the book (solutions hidden)"
	@echo "make lint     ruff check + format check;  make format  apply ruff format/fixes"
	@echo "make serve    serve the built book at http://127.0.0.1:8000/ (the live panels need HTTP)"
	@echo "make clean    remove build output and caches (keeps .venv)"

# MathJax is fetched once into .cache/mathjax/ (git ignores it; sha512 pinned in the script):
# the built book serves it from its own _static/, so its math renders with no network.
# ONNX Runtime Web (chapter 3's live panel) likewise, with `npm ci` on package.json and
# package-lock.json, into .cache/onnxruntime-web/. A second run finds both and does nothing.
setup: $(STAMP)
	@$(PY) scripts/fetch_mathjax.py --quiet
	@$(PY) scripts/fetch_onnxruntime_web.py --quiet

# The stamp is rebuilt when the dependency list changes.
$(STAMP): pyproject.toml requirements-nodeps.txt scripts/install-torch.sh
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	scripts/install-torch.sh $(PY)
	$(PY) -m pip install --quiet -e ".[dev]"
	$(PY) -m pip install --quiet --no-deps -r requirements-nodeps.txt
	$(PY) -m ipykernel install --sys-prefix --name python3 >/dev/null
	@touch $(STAMP)

MODE ?= $(if $(TUTORIAL_MODE),$(TUTORIAL_MODE),book)

# Each build gets a config with its own execution cache (scripts/book_config.py says why).
book: setup
	$(PY) scripts/book_config.py book/_build/config-$(MODE).yml --mode $(MODE)
	TUTORIAL_MODE=$(MODE) TUTORIAL_STATIC_WIDGETS=1 $(BUDGET) --mode $(MODE) \
		--report book/_build/budget-$(MODE).json -- $(JB) --config book/_build/config-$(MODE).yml
	@echo "The HTML book ($(MODE) mode) is in book/_build/html/ (open book/_build/html/index.html)"

# One chapter alone (with the introduction and bibliography), in book/_build/chapter/.
# Cross-references to other chapters are left unresolved, so warnings are not errors here.
chapter: setup
	@test -n "$(NB)" || { echo "usage: make chapter NB=book/03_waveform_unet/03_01_waveform_unet.ipynb [TUTORIAL_MODE=fast]"; exit 2; }
	$(PY) scripts/book_config.py book/_build/config-$(MODE).yml --mode $(MODE) \
		--chapter $(NB) --toc book/_build/toc-chapter.yml
	TUTORIAL_MODE=$(MODE) TUTORIAL_STATIC_WIDGETS=1 $(BUDGET) --mode $(MODE) \
		--report book/_build/budget-chapter.json -- $(BIN)/jupyter-book build book --keep-going \
		--config book/_build/config-$(MODE).yml --toc $(CURDIR)/book/_build/toc-chapter.yml \
		--path-output book/_build/chapter
	@echo "The chapter is in book/_build/chapter/_build/html/ (open its index.html)"

student: setup
	$(PY) scripts/book_config.py book/_build/config-student-$(MODE).yml --mode $(MODE) --student
	TUTORIAL_MODE=$(MODE) TUTORIAL_STATIC_WIDGETS=1 $(JB) \
		--config book/_build/config-student-$(MODE).yml --path-output book/_build/student
	@echo "The student edition is in book/_build/student/_build/html/"

lint: $(STAMP)
	$(BIN)/ruff check src tests book benchmarks scripts
	$(BIN)/ruff format --check src tests book benchmarks scripts

format: $(STAMP)
	$(BIN)/ruff check --fix src tests book benchmarks scripts
	$(BIN)/ruff format src tests book benchmarks scripts

unit: $(STAMP)
	TUTORIAL_MODE=fast TUTORIAL_STRICT_REFERENCES=1 $(BIN)/pytest tests --ignore=tests/browser

# Sliders run as their static twin here, as in the book builds: live ipywidgets under nbclient
# sometimes hold a cell's reply until the cell timeout (nbclient#312, nbconvert#2029; seen
# here as chapter 1 taking 310 s instead of 9 s in 2 of 4 clean runs). The interactive path
# is tested in tests/test_widgets.py.
notebooks: $(STAMP)
	TUTORIAL_MODE=fast TUTORIAL_STATIC_WIDGETS=1 $(BUDGET) --mode fast \
		--report book/_build/budget-notebooks.json -- \
		$(BIN)/pytest --nbmake --nbmake-timeout=300 --durations=0 -p no:cacheprovider \
		$$(find book -name '*.ipynb' -not -path '*/_build/*' -not -path '*/.ipynb_checkpoints/*' | sort)

book-fast: setup
	$(PY) scripts/book_config.py book/_build/config-fast.yml --mode fast
	TUTORIAL_MODE=fast TUTORIAL_STATIC_WIDGETS=1 $(BUDGET) --mode fast \
		--report book/_build/budget-book-fast.json -- $(JB) --config book/_build/config-fast.yml \
		--path-output book/_build/fast

# The student edition in fast mode, reusing the fast build's executed notebooks.
student-fast: book-fast
	$(PY) scripts/book_config.py book/_build/config-student-fast.yml --mode fast --student
	TUTORIAL_MODE=fast TUTORIAL_STATIC_WIDGETS=1 $(JB) --config book/_build/config-student-fast.yml \
		--path-output book/_build/student-fast

browser-test: book-fast student-fast
	$(BIN)/pytest -p no:cacheprovider tests/browser \
		--html-dir book/_build/fast/_build/html \
		--student-html-dir book/_build/student-fast/_build/html

# What a reader of the website sees: the book-mode pages of `make book`, in the browser, with
# the level check on every player (run by CI after `make book`).
browser-test-book:
	@test -f book/_build/html/index.html || { echo "browser-test-book: run 'make book' first"; exit 2; }
	$(BIN)/pytest -p no:cacheprovider tests/browser/test_rendered_book.py tests/browser/test_levels.py \
		--html-dir book/_build/html

test: lint unit notebooks browser-test
	@echo "make test: all checks passed"

# The built book over HTTP (browsers run no WebAssembly from file:// pages). PORT=8001 to change.
PORT ?= 8000
SERVE_DIR ?= book/_build/html
serve:
	@$(if $(wildcard $(PY)),$(PY),$(PYTHON)) scripts/serve_book.py $(SERVE_DIR) --port $(PORT)

clean:
	rm -rf book/_build .pytest_cache .ruff_cache
	find . -name __pycache__ -not -path './$(VENV)/*' -prune -exec rm -rf {} +
