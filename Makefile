# Two entry points: `make run` and `make test`. Both create the environment first.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: run test install index bench clean

install: $(STAMP)

# Reinstall only when the dependency files change. The constraints file pins every
# transitive package, so a fresh machine gets exactly what CI tested.
$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[test]'
	touch $(STAMP)

# Incremental: with nothing changed this embeds nothing and returns in about a second.
index: install
	$(PY) -m pipeline build seeds --index index

run: index
	$(PY) chat_app.py --index index

test: install
	$(PY) -m pytest

bench: install
	$(PY) -m pip install --quiet -c constraints.txt -e '.[test,bench]'
	$(PY) benchmarks/run_all.py

clean:
	rm -rf $(VENV) index/current index/gen-* index/.lock
