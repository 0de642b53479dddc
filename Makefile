# Two commands do all set-up on a fresh clone:
#   make book   -> .venv, the package and its dependencies, the HTML book (TUTORIAL_MODE=book)
#   make test   -> the same set-up, lint, unit tests, every notebook (fast), rendered-book browser test
# Other targets: make student (solutions hidden), make lint, make format, make clean, make help.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
JB     := $(BIN)/jupyter-book build book --warningiserror --nitpick --keep-going

export PYTHONDONTWRITEBYTECODE := 1

.PHONY: help setup book student student-fast test lint format unit notebooks book-fast browser-test clean

help:
	@echo "make book     set up .venv and build the HTML book (executes every notebook, book mode)"
	@echo "make test     set up .venv, then lint, unit tests, every notebook (fast mode), browser test"
	@echo "make student  the student edition of the book (solutions hidden)"
	@echo "make lint     ruff check + format check;  make format  apply ruff format/fixes"
	@echo "make clean    remove build output and caches (keeps .venv)"

setup: $(STAMP)

# The stamp is rebuilt when the dependency list changes.
$(STAMP): pyproject.toml scripts/install-torch.sh
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	scripts/install-torch.sh $(PY)
	$(PY) -m pip install --quiet -e ".[dev]"
	$(PY) -m ipykernel install --sys-prefix --name python3 >/dev/null
	@touch $(STAMP)

book: $(STAMP)
	TUTORIAL_MODE=$${TUTORIAL_MODE:-book} TUTORIAL_STATIC_WIDGETS=1 $(JB)
	@echo "The HTML book is in book/_build/html/ (open book/_build/html/index.html)"

student: $(STAMP)
	$(PY) scripts/student_config.py book/_build/student_config.yml
	TUTORIAL_MODE=$${TUTORIAL_MODE:-book} TUTORIAL_STATIC_WIDGETS=1 $(JB) \
		--config book/_build/student_config.yml --path-output book/_build/student
	@echo "The student edition is in book/_build/student/_build/html/"

lint: $(STAMP)
	$(BIN)/ruff check src tests book benchmarks scripts
	$(BIN)/ruff format --check src tests book benchmarks scripts

format: $(STAMP)
	$(BIN)/ruff check --fix src tests book benchmarks scripts
	$(BIN)/ruff format src tests book benchmarks scripts

unit: $(STAMP)
	TUTORIAL_MODE=fast $(BIN)/pytest tests --ignore=tests/browser

notebooks: $(STAMP)
	TUTORIAL_MODE=fast $(BIN)/pytest --nbmake --nbmake-timeout=300 --durations=0 -p no:cacheprovider \
		$$(find book -name '*.ipynb' -not -path '*/_build/*' -not -path '*/.ipynb_checkpoints/*' | sort)

book-fast: $(STAMP)
	TUTORIAL_MODE=fast TUTORIAL_STATIC_WIDGETS=1 $(JB) --path-output book/_build/fast

# The student edition in fast mode, reusing the fast build's executed notebooks.
student-fast: book-fast
	$(PY) scripts/student_config.py book/_build/student_fast_config.yml book/_build/fast/_build/.jupyter_cache
	TUTORIAL_MODE=fast TUTORIAL_STATIC_WIDGETS=1 $(JB) \
		--config book/_build/student_fast_config.yml --path-output book/_build/student-fast

browser-test: book-fast student-fast
	$(BIN)/pytest -p no:cacheprovider tests/browser \
		--html-dir book/_build/fast/_build/html \
		--student-html-dir book/_build/student-fast/_build/html

test: lint unit notebooks browser-test
	@echo "make test: all checks passed"

clean:
	rm -rf book/_build .pytest_cache .ruff_cache
	find . -name __pycache__ -not -path './$(VENV)/*' -prune -exec rm -rf {} +
