# icl-synth: `make book` builds the book, `make test` runs the tests. Both set up .venv first.
#
#   make book                              demo profile (offline), executed notebooks + HTML book
#   make book PROFILE=paper                the write-up's settings (GPU, downloads, released TabICL)
#   make book PARAMS=my-params.yaml        any papermill parameters, e.g. dataset, data_root, seed
#   make book JOBS=1                       one notebook at a time (default 2, each on one torch thread)
#   make test                              unit tests + papermill smoke run of every notebook
#   make rehearse                          every chapter in the paper profile, sizes shrunk, offline stand-ins
#                                          (random-weight DINOv2 and TabICL, CIFAR-10/Imagenette from ../shared)
#
# Executed notebooks land in executed/, figures in figures/, the HTML in _build/html/.
# A notebook is re-executed only when it, the package, a recorded result or the parameters changed.

PYTHON ?= python3
PROFILE ?= demo
# notebooks executed side by side; with more than one, each is pinned to one torch thread so they never
# oversubscribe the cores (JOBS=1: one at a time, torch's own thread count)
JOBS ?= 2
PARAMS ?=
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
NOTEBOOKS := $(sort $(wildcard nbs/*.ipynb))
EXECUTED := $(patsubst nbs/%,executed/%,$(NOTEBOOKS))
PACKAGE := $(wildcard icl_support/*.py icl_support/*/*.py icl_support/weights/*)
RECORDED := $(wildcard results/*.json)

.PHONY: book test lint setup notebooks clean constraints rehearse FORCE

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[book,dev]"
	touch $@

# The parameters of this build; rewritten only when they change, so make sees the change.
executed/params.yml: FORCE
	@mkdir -p executed
	@{ echo "profile: $(PROFILE)"; if [ -n "$(PARAMS)" ]; then cat "$(PARAMS)"; fi; } > $@.new
	@if cmp -s $@.new $@; then rm $@.new; else mv $@.new $@; fi

PIN := $(if $(filter 1,$(JOBS)),,OMP_NUM_THREADS=1 MKL_NUM_THREADS=1)

executed/%.ipynb: nbs/%.ipynb $(PACKAGE) $(RECORDED) executed/params.yml $(STAMP)
	$(PIN) $(PY) -m icl_support.book.run_notebook $< $@ -s executed/params.yml

# Chapters 4-6 read chapter 3's cached LGM images: run them after it, so two jobs never compute the same
# artefact. The timing chapters (2 and 7) run last, one after the other and alone, with torch's own thread count,
# so their seconds are what a user pays. (Order only: a notebook is not re-run because another one was.)
TIMING := executed/02_inference_time.ipynb executed/07_performance.ipynb
$(TIMING): private PIN :=
executed/04_one_per_class.ipynb executed/05_context_strategies.ipynb executed/06_beyond.ipynb: | executed/03_distillation.ipynb
executed/02_inference_time.ipynb: | $(filter-out $(TIMING),$(EXECUTED))
executed/07_performance.ipynb: | executed/02_inference_time.ipynb

notebooks: $(EXECUTED)

book: $(STAMP)
	$(MAKE) -j$(JOBS) notebooks
	$(VENV)/bin/jupyter-book build --all -W -n --keep-going .
	@echo "book: $(CURDIR)/_build/html/index.html"

test: $(STAMP)
	$(PY) -m pytest -ra

REHEARSAL ?= /tmp/icl-rehearsal
rehearse: $(STAMP)
	$(PY) -m icl_support.book.rehearsal --work $(REHEARSAL) --out $(REHEARSAL)/report.json

lint: $(STAMP)
	$(VENV)/bin/ruff check icl_support tests scripts benchmarks
	$(VENV)/bin/ruff format --check icl_support tests scripts benchmarks

constraints: $(STAMP)
	$(PY) -m pip freeze --exclude-editable | grep -v '^icl-support' > constraints.txt

clean:
	rm -rf _build executed figures
