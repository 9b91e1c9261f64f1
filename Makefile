# Two entry points: `make run` and `make test`. Both create the environment first.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: run test test-fast install index bench bench-scale clean browser ocr real-pdfs

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

# `make run` serves seeds/ from index/; `make run DOCS=path/to/folder` indexes and serves your own
# folder, in an index of its own (index-<folder name>/), so switching folders rebuilds nothing twice.
DOCS  ?= seeds
INDEX ?= $(if $(filter seeds,$(DOCS)),index,index-$(notdir $(abspath $(DOCS))))

# Incremental: with nothing changed this embeds nothing and returns in about a second. Exit status 1
# means files were skipped (listed with their reasons); the rest is indexed and served.
index: install
	$(PY) -m pipeline build $(DOCS) --index $(INDEX) || [ $$? -eq 1 ]

run: index
	$(PY) chat_app.py --index $(INDEX)

# The browser test drives Debian's chromium; as root (CI) it is installed here, elsewhere the
# test says it is skipped and why.
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || \
		echo "chromium is not installed and cannot be installed here: the browser test will be skipped"

# PDFs nobody here wrote, for tests/test_real_pdfs.py: documentation shipped in Debian packages,
# downloaded and unpacked into .cache/ (nothing is installed); without apt the test says it is skipped.
REAL_PDFS := .cache/real-pdfs
real-pdfs:
	@test -d $(REAL_PDFS)/usr || { mkdir -p $(REAL_PDFS)/debs && cd $(REAL_PDFS)/debs && \
		apt-get download libtasn1-doc shared-mime-info ghostscript-doc >/dev/null 2>&1 && \
		for f in *.deb; do dpkg-deb -x $$f ..; done && rm -rf ../debs; } || \
		{ rm -rf $(REAL_PDFS); echo "could not download Debian's documentation PDFs: tests/test_real_pdfs.py will be skipped"; }

test: install browser real-pdfs
	$(PY) -m ruff check pipeline chat_app.py
	$(PY) -m ruff format --check pipeline chat_app.py
	$(PY) -m mypy
	$(PY) -m pytest

# The tests that load no model and start no engine (-m "not slow"); for the edit-test loop.
test-fast: install
	$(PY) -m pytest -m "not slow" -q -n 2 --dist loadfile

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
