# Two entry points: `make run` and `make test`. Both create the environment first.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: run test test-fast install index bench bench-scale clean browser ocr

install: $(STAMP) ocr

# OCR for scanned PDFs and images: Debian's Tesseract with German and English, installed where this
# runs as root (CI); elsewhere builds list scanned files as skipped, with the command that installs it.
ocr:
	@command -v tesseract >/dev/null 2>&1 && tesseract --list-langs 2>/dev/null | grep -qx deu || \
		{ [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && apt-get update -qq && \
		  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tesseract-ocr tesseract-ocr-deu tesseract-ocr-eng >/dev/null; } || \
		echo "Tesseract (OCR) is not installed and cannot be installed here: scanned PDFs and images will be skipped"

# Reinstall only when the dependency files change. The constraints file pins every
# transitive package, so a fresh machine gets exactly what CI tested.
$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[test,langchain,onnx]'
	$(PY) -m pipeline.native
	touch $(STAMP)

# Incremental: with nothing changed this embeds nothing and returns in about a second.
index: install
	$(PY) -m pipeline build seeds --index index

run: index
	$(PY) chat_app.py --index index

# The browser test drives Debian's chromium; as root (CI) it is installed here, elsewhere the
# test says it is skipped and why.
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || \
		echo "chromium is not installed and cannot be installed here: the browser test will be skipped"

test: install browser
	$(PY) -m ruff check pipeline chat_app.py
	$(PY) -m pytest

# The tests that load no model and start no engine (-m "not slow"); for the edit-test loop.
test-fast: install
	$(PY) -m pytest -m "not slow" -q

bench: install
	$(PY) -m pip install --quiet -c constraints.txt -e '.[test,langchain,bench]'
	$(PY) benchmarks/run_all.py

# All three corpus sizes, the 1M one included (about an hour on 2 cores, ~10 GB in /tmp while it runs);
# `make bench` measures 10k and 100k and keeps the last 1M figures in benchmarks/SCALE.md.
bench-scale: install
	$(PY) -m pip install --quiet -c constraints.txt -e '.[test,bench]'
	$(PY) benchmarks/scale.py --sizes 10k,100k,1M

clean:
	rm -rf $(VENV) index/current index/gen-* index/.lock
